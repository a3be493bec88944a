import Detection
import Testing

/// The one ISO-8601 reader and the one duration grammar the wire formats, the CSV reader, omen.toml and the CLI use.
@Suite struct TimeTextTests {
    /// Dates, times with and without seconds, fractions, `Z` and offsets with or without a colon or minutes.
    @Test func iso8601Forms() {
        #expect(ISO8601.parse("2026-11-27") == 1_795_737_600)
        #expect(ISO8601.parse("2026-11-27 10:00") == 1_795_773_600)
        #expect(ISO8601.parse("2026-11-27t10:00:00z") == 1_795_773_600)
        #expect(ISO8601.parse("2014-04-01 00:00:00.250") == 1_396_310_400.25)
        #expect(ISO8601.parse("2014-04-01T00:00:00,5Z") == 1_396_310_400.5)
        #expect(ISO8601.parse("2026-11-27T10:00:00+02:00") == 1_795_766_400)
        #expect(ISO8601.parse("2026-11-27T10:00:00+0200") == 1_795_766_400)
        #expect(ISO8601.parse("2026-11-27T08:00:00-02") == 1_795_773_600)
        #expect(ISO8601.parse("  2024-02-29T23:59:59Z ") == 1_709_251_199)
        #expect(ISO8601.parse("1969-12-31T23:59:59Z") == -1)
    }

    /// Impossible dates and times, missing or extra parts are refused; `timeRequired` also refuses a bare date or
    /// a time without seconds.
    @Test func iso8601Rejects() {
        for text in ["", "2023-02-29", "2026-13-01", "2026-11-27T24:00", "2026-11-27T10", "2026-11-27T10:00:00Q",
                     "2026-11-27T10:00:00.", "2026-11-27T10:00:00+2", "2026-1-27", "2026-11-27 junk", "1396310400"] {
            #expect(ISO8601.parse(text) == nil, "\(text)")
        }
        #expect(ISO8601.parse("2026-11-27", timeRequired: true) == nil)
        #expect(ISO8601.parse("2026-11-27T10:00", timeRequired: true) == nil)
        #expect(ISO8601.parse("2026-11-27T10:00:00", timeRequired: true) == 1_795_773_600)
    }

    /// Durations: units from ms to w, decimals, sums, and a lone number of seconds; "250ms" is exactly 0.25.
    @Test func durations() {
        let cases: [(String, Double)] = [
            ("250ms", 0.25), ("90s", 90), ("15m", 900), ("1.5h", 5400), ("7d", 604_800), ("2w", 1_209_600),
            ("1h30m", 5400), (" 60s ", 60), ("90", 90), ("0", 0),
        ]
        for (text, seconds) in cases { #expect(DurationText.parse(text) == seconds, "\(text)") }
    }

    /// Malformed durations are refused.
    @Test(arguments: ["", "ms", "fast", "5 m", "-1s", ".5s", "5.s", "1e3s", "s5", "1h30", "1..5h", "15x", "1y"])
    func malformedDurations(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    /// Formatting picks the largest unit up to days that is exact.
    @Test func formatsDurations() {
        #expect(DurationText.format(0.25) == "250ms")
        #expect(DurationText.format(3600) == "1h")
        #expect(DurationText.format(604_800) == "7d")
        #expect(DurationText.format(0) == "0s")
    }
}
