// A reader for the subset of TOML that omen.toml uses. It exists because no available TOML package
// reports the line of a bad *value*, and an operator needs that line to fix a config that stops the start.
//
// Supported: comments, `[table]`, `[[array.of.tables]]`, dotted and quoted names, `key = value` with basic
// strings (with escapes), literal strings, integers (with underscores), floats (incl. inf/nan), booleans, and
// arrays of those (possibly spanning lines, with comments and a trailing comma). Not supported, and rejected
// with a sentence saying so: multi-line strings, inline tables, dates, hex/octal/binary integers.

/// One TOML value and the line it starts on.
struct TOMLValue: Equatable {
    enum Kind: Equatable {
        case string(String)
        case integer(Int64)
        /// The source text is kept so that a `Float` field can be rounded once from the decimal, not via Double.
        case float(Double, text: String)
        case bool(Bool)
        case array([TOMLValue])
    }

    var kind: Kind
    /// 1-based line.
    var line: Int

    /// The value as it would be written in TOML, for "got …" in error messages.
    var rendered: String {
        switch kind {
        case .string(let s): return TOMLValue.quoted(s)
        case .integer(let i): return String(i)
        case .float(_, let text): return text
        case .bool(let b): return b ? "true" : "false"
        case .array(let items): return "[" + items.map(\.rendered).joined(separator: ", ") + "]"
        }
    }

