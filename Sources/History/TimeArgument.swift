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
        // A bare number is a timestamp here, not a duration in seconds as in omen.toml.
        if let seconds = parseUnixSeconds(trimmed) { return seconds }
        if let duration = DurationText.parse(trimmed) { return now - duration }
        if let seconds = ISO8601.parse(trimmed) { return seconds }
        throw TimeArgumentError(text: text)
    }

    /// A plain non-negative number of seconds since the epoch (`1764237600`, `1764237600.25`).
    static func parseUnixSeconds(_ text: String) -> Double? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// `2026-11-27T10:00:00Z` (whole seconds, UTC), the form the table shows; "-" for NaN or infinity.
    public static func formatISO8601(_ seconds: Double) -> String {
        CivilCalendar.iso8601(seconds)
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
