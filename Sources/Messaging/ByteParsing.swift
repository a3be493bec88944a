// Byte-level scanners shared by the wire-format parsers: numbers and UTF-8 validation (ISO-8601 times:
// Detection's `ISO8601`).
//
// They work on raw bytes of a received frame so that a payload of many records is parsed without creating a
// String per line; only series keys become Strings.

import Detection

/// ASCII codes the scanners compare against.
enum ASCII {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let hash: UInt8 = 0x23
    static let apostrophe: UInt8 = 0x27
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let colon: UInt8 = 0x3A
    static let equals: UInt8 = 0x3D
    static let upperE: UInt8 = 0x45
    static let upperT: UInt8 = 0x54
    static let upperZ: UInt8 = 0x5A
    static let backslash: UInt8 = 0x5C
    static let caret: UInt8 = 0x5E
    static let lowerE: UInt8 = 0x65
    static let lowerI: UInt8 = 0x69
    static let lowerT: UInt8 = 0x74
    static let lowerU: UInt8 = 0x75
    static let lowerZ: UInt8 = 0x7A
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
    static let openBracket: UInt8 = 0x5B
    static let closeBracket: UInt8 = 0x5D

    @inline(__always) static func isBlank(_ c: UInt8) -> Bool { c == space || c == tab }
    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- zero < 10 }
}

/// Exact powers of ten representable in a Double (10^0 … 10^22), for the fast decimal path.
private let exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

/// Parses a decimal number spanning exactly `p[start..<end]`; nil when it is not one.
///
/// Plain decimals with up to 15 significant digits and a small exponent take an exact fast path (both operands
/// are exact doubles, so one correctly rounded multiply or divide gives the correctly rounded result); anything
/// else, including `nan`, `inf` and long mantissas, goes through the standard library's correctly rounded parser.
@inline(__always)
func parseDouble(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
    var i = start
    guard i < end else { return nil }
    var negative = false
    if p[i] == ASCII.minus {
        negative = true
        i += 1
    } else if p[i] == ASCII.plus {
        i += 1
    }
    var mantissa: UInt64 = 0
    var digits = 0
    var exponent = 0
    var sawDigit = false
    while i < end {
        let d = p[i] &- ASCII.zero
        if d >= 10 { break }
        sawDigit = true
        if mantissa != 0 || d != 0 {
            if digits >= 19 { return parseDoubleSlow(p, start, end) }
            mantissa = mantissa &* 10 &+ UInt64(d)
            digits += 1
        }
        i += 1
    }
    if i < end && p[i] == ASCII.dot {
        i += 1
        while i < end {
            let d = p[i] &- ASCII.zero
            if d >= 10 { break }
            sawDigit = true
            if mantissa != 0 || d != 0 {
                if digits >= 19 { return parseDoubleSlow(p, start, end) }
                mantissa = mantissa &* 10 &+ UInt64(d)
                digits += 1
            }
            exponent -= 1
            i += 1
        }
    }
    guard sawDigit else { return parseDoubleSlow(p, start, end) }
    if i < end && (p[i] == ASCII.lowerE || p[i] == ASCII.upperE) {
        i += 1
        var expNegative = false
        if i < end && (p[i] == ASCII.minus || p[i] == ASCII.plus) {
            expNegative = p[i] == ASCII.minus
            i += 1
        }
        var e = 0
        var sawExpDigit = false
        while i < end, ASCII.isDigit(p[i]) {
            if e < 100_000 { e = e * 10 + Int(p[i] &- ASCII.zero) }
            sawExpDigit = true
            i += 1
        }
        guard sawExpDigit else { return nil }
        exponent += expNegative ? -e : e
    }
    guard i == end else { return parseDoubleSlow(p, start, end) }
    if mantissa == 0 { return negative ? -0.0 : 0.0 }
    if digits <= 15 && exponent >= -22 && exponent <= 22 {
        let m = Double(mantissa)
        let v = exponent >= 0 ? m * exactPowersOfTen[exponent] : m / exactPowersOfTen[-exponent]
        return negative ? -v : v
    }
    return parseDoubleSlow(p, start, end)
}

/// What the fast path declines: a long or out-of-range decimal goes to the standard library's correctly rounded
/// parser, and the words `nan`, `inf`, `infinity` (any case, signed) become non-finite values so they are counted
/// as such. Anything else is not a decimal number: the standard library would also read hexadecimal floats
/// (`0x1p3`) and stop at an embedded NUL (`1\0` + `2` read as 1), so its input is checked first.
private func parseDoubleSlow(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
    guard end - start <= 400 else { return nil }
    if let word = nonFiniteWord(p, start, end) { return word }
    guard isDecimalLiteral(p, start, end) else { return nil }
    let text = String(decoding: UnsafeBufferPointer(start: p + start, count: end - start), as: UTF8.self)
    return Double(text)
}

