// The one reader of ISO-8601 times and the one duration grammar: the wire formats, the CSV reader, the config
// file and the CLI's --since/--until all read times and durations through these.

/// Reads ISO-8601 / RFC 3339 times into Unix seconds.
public enum ISO8601 {
    /// Unix seconds for exactly `p[start..<end]`, or nil when malformed or impossible (2023-02-29, 25:00).
    ///
    /// `YYYY-MM-DD[(T|t| )HH:MM[:SS[(.|,)fraction]][Z|z|±HH[[:]MM]]]`; no zone means UTC. With `timeRequired`
    /// (the wire formats) the time and its seconds must be there.
    public static func parse(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, timeRequired: Bool = false)
        -> Double? {
        var i = start
        func number(_ width: Int) -> Int? {
            guard i + width <= end else { return nil }
            var v = 0
            for k in 0..<width {
                let d = p[i + k] &- 0x30
                guard d < 10 else { return nil }
                v = v * 10 + Int(d)
            }
            i += width
            return v
        }
        func skip(_ c: UInt8) -> Bool {
            guard i < end, p[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = number(4), skip(0x2D), let month = number(2), skip(0x2D), let day = number(2),
              (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        var seconds = CivilCalendar.days(year: year, month: month, day: day) * 86_400
        if i == end { return timeRequired ? nil : Double(seconds) }
        guard skip(0x54) || skip(0x74) || skip(0x20) else { return nil }  // T t space
        guard let hour = number(2), skip(0x3A), let minute = number(2), hour <= 23, minute <= 59 else { return nil }
        seconds += hour * 3600 + minute * 60
        var fraction = 0.0
        if skip(0x3A) {
            guard let second = number(2), second <= 60 else { return nil }
            seconds += second
            if skip(0x2E) || skip(0x2C) {  // . or ,
                // The digits as one integer over a power of ten: "250" is exactly 0.25, whatever its length.
                var numerator: UInt64 = 0, denominator: UInt64 = 1
                let first = i
                while i < end, p[i] &- 0x30 < 10 {
                    if denominator < 1_000_000_000_000_000_000 {
                        numerator = numerator * 10 + UInt64(p[i] &- 0x30)
                        denominator *= 10
                    }
                    i += 1
                }
                guard i > first else { return nil }
                fraction = Double(numerator) / Double(denominator)
            }
        } else if timeRequired {
            return nil
        }
        if i < end {
            if p[i] == 0x5A || p[i] == 0x7A {  // Z z
                i += 1
            } else if p[i] == 0x2B || p[i] == 0x2D {  // + -
                let sign = p[i] == 0x2D ? -1 : 1
                i += 1
                guard let offsetHours = number(2), offsetHours <= 23 else { return nil }
                var offsetMinutes = 0
                if i < end {
                    _ = skip(0x3A)
                    guard let m = number(2), m <= 59 else { return nil }
                    offsetMinutes = m
                }
                // 10:00+02:00 is 08:00 UTC.
                seconds -= sign * (offsetHours * 3600 + offsetMinutes * 60)
            } else {
                return nil
            }
        }
        guard i == end else { return nil }
        return Double(seconds) + fraction
    }

    /// Unix seconds for `text` (surrounding spaces ignored), or nil; see `parse(_:_:_:timeRequired:)`.
    public static func parse(_ text: String, timeRequired: Bool = false) -> Double? {
        var text = text
        return text.withUTF8 { b in
            guard let base = b.baseAddress else { return nil }
            var start = 0, end = b.count
            while start < end, b[start] == 0x20 || b[start] == 0x09 { start += 1 }
            while end > start, b[end - 1] == 0x20 || b[end - 1] == 0x09 { end -= 1 }
            return parse(base, start, end, timeRequired: timeRequired)
        }
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

/// Durations as omen.toml and the CLI write them: "250ms", "90s", "15m", "1.5h", "7d", "2w", sums such as
/// "1h30m", or a bare number of seconds ("90").
public enum DurationText {
    /// Units, longest suffix first so "ms" is not read as "m".
    private static let units: [(suffix: String, seconds: Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800),
    ]

    /// Seconds in `text` (surrounding spaces ignored), or nil when malformed. Each term is digits with an optional
    /// fraction (`1.5`, not `.5` or `5.`) and a unit; only a lone number may go without one.
    public static func parse(_ text: String) -> Double? {
        var rest = Substring(text.drop(while: { $0 == " " }))
        while rest.last == " " { rest.removeLast() }
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        var terms = 0
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
            guard !digits.isEmpty, digits.first != ".", digits.last != ".", digits.filter({ $0 == "." }).count <= 1,
                  let x = Double(digits), x.isFinite else { return nil }
            rest = rest.dropFirst(digits.count)
            terms += 1
            if rest.isEmpty {
                guard terms == 1 else { return nil }  // "1h30" is not a duration
                return x
            }
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            // Divide for milliseconds so that "250ms" is exactly 0.25 (0.001 has no exact binary form).
            total += unit.seconds < 1 ? x / (1 / unit.seconds).rounded() : x * unit.seconds
        }
        return total
    }

    /// Seconds in the largest unit up to days that expresses them exactly: 0.25 → "250ms", 3600 → "1h", 0 → "0s".
    public static func format(_ seconds: Double) -> String {
        if seconds == 0 { return "0s" }
        for unit in units.reversed() where unit.suffix != "w" {
            let n = seconds / unit.seconds
            if n >= 1, n == n.rounded() { return "\(Int64(n))\(unit.suffix)" }
        }
        return "\(seconds)s"
    }
}
