import Detection
import Testing
@testable import Messaging

@Suite struct GraphiteTests {
    /// A plain `key value timestamp` record yields that point.
    @Test func plainRecord() {
        let (points, summary) = parse("web01.cpu.user 12.5 1700000000\n", format: .graphite)
        #expect(points == [Point(key: "web01.cpu.user", timestamp: 1_700_000_000, value: 12.5)])
        #expect(summary.points == 1 && summary.records == 1 && summary.rejected == 0)
    }

    /// Fractional timestamps, exponents, negative values, CRLF and tabs are accepted.
    @Test func edgeForms() {
        let (points, summary) = parse("a.b -1.5e3 1700000000.25\r\nc\t2\t1700000001\n  d 0.000001 1700000002  ", format: .graphite)
        #expect(summary.rejected == 0)
        #expect(points.map(\.key) == ["a.b", "c", "d"])
        #expect(points[0].value == -1500 && points[0].timestamp == 1_700_000_000.25)
        #expect(points[2].value == 0.000001)
    }

    /// A record without timestamp takes the receive time.
    @Test func missingTimestampUsesReceiveTime() {
        let (points, _) = parse("x 1", format: .graphite, receivedAt: 1_750_000_000.5)
        #expect(points.first?.timestamp == 1_750_000_000.5)
    }

    /// Missing value, bad numbers and extra fields are malformed; blank and comment lines are ignored.
    @Test func malformedLines() {
        let (points, summary) = parse("onlykey\nk abc 1\nk 1 2 3\nk 1 12x\n\n# comment\nk 1e 1\n", format: .graphite)
        #expect(points.isEmpty)
        #expect(summary.malformed == 5)
        #expect(summary.samples.map(\.line) == [1, 2, 3, 4, 7])
    }

    /// Long decimal mantissas are parsed exactly like the standard library does.
    @Test func numberParsingMatchesStandardLibrary() {
        let texts = ["0.1", "123456789012345678901234567890", "3.141592653589793238", "1e-320", "9007199254740993",
                     "2.2250738585072014e-308", "-0", "1.7976931348623157e308", ".5", "5.", "+7"]
        for text in texts {
            let (points, summary) = parse("k \(text) 1", format: .graphite)
            #expect(summary.points == 1, "\(text)")
            #expect(points.first?.value == Double(text), "\(text)")
        }
    }
}
