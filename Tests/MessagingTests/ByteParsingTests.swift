import Testing
import Detection
@testable import Messaging

@Suite struct ByteParsingTests {
    func iso(_ text: String) -> Double? {
        Array(text.utf8).withUnsafeBufferPointer { b in ISO8601.parse(b.baseAddress!, 0, b.count, timeRequired: true) }
    }

    /// ISO-8601 accepts Z, offsets with and without colon, no zone (UTC), fractions and a space separator.
    @Test func iso8601Variants() {
        #expect(iso("2023-11-14T22:13:20Z") == 1_700_000_000)
        #expect(iso("2023-11-14T22:13:20") == 1_700_000_000)
        #expect(iso("2023-11-14 22:13:20.250Z") == 1_700_000_000.25)
        #expect(iso("2023-11-15T00:13:20+02:00") == 1_700_000_000)
        #expect(iso("2023-11-14T20:13:20-0200") == 1_700_000_000)
        #expect(iso("2024-02-29T00:00:00Z") == 1_709_164_800)
        #expect(iso("1969-12-31T23:59:59Z") == -1)
    }

    /// Impossible dates, missing parts and trailing junk are refused.
    @Test func iso8601Rejects() {
        for text in ["2023-02-29T00:00:00Z", "2023-11-14", "2023-11-14T24:00:00Z", "2023-11-14T22:13:20Zx",
                     "2023-11-14T22:13:20.Z", "2023-1-14T22:13:20Z", "2023-11-14T22:13:20+2", ""] {
            #expect(iso(text) == nil, "\(text)")
        }
    }

    /// Formatting and parsing are inverse for whole and millisecond times.
    @Test func formatRoundTrip() {
        for t in [0.0, 1_700_000_000, 1_700_000_000.125, 951_782_400, 4_102_444_800] {
            #expect(iso(CivilCalendar.iso8601(t, fractionDigits: 3)) == t)
        }
        #expect(CivilCalendar.iso8601(1_700_000_000, fractionDigits: 3) == "2023-11-14T22:13:20Z")
    }

    /// Error excerpts replace control characters so a record cannot forge log lines.
    @Test func excerptSanitised() {
        let (_, summary) = parse("bad\u{1B}[31m\tline x y z", format: .graphite)
        #expect(summary.samples.first?.excerpt == "bad?[31m?line x y z")
    }
}