    /// The TOML type name, for "must be …, got a table" style messages.
    var typeName: String {
        switch kind {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a float"
        case .bool: return "a boolean"
        case .array: return "an array"
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// One `key = value` line.
struct TOMLEntry: Equatable {
    /// The key as written, dotted parts joined with ".".
    var key: String
    var line: Int
    var value: TOMLValue
}

/// One `[table]` or one element of `[[array]]`, with its entries in file order. The root (keys before any
/// header) has an empty path.
struct TOMLSection: Equatable {
    var path: [String]
    var isArrayElement: Bool
    /// Line of the header; 0 for the root.
    var line: Int
    var entries: [TOMLEntry] = []

    var name: String { path.joined(separator: ".") }
}

/// A parsed file: its sections in order of appearance.
struct TOMLDocument: Equatable {
    var sections: [TOMLSection]
}

/// Parses TOML text; every error carries the line it was found on.
struct TOMLParser {
    private let bytes: [UInt8]
    private let file: String
    private var index = 0
    private var line = 1
    /// Arrays open around the value being read: nesting is refused past `maxArrayDepth` (each level is a frame of
    /// the recursive reader; libFuzzer overflowed the stack with 9,000 `[`).
    private var arrayDepth = 0
    static let maxArrayDepth = 32

    init(text: String, file: String) {
        self.bytes = Array(text.utf8)
        self.file = file
    }

    static func parse(_ text: String, file: String) throws(ConfigError) -> TOMLDocument {
        var parser = TOMLParser(text: text, file: file)
        return try parser.document()
    }

    // MARK: - Document structure

    private mutating func document() throws(ConfigError) -> TOMLDocument {
        var sections = [TOMLSection(path: [], isArrayElement: false, line: 0)]
        // Headers already seen, to reject a table defined twice or used both as [t] and [[t]].
        var tableHeaders: [String: Int] = [:]
        var arrayHeaders: [String: Int] = [:]
        var keysInSection: [String: Int] = [:]

        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        while true {
            skipBlank()
            guard let byte = peek() else { break }
            switch byte {
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try newline()
            case UInt8(ascii: "#"):
                try comment()
            case UInt8(ascii: "["):
                let headerLine = line
                let isArray = peek(1) == UInt8(ascii: "[")
                index += isArray ? 2 : 1
                skipBlank()
                let path = try keyPath()
                skipBlank()
                try expect("]", "a table header must end with ]")
                if isArray { try expect("]", "an array-of-tables header must end with ]]") }
                try endOfLine(after: "the table header")
                let name = path.joined(separator: ".")
                if isArray {
                    if let first = tableHeaders[name] {
                        throw error(.duplicate, line: headerLine, key: name,
                                    "[[\(name)]] conflicts with [\(name)] on line \(first); use one form only")
                    }
                    arrayHeaders[name] = arrayHeaders[name] ?? headerLine
                } else {
                    if let first = tableHeaders[name] {
                        throw error(.duplicate, line: headerLine, key: name,
                                    "table [\(name)] is already defined on line \(first); merge the two")
                    }
                    if let first = arrayHeaders[name] {
                        throw error(.duplicate, line: headerLine, key: name,
                                    "[\(name)] conflicts with [[\(name)]] on line \(first); use one form only")
                    }
                    tableHeaders[name] = headerLine
                }
                sections.append(TOMLSection(path: path, isArrayElement: isArray, line: headerLine))
                keysInSection = [:]
            default:
                let keyLine = line
                let key = try keyPath().joined(separator: ".")
                let sectionName = sections[sections.count - 1].name
                let fullKey = sectionName.isEmpty ? key : sectionName + "." + key
                let value: TOMLValue
                do {
                    skipBlank()
                    try expect("=", "expected = after the key \(TOMLParser.displayKey(key))")
                    skipBlank()
                    value = try self.value()
                    try endOfLine(after: "the value")
                } catch {
                    // Name the key whose value is malformed, as the type and range errors do.
                    var located = error
                    located.key = located.key ?? fullKey
                    throw located
                }
                if let first = keysInSection[key] {
                    throw error(.duplicate, line: keyLine, key: fullKey,
                                "is already set on line \(first); remove one of the two")
                }
                keysInSection[key] = keyLine
                sections[sections.count - 1].entries.append(TOMLEntry(key: key, line: keyLine, value: value))
            }
        }
        return TOMLDocument(sections: sections)
    }

    // MARK: - Keys

    /// `a.b."c d".'e'`, stopping before whatever follows the last part.
    private mutating func keyPath() throws(ConfigError) -> [String] {
        var parts: [String] = []
        while true {
            skipBlank()
            parts.append(try simpleKey())
            skipBlank()
            if peek() == UInt8(ascii: ".") {
                index += 1
                continue
            }
            return parts
        }
    }

    private mutating func simpleKey() throws(ConfigError) -> String {
        guard let byte = peek() else {
            throw error(.syntax, line: line, key: nil, "expected a key at the end of the file")
        }
        if byte == UInt8(ascii: "\"") {
            index += 1
            return try basicStringBody()
        }
        if byte == UInt8(ascii: "'") {
            index += 1
            return try literalStringBody()
        }
        let start = index
        while let b = peek(), TOMLParser.isBareKeyByte(b) { index += 1 }
        if start == index {
            throw error(.syntax, line: line, key: nil,
                        "expected a key (letters, digits, _ and -) but found \(describe(byte))")
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private static func isBareKeyByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    static func displayKey(_ key: String) -> String { "'\(key)'" }

    // MARK: - Values

    private mutating func value() throws(ConfigError) -> TOMLValue {
        let valueLine = line
        guard let byte = peek(), byte != UInt8(ascii: "\n"), byte != UInt8(ascii: "\r"), byte != UInt8(ascii: "#") else {
            throw error(.syntax, line: valueLine, key: nil, "expected a value after =")
        }
        switch byte {
        case UInt8(ascii: "\""):
            if peek(1) == UInt8(ascii: "\""), peek(2) == UInt8(ascii: "\"") {
                throw error(.syntax, line: valueLine, key: nil,
                            "multi-line strings (\"\"\") are not supported; write the string on one line")
            }
            index += 1
            return TOMLValue(kind: .string(try basicStringBody()), line: valueLine)
        case UInt8(ascii: "'"):
            if peek(1) == UInt8(ascii: "'"), peek(2) == UInt8(ascii: "'") {
                throw error(.syntax, line: valueLine, key: nil,
                            "multi-line strings (''') are not supported; write the string on one line")
            }
            index += 1
            return TOMLValue(kind: .string(try literalStringBody()), line: valueLine)
        case UInt8(ascii: "["):
            index += 1
            return try array(startLine: valueLine)
        case UInt8(ascii: "{"):
            throw error(.syntax, line: valueLine, key: nil,
                        "inline tables ({ … }) are not supported; use a [table] or [[array]] header instead")
        default:
            return try bareValue(line: valueLine)
        }
    }

    private mutating func array(startLine: Int) throws(ConfigError) -> TOMLValue {
        arrayDepth += 1
        defer { arrayDepth -= 1 }
        guard arrayDepth <= Self.maxArrayDepth else {
            throw error(.syntax, line: startLine, key: nil,
                        "arrays nested more than \(Self.maxArrayDepth) deep")
        }
        var items: [TOMLValue] = []
        while true {
            try skipArrayFiller(startLine: startLine)
            if peek() == UInt8(ascii: "]") {
                index += 1
                return TOMLValue(kind: .array(items), line: startLine)
            }
            items.append(try value())
            try skipArrayFiller(startLine: startLine)
            guard let byte = peek() else { break }
            if byte == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if byte == UInt8(ascii: "]") {
                index += 1
                return TOMLValue(kind: .array(items), line: startLine)
            }
            throw error(.syntax, line: line, key: nil,
                        "expected , or ] in the array but found \(describe(byte))")
        }
        throw error(.syntax, line: startLine, key: nil, "the array opened here is never closed with ]")
    }

    /// Whitespace, newlines and comments are allowed anywhere between array elements.
    private mutating func skipArrayFiller(startLine: Int) throws(ConfigError) {
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"): index += 1
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try newline()
            case UInt8(ascii: "#"): try comment()
            default: return
            }
        }
        throw error(.syntax, line: startLine, key: nil, "the array opened here is never closed with ]")
    }

    /// Numbers, booleans, inf and nan: everything up to a delimiter.
    private mutating func bareValue(line valueLine: Int) throws(ConfigError) -> TOMLValue {
        let start = index
        while let b = peek(), !TOMLParser.isDelimiter(b) { index += 1 }
        let token = String(decoding: bytes[start..<index], as: UTF8.self)
        if token == "true" { return TOMLValue(kind: .bool(true), line: valueLine) }
        if token == "false" { return TOMLValue(kind: .bool(false), line: valueLine) }
        if let kind = TOMLParser.number(token) { return TOMLValue(kind: kind, line: valueLine) }
        if token.isEmpty, let b = peek() {
            throw error(.syntax, line: valueLine, key: nil, "expected a value but found \(describe(b))")
        }
        throw error(.syntax, line: valueLine, key: nil, TOMLParser.explainBadToken(token))
    }

    private static func isDelimiter(_ b: UInt8) -> Bool {
        b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r")
            || b == UInt8(ascii: ",") || b == UInt8(ascii: "]") || b == UInt8(ascii: "#")
    }

    private static func explainBadToken(_ token: String) -> String {
        let lower = token.lowercased()
        if lower.hasPrefix("0x") || lower.hasPrefix("0o") || lower.hasPrefix("0b") {
            return "hexadecimal, octal and binary integers are not supported; write \(token) in decimal"
        }
        if token.count >= 10, token.contains("-"), token.first?.isNumber == true {
            return "dates and times are not supported; durations are numbers of seconds or strings like \"15m\""
        }
        if token == "True" || token == "False" || token == "TRUE" || token == "FALSE" || token == "yes" || token == "no" {
            return "\(token) is not a TOML value; booleans are written true or false"
        }
        return "\(token) is not a TOML value; strings must be quoted (\"…\"), booleans are true or false"
    }

    /// TOML integers and floats: optional sign, underscores only between digits, no leading zeros.
    static func number(_ token: String) -> TOMLValue.Kind? {
        var body = Substring(token)
        var sign = ""
        if let first = body.first, first == "+" || first == "-" {
            sign = first == "-" ? "-" : ""
            body = body.dropFirst()
        }
        switch body {
        case "inf": return .float(sign == "-" ? -Double.infinity : Double.infinity, text: token)
        case "nan": return .float(Double.nan, text: token)
        default: break
        }
        // Split into integer part, fraction and exponent, checking each digit run.
        var integerPart = Substring()
        var fraction: Substring?
        var exponent: Substring?
        var rest = body
        if let e = rest.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = rest[rest.index(after: e)...]
            rest = rest[..<e]
        }
        if let dot = rest.firstIndex(of: ".") {
            fraction = rest[rest.index(after: dot)...]
            integerPart = rest[..<dot]
        } else {
            integerPart = rest
        }
        guard let intDigits = digitRun(integerPart) else { return nil }
        if intDigits.count > 1, intDigits.first == "0" { return nil }
        var normalised = sign + intDigits
        if let fraction {
            guard let digits = digitRun(fraction) else { return nil }
            normalised += "." + digits
        }
        if var exponent {
            var expSign = ""
            if let first = exponent.first, first == "+" || first == "-" {
                expSign = String(first)
                exponent = exponent.dropFirst()
            }
            guard let digits = digitRun(exponent) else { return nil }
            normalised += "e" + expSign + digits
        }
        if fraction == nil, exponent == nil {
            guard let value = Int64(normalised) else { return nil }
            return .integer(value)
        }
        guard let value = Double(normalised) else { return nil }
        return .float(value, text: token)
    }

    /// Digits with single underscores between them, returned without the underscores; nil when malformed.
    private static func digitRun(_ text: Substring) -> String? {
        var out = ""
        var previousWasDigit = false
        for ch in text {
            if ch.isASCII, ch.isNumber {
                out.append(ch)
                previousWasDigit = true
            } else if ch == "_", previousWasDigit {
                previousWasDigit = false
            } else {
                return nil
            }
        }
        return previousWasDigit ? out : nil
    }

    // MARK: - Strings

    /// After the opening quote; consumes the closing one.
    private mutating func basicStringBody() throws(ConfigError) -> String {
        let startLine = line
        var scalars = String.UnicodeScalarView()
        var runStart = index
        func flush(_ parser: TOMLParser, _ end: Int) {
            scalars.append(contentsOf: String(decoding: parser.bytes[runStart..<end], as: UTF8.self).unicodeScalars)
        }
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\""):
                flush(self, index)
                index += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush(self, index)
                index += 1
                scalars.append(try escape())
                runStart = index
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw error(.syntax, line: startLine, key: nil, "the string is not closed with \" on its line")
            default:
                if byte < 0x20 && byte != UInt8(ascii: "\t") || byte == 0x7F {
                    throw error(.syntax, line: line, key: nil,
                                "control characters must be escaped in strings (found byte \(byte))")
                }
                index += 1
            }
        }
        throw error(.syntax, line: startLine, key: nil, "the string is not closed with \" before the end of the file")
    }

    private mutating func escape() throws(ConfigError) -> Unicode.Scalar {
        guard let byte = peek() else {
            throw error(.syntax, line: line, key: nil, "the string ends in the middle of an escape")
        }
        index += 1
        switch byte {
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = byte == UInt8(ascii: "u") ? 4 : 8
            guard index + count <= bytes.count,
                  let code = UInt32(String(decoding: bytes[index..<(index + count)], as: UTF8.self), radix: 16),
                  let scalar = Unicode.Scalar(code) else {
                throw error(.syntax, line: line, key: nil,
                            "\\\(Character(Unicode.Scalar(byte))) must be followed by \(count) hex digits of a valid Unicode scalar")
            }
            index += count
            return scalar
        default:
            throw error(.syntax, line: line, key: nil,
                        "unknown escape \\\(describeRaw(byte)) in a string; allowed: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX (or use a 'literal string')")
        }
    }

    /// After the opening quote; no escapes in literal strings.
    private mutating func literalStringBody() throws(ConfigError) -> String {
        let startLine = line
        let start = index
        while let byte = peek() {
            if byte == UInt8(ascii: "'") {
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") { break }
            if byte < 0x20 && byte != UInt8(ascii: "\t") || byte == 0x7F {
                throw error(.syntax, line: line, key: nil, "control characters are not allowed in literal strings")
            }
            index += 1
        }
        throw error(.syntax, line: startLine, key: nil, "the string is not closed with ' on its line")
    }

    // MARK: - Lexical helpers

    private func peek(_ offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    private mutating func skipBlank() {
        while let b = peek(), b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") { index += 1 }
    }

    private mutating func newline() throws(ConfigError) {
        if peek() == UInt8(ascii: "\r") {
            guard peek(1) == UInt8(ascii: "\n") else {
                throw error(.syntax, line: line, key: nil, "a carriage return must be followed by a line feed")
            }
            index += 1
        }
        index += 1
        line += 1
    }

    private mutating func comment() throws(ConfigError) {
        while let b = peek(), b != UInt8(ascii: "\n"), b != UInt8(ascii: "\r") {
            if b < 0x20 && b != UInt8(ascii: "\t") || b == 0x7F {
                throw error(.syntax, line: line, key: nil, "control characters are not allowed in comments")
            }
            index += 1
        }
    }

    /// After a header or a value only blanks and a comment may follow on the line.
    private mutating func endOfLine(after what: String) throws(ConfigError) {
        skipBlank()
        if peek() == UInt8(ascii: "#") { try comment() }
        guard let byte = peek() else { return }
        if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
            try newline()
            return
        }
        throw error(.syntax, line: line, key: nil,
                    "unexpected \(describe(byte)) after \(what); put one key = value per line")
    }

    private mutating func expect(_ ch: Character, _ message: String) throws(ConfigError) {
        guard let ascii = ch.asciiValue, peek() == ascii else {
            throw error(.syntax, line: line, key: nil, message)
        }
        index += 1
    }

    private func describe(_ byte: UInt8) -> String {
        if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") { return "the end of the line" }
        return "'" + describeRaw(byte) + "'"
    }

    private func describeRaw(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return String(Character(Unicode.Scalar(byte))) }
        return "byte \(byte)"
    }

    private func error(_ kind: ConfigError.Kind, line: Int, key: String?, _ reason: String) -> ConfigError {
        ConfigError(kind: kind, file: file, line: line, key: key, reason: reason)
    }
}
