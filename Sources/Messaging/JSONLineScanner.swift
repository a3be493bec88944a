// A small hand-written scanner for one flat JSON object per line: Foundation's JSONSerialization per record
// would cost more than everything else on the ingest path.
import Detection

/// Scans `{"series":…,"value":…,"ts":…}` (aliases `key`/`metric`, `timestamp`/`time`), skipping other members.
struct JSONLineScanner {
    let p: UnsafePointer<UInt8>
    var i: Int
    let end: Int

    /// What one line yielded.
    enum Outcome {
        /// A point; the key is `p[keyStart..<keyEnd]` unless escapes made `decodedKey` necessary.
        case point(keyStart: Int, keyEnd: Int, decodedKey: [UInt8]?, value: Double, timestamp: Double?)
        case malformed
        case invalidUTF8
        case nonFinite
        case badTimestamp
    }

    private enum Member { case series, value, timestamp, other }

    private mutating func skipBlanks() {
        while i < end {
            let c = p[i]
            guard c == ASCII.space || c == ASCII.tab || c == ASCII.cr || c == ASCII.newline else { return }
            i += 1
        }
    }

    /// Scans a string starting at its opening quote; returns its raw content range and whether it has escapes.
    private mutating func scanString() -> (start: Int, end: Int, escaped: Bool)? {
        guard i < end, p[i] == ASCII.quote else { return nil }
        i += 1
        let start = i
        var escaped = false
        while i < end {
            let c = p[i]
            if c == ASCII.quote {
                i += 1
                return (start, i - 1, escaped)
            }
            if c == ASCII.backslash {
                escaped = true
                i += 2
                continue
            }
            if c < 0x20 { return nil }
            i += 1
        }
        return nil
    }

    /// Scans a bare token (number, literal) up to a delimiter.
    private mutating func scanBare() -> (start: Int, end: Int)? {
        let start = i
        while i < end {
            let c = p[i]
            if c == ASCII.comma || c == ASCII.closeBrace || c == ASCII.closeBracket || c == ASCII.space
                || c == ASCII.tab || c == ASCII.cr { break }
            i += 1
        }
        return i > start ? (start, i) : nil
    }

