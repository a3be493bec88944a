// A series key is data, never control. Ingest refuses keys that hold control characters (a NUL was cut on its
// way into SQLite and let one key overwrite another; an escape sequence would drive the operator's terminal), and
// every human-readable listing escapes what it prints, because a database written by an older version may still
// hold such keys. Both sides use the definitions here.

/// The one rule for which characters a series key may hold, and how a key is shown on one line of text.
public enum SeriesKeyText {
    /// Unicode control characters (general category Cc): C0 U+0000–U+001F, DEL U+007F and C1 U+0080–U+009F.
    @inline(__always)
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value <= 0x9F)
    }

    /// Characters that are not controls but still reorder or break a line on a terminal: the line and paragraph
    /// separators and the bidirectional embeddings, overrides and isolates ("Trojan Source").
    @inline(__always)
    public static func isLineOrDirectionFormatting(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x2028, 0x2029, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// True when the UTF-8 bytes `p[0..<n]` hold a control character: a byte below 0x20 or 0x7F, or the two-byte
    /// form of a C1 control (0xC2 0x80–0x9F). Byte-wise, because Swift's `Character` hides `\r` inside `"\r\n"`.
    @inline(__always)
    public static func containsControl(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var i = 0
        while i < n {
            let c = p[i]
            if c < 0x20 || c == 0x7F { return true }
            if c == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F { return true }
            i += 1
        }
        return false
    }

    /// True when `key` holds a control character (see `isControl`).
    public static func containsControl(_ key: String) -> Bool {
        key.unicodeScalars.contains(where: isControl)
    }

    /// `key` for one line of a table or a log: controls become `\n`, `\r`, `\t`, `\e` or `\xHH`, C1 controls and
    /// line/direction formatting `\u{HHHH}`; everything else is kept as it is (also a backslash, so that influx
    /// keys such as `disk\ io` read as they were sent). Exact forms are in the JSON and CSV outputs.
    public static func escaped(_ key: String) -> String {
        guard key.unicodeScalars.contains(where: { isControl($0) || isLineOrDirectionFormatting($0) }) else {
            return key
        }
        var text = ""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{1B}": text += "\\e"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    text += "\\x" + hex(scalar.value, digits: 2)
                } else if isControl(scalar) || isLineOrDirectionFormatting(scalar) {
                    text += "\\u{" + hex(scalar.value, digits: 4) + "}"
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        return text
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
