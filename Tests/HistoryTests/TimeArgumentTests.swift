import Testing
@testable import History

@Suite struct TimeArgumentTests {
    let now = 1_795_773_600.0  // 2026-11-27T10:00:00Z

    /// Durations count back from now, in every documented unit, with decimals and sums.
    @Test func durationsCountBackFromNow() throws {
        #expect(try TimeArgument.parse("90s", now: now) == now - 90)
        #expect(try TimeArgument.parse("15m", now: now) == now - 900)
        #expect(try TimeArgument.parse("24h", now: now) == now - 86_400)
        #expect(try TimeArgument.parse("7d", now: now) == now - 604_800)
        #expect(try TimeArgument.parse("2w", now: now) == now - 1_209_600)
        #expect(try TimeArgument.parse("1.5h", now: now) == now - 5_400)
        #expect(try TimeArgument.parse("1h30m", now: now) == now - 5_400)
        #expect(try TimeArgument.parse(" 15m ", now: now) == now - 900)
        #expect(try TimeArgument.parse("now", now: now) == now)
    }

    /// A bare number is a Unix timestamp in seconds.
    @Test func unixTimestamps() throws {
        #expect(try TimeArgument.parse("1764237600", now: now) == 1_764_237_600)
        #expect(try TimeArgument.parse("1764237600.25", now: now) == 1_764_237_600.25)
    }

    /// ISO-8601 times with Z, offsets, fractions, a space separator, or a bare date; no zone means UTC.
    @Test func iso8601Times() throws {
        #expect(try TimeArgument.parse("2026-11-27T10:00:00Z", now: 0) == 1_795_773_600)
        #expect(try TimeArgument.parse("2026-11-27T10:00:00", now: 0) == 1_795_773_600)
        #expect(try TimeArgument.parse("2026-11-27 10:00", now: 0) == 1_795_773_600)
        #expect(try TimeArgument.parse("2026-11-27T10:00:00.5Z", now: 0) == 1_795_773_600.5)
        #expect(try TimeArgument.parse("2026-11-27T10:00:00+02:00", now: 0) == 1_795_766_400)
        #expect(try TimeArgument.parse("2026-11-27T10:00:00+0200", now: 0) == 1_795_766_400)
        #expect(try TimeArgument.parse("2026-11-27T08:00:00-02", now: 0) == 1_795_773_600)
        #expect(try TimeArgument.parse("2026-11-27", now: 0) == 1_795_737_600)
        #expect(try TimeArgument.parse("2024-02-29T23:59:59Z", now: 0) == 1_709_251_199)
    }

    /// Malformed or out-of-range text is an error whose message lists the accepted forms.
    @Test func rejectsMalformedTimes() {
        for text in ["", "yesterday", "15", "15x", "m", "1h30", "-5m", "2026-13-01", "2026-02-30", "2025-02-29",
                     "2026-11-27T25:00:00Z", "2026-11-27T10:00:00Q", "2026-11-27T10", "1.2.3", "1..5h"] {
            if text == "15" { continue }  // a bare number is a (very old) timestamp, tested above
            #expect(throws: TimeArgumentError(text: text)) { try TimeArgument.parse(text, now: 0) }
        }
        #expect(TimeArgumentError(text: "x").description.contains("24h"))
        #expect(TimeArgumentError(text: "x").description.contains("2026-11-27T10:00:00Z"))
    }

    /// Formatting gives whole-second UTC ISO-8601, and parsing it back gives the same second.
    @Test func formatsAndRoundTripsISO8601() throws {
        #expect(TimeArgument.formatISO8601(1_795_773_600) == "2026-11-27T10:00:00Z")
        #expect(TimeArgument.formatISO8601(1_795_773_600.9) == "2026-11-27T10:00:00Z")
        #expect(TimeArgument.formatISO8601(0) == "1970-01-01T00:00:00Z")
        #expect(TimeArgument.formatISO8601(-1) == "1969-12-31T23:59:59Z")
        #expect(TimeArgument.formatISO8601(.nan) == "-")
        var seconds = -86_400.0 * 800
        for _ in 0..<400 {
            let text = TimeArgument.formatISO8601(seconds)
            #expect(try TimeArgument.parse(text, now: 0) == seconds, "\(text)")
            seconds += 86_400 * 37 + 3_601
        }
    }
}
