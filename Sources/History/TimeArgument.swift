import Detection
/// Why a `--since`/`--until` argument could not be read.
public struct TimeArgumentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text as the user typed it.
    public var text: String

    public init(text: String) { self.text = text }

    public var description: String {
        "cannot read '\(text)' as a time; use a duration back from now (90s, 15m, 24h, 7d, 2w, 1h30m), "
            + "a Unix timestamp (1764237600), an ISO-8601 time (2026-11-27T10:00:00Z), or now"
    }
}

/// Reads and writes the times the CLI takes and shows: durations back from now, Unix seconds and ISO-8601.
public enum TimeArgument {
    /// Seconds since the Unix epoch for `text`, taking durations as "that long before `now`".
    ///
    /// ISO-8601 times without a zone are read as UTC, so a query means the same on every host.
    public static func parse(_ text: String, now: Double) throws(TimeArgumentError) -> Double {
        let trimmed = text.trimmingWhitespace
        if trimmed == "now" { return now }
        if let duration = parseDuration(trimmed) { return now - duration }
        if let seconds = parseUnixSeconds(trimmed) { return seconds }
        if let seconds = parseISO8601(trimmed) { return seconds }
        throw TimeArgumentError(text: text)
    }

    /// `90s`, `15m`, `24h`, `7d`, `2w`, decimals (`1.5h`) and sums (`1h30m`), in seconds; nil if not a duration.
    public static func parseDuration(_ text: String) -> Double? {
        var total = 0.0
        var number = ""
        var sawUnit = false
        for character in text {
            if character.isASCII, character.isNumber || character == "." {
                number.append(character)
                continue
            }
            guard let value = Double(number), value.isFinite else { return nil }
            let unit: Double
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3_600
            case "d": unit = 86_400
            case "w": unit = 604_800
            default: return nil
            }
            total += value * unit
            number = ""
            sawUnit = true
        }
        // A trailing bare number ("90") is a timestamp, not a duration.
        guard sawUnit, number.isEmpty else { return nil }
        return total
    }

    /// A plain non-negative number of seconds since the epoch (`1764237600`, `1764237600.25`).
    static func parseUnixSeconds(_ text: String) -> Double? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// `YYYY-MM-DD[(T| )hh:mm[:ss[.fff]]][Z|±hh[:]mm|±hh]`; nil when malformed or out of range.
    public static func parseISO8601(_ text: String) -> Double? {
        var scanner = Scanner(Array(text.utf8))
        guard let year = scanner.digits(exactly: 4), scanner.skip("-"),
              let month = scanner.digits(exactly: 2), scanner.skip("-"),
              let day = scanner.digits(exactly: 2) else { return nil }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else { return nil }
        var seconds = Double(CivilCalendar.days(year: year, month: month, day: day)) * 86_400
        if scanner.atEnd { return seconds }
        guard scanner.skip("T") || scanner.skip("t") || scanner.skip(" ") else { return nil }
        guard let hour = scanner.digits(exactly: 2), scanner.skip(":"),
              let minute = scanner.digits(exactly: 2), hour < 24, minute < 60 else { return nil }
        seconds += Double(hour * 3_600 + minute * 60)
        if scanner.skip(":") {
            guard let second = scanner.digits(exactly: 2), second <= 60 else { return nil }
            seconds += Double(second)
            if scanner.skip(".") || scanner.skip(",") {
                guard let fraction = scanner.fraction() else { return nil }
                seconds += fraction
            }
        }
        if scanner.atEnd || scanner.skip("Z") || scanner.skip("z") {
            return scanner.atEnd ? seconds : nil
        }
        let sign: Double
        if scanner.skip("+") { sign = 1 } else if scanner.skip("-") { sign = -1 } else { return nil }
        guard let offsetHours = scanner.digits(exactly: 2), offsetHours <= 23 else { return nil }
        var offsetMinutes = 0
        if !scanner.atEnd {
            _ = scanner.skip(":")
            guard let minutes = scanner.digits(exactly: 2), minutes < 60 else { return nil }
            offsetMinutes = minutes
        }
        guard scanner.atEnd else { return nil }
        // 10:00+02:00 is 08:00 UTC.
        return seconds - sign * Double(offsetHours * 3_600 + offsetMinutes * 60)
    }

    /// `2026-11-27T10:00:00Z` (whole seconds, UTC), the form the table shows; "-" for NaN or infinity.
    public static func formatISO8601(_ seconds: Double) -> String {
        CivilCalendar.iso8601(seconds)
    }

    private static func isLeap(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

/// A cursor over ASCII bytes for the ISO-8601 reader.
private struct Scanner {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }

    mutating func skip(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue, index < bytes.count, bytes[index] == ascii else { return false }
        index += 1
        return true
    }

    mutating func digits(exactly count: Int) -> Int? {
        guard index + count <= bytes.count else { return nil }
        var value = 0
        for offset in 0..<count {
            let byte = bytes[index + offset]
            guard byte >= 48, byte <= 57 else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        index += count
        return value
    }

    mutating func fraction() -> Double? {
        var value = 0.0
        var scale = 0.1
        let start = index
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
            value += Double(bytes[index] - 48) * scale
            scale /= 10
            index += 1
        }
        return index > start ? value : nil
    }
}

extension String {
    var trimmingWhitespace: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