/// `[+-]` then digits with at most one `.` (at least one digit in all), then an optional `e`/`E`, sign and digits:
/// the decimal numbers the text formats accept, and nothing else (no hex, no blanks, no NUL).
func isDecimalLiteral(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
    var i = start
    if i < end && (p[i] == ASCII.minus || p[i] == ASCII.plus) { i += 1 }
    var digits = 0
    while i < end && ASCII.isDigit(p[i]) { i += 1; digits += 1 }
    if i < end && p[i] == ASCII.dot {
        i += 1
        while i < end && ASCII.isDigit(p[i]) { i += 1; digits += 1 }
    }
    guard digits > 0 else { return false }
    if i < end && (p[i] == ASCII.lowerE || p[i] == ASCII.upperE) {
        i += 1
        if i < end && (p[i] == ASCII.minus || p[i] == ASCII.plus) { i += 1 }
        var exponentDigits = 0
        while i < end && ASCII.isDigit(p[i]) { i += 1; exponentDigits += 1 }
        guard exponentDigits > 0 else { return false }
    }
    return i == end
}

/// A JSON number (RFC 8259): `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. No `+`, no leading zeros, no bare
/// `.5` or `5.`, no words.
func isJSONNumber(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
    var i = start
    if i < end && p[i] == ASCII.minus { i += 1 }
    guard i < end, ASCII.isDigit(p[i]) else { return false }
    if p[i] == ASCII.zero {
        i += 1
    } else {
        while i < end && ASCII.isDigit(p[i]) { i += 1 }
    }
    if i < end && p[i] == ASCII.dot {
        i += 1
        guard i < end, ASCII.isDigit(p[i]) else { return false }
        while i < end && ASCII.isDigit(p[i]) { i += 1 }
    }
    if i < end && (p[i] == ASCII.lowerE || p[i] == ASCII.upperE) {
        i += 1
        if i < end && (p[i] == ASCII.minus || p[i] == ASCII.plus) { i += 1 }
        guard i < end, ASCII.isDigit(p[i]) else { return false }
        while i < end && ASCII.isDigit(p[i]) { i += 1 }
    }
    return i == end
}

/// `nan`, `inf` or `infinity` in any case, optionally signed, as the value it names; nil for anything else.
func nonFiniteWord(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
    var i = start
    var negative = false
    if i < end && (p[i] == ASCII.minus || p[i] == ASCII.plus) {
        negative = p[i] == ASCII.minus
        i += 1
    }
    let n = end - i
    guard n == 3 || n == 8 else { return nil }
    var lower = [UInt8](repeating: 0, count: n)
    for k in 0..<n { lower[k] = p[i + k] | 0x20 }
    switch lower {
    case Array("nan".utf8): return .nan
    case Array("inf".utf8), Array("infinity".utf8): return negative ? -.infinity : .infinity
    default: return nil
    }
}

/// Parses an optionally signed decimal integer spanning exactly `p[start..<end]`; nil on overflow or junk.
@inline(__always)
func parseInt64(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
    var i = start
    guard i < end else { return nil }
    var negative = false
    if p[i] == ASCII.minus || p[i] == ASCII.plus {
        negative = p[i] == ASCII.minus
        i += 1
    }
    guard i < end else { return nil }
    var value: Int64 = 0
    while i < end {
        let d = p[i] &- ASCII.zero
        guard d < 10 else { return nil }
        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
        let (next, o2) = times10.addingReportingOverflow(Int64(d))
        if o1 || o2 { return nil }
        value = next
        i += 1
    }
    return negative ? -value : value
}


/// True when `p[start..<end]` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
func isValidUTF8(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
    var i = start
    while i < end {
        let b0 = p[i]
        if b0 < 0x80 {
            i += 1
            continue
        }
        @inline(__always) func cont(_ k: Int) -> Bool { i + k < end && p[i + k] & 0xC0 == 0x80 }
        if b0 >= 0xC2 && b0 <= 0xDF {
            guard cont(1) else { return false }
            i += 2
        } else if b0 >= 0xE0 && b0 <= 0xEF {
            guard cont(1), cont(2) else { return false }
            let b1 = p[i + 1]
            if b0 == 0xE0 && b1 < 0xA0 { return false }  // overlong
            if b0 == 0xED && b1 > 0x9F { return false }  // UTF-16 surrogate
            i += 3
        } else if b0 >= 0xF0 && b0 <= 0xF4 {
            guard cont(1), cont(2), cont(3) else { return false }
            let b1 = p[i + 1]
            if b0 == 0xF0 && b1 < 0x90 { return false }  // overlong
            if b0 == 0xF4 && b1 > 0x8F { return false }  // above U+10FFFF
            i += 4
        } else {
            return false
        }
    }
    return true
}