    /// Skips any JSON value (nested objects and arrays included); false when malformed.
    private mutating func skipValue() -> Bool {
        guard i < end else { return false }
        switch p[i] {
        case ASCII.quote:
            return scanString() != nil
        case ASCII.openBrace, ASCII.openBracket:
            var depth = 0
            while i < end {
                let c = p[i]
                if c == ASCII.quote {
                    guard scanString() != nil else { return false }
                    continue
                }
                if c == ASCII.openBrace || c == ASCII.openBracket { depth += 1 }
                if c == ASCII.closeBrace || c == ASCII.closeBracket {
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return true
                    }
                }
                i += 1
            }
            return false
        default:
            return scanBare() != nil
        }
    }

    private func isLiteral(_ s: Int, _ e: Int, _ word: StaticString) -> Bool {
        guard e - s == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for k in 0..<(e - s) where p[s + k] != w[k] { return false }
        return true
    }

    private func member(_ s: Int, _ e: Int) -> Member {
        switch e - s {
        case 2: return isLiteral(s, e, "ts") ? .timestamp : .other
        case 3: return isLiteral(s, e, "key") ? .series : .other
        case 4: return isLiteral(s, e, "time") ? .timestamp : .other
        case 5: return isLiteral(s, e, "value") ? .value : .other
        case 6: return isLiteral(s, e, "series") || isLiteral(s, e, "metric") ? .series : .other
        case 9: return isLiteral(s, e, "timestamp") ? .timestamp : .other
        default: return .other
        }
    }

    mutating func scanPoint() -> Outcome {
        skipBlanks()
        guard i < end, p[i] == ASCII.openBrace else { return .malformed }
        i += 1
        var key: (start: Int, end: Int, escaped: Bool)?
        var value: Double?
        var valueIsNull = false
        var timestamp: Double?
        var timestampBad = false
        skipBlanks()
        if i < end && p[i] == ASCII.closeBrace { return .malformed }
        while true {
            skipBlanks()
            guard let name = scanString() else { return .malformed }
            skipBlanks()
            guard i < end, p[i] == ASCII.colon else { return .malformed }
            i += 1
            skipBlanks()
            guard i < end else { return .malformed }
            switch name.escaped ? .other : member(name.start, name.end) {
            case .series:
                guard let s = scanString() else { return .malformed }
                key = s
            case .value:
                // Only a JSON number is a number: "5" (a string) is not, nor 0x1p3, +5 or 05.
                guard p[i] != ASCII.quote, let t = scanBare() else { return .malformed }
                if isLiteral(t.start, t.end, "null") {
                    valueIsNull = true
                } else if let word = nonFiniteWord(p, t.start, t.end) {
                    value = word  // NaN, Infinity: not JSON either, but counted as what they mean
                } else {
                    guard isJSONNumber(p, t.start, t.end), let v = parseDouble(p, t.start, t.end) else { return .malformed }
                    value = v
                }
            case .timestamp:
                // A JSON number of Unix seconds, or an ISO-8601 string (JSON has no time type); not a number in a string.
                if p[i] == ASCII.quote {
                    guard let s = scanString(), !s.escaped else { return .malformed }
                    if let t = ISO8601.parse(p, s.start, s.end, timeRequired: true) {
                        timestamp = t
                    } else {
                        timestampBad = true
                    }
                } else {
                    guard let t = scanBare() else { return .malformed }
                    if !isLiteral(t.start, t.end, "null") {
                        guard isJSONNumber(p, t.start, t.end), let v = parseDouble(p, t.start, t.end) else { return .malformed }
                        timestamp = v
                    }
                }
            case .other:
                guard skipValue() else { return .malformed }
            }
            skipBlanks()
            guard i < end else { return .malformed }
            if p[i] == ASCII.comma {
                i += 1
                continue
            }
            guard p[i] == ASCII.closeBrace else { return .malformed }
            i += 1
            break
        }
        skipBlanks()
        guard i == end, let key else { return .malformed }
        guard value != nil || valueIsNull else { return .malformed }
        var decoded: [UInt8]?
        if key.escaped {
            switch Self.unescape(p, key.start, key.end) {
            case .bytes(let bytes): decoded = bytes
            case .malformed: return .malformed
            case .invalidUTF8: return .invalidUTF8
            }
        }
        if timestampBad { return .badTimestamp }
        guard let value else { return .nonFinite }
        return .point(keyStart: key.start, keyEnd: key.end, decodedKey: decoded, value: value, timestamp: timestamp)
    }

    enum Unescaped {
        case bytes([UInt8])
        case malformed
        case invalidUTF8
    }

    /// Decodes the escapes of a JSON string's raw content into UTF-8 bytes.
    static func unescape(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Unescaped {
        var out = [UInt8]()
        out.reserveCapacity(end - start)
        var i = start
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= end else { return nil }
            var v: UInt32 = 0
            for k in 0..<4 {
                let c = p[at + k]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: return nil
                }
                v = v << 4 | d
            }
            return v
        }
        while i < end {
            let c = p[i]
            guard c == ASCII.backslash else {
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < end else { return .malformed }
            let e = p[i + 1]
            i += 2
            switch e {
            case ASCII.quote, ASCII.backslash, ASCII.slash: out.append(e)
            case 0x62: out.append(0x08)  // b
            case 0x66: out.append(0x0C)  // f
            case 0x6E: out.append(0x0A)  // n
            case 0x72: out.append(0x0D)  // r
            case 0x74: out.append(0x09)  // t
            case 0x75:  // u
                guard var scalar = hex4(i) else { return .malformed }
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    guard i + 6 <= end, p[i] == ASCII.backslash, p[i + 1] == 0x75, let low = hex4(i + 2),
                          low >= 0xDC00 && low <= 0xDFFF else { return .invalidUTF8 }
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                    return .invalidUTF8
                }
                guard let u = Unicode.Scalar(scalar) else { return .invalidUTF8 }
                out.append(contentsOf: String(Character(u)).utf8)
            default:
                return .malformed
            }
        }
        return .bytes(out)
    }
}
