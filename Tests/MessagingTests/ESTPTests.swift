import Detection
import Testing
@testable import Messaging

@Suite struct ESTPTests {
    /// A gauge is taken as is; the key is the four name parts; timestamps are UTC ISO-8601.
    @Test func gauge() {
        let (points, summary) = parse("ESTP:web01.example.com:cpu:0:user: 2026-11-27T10:00:00Z 10 12.5", format: .estp)
        #expect(points == [Point(key: "web01.example.com:cpu:0:user", timestamp: 1_795_773_600, value: 12.5)])
        #expect(summary.rejected == 0)
    }

    /// A counter becomes a rate per second against its previous sample, across payloads; the first sample and a reset yield none.
    @Test func counterBecomesRate() {
        var parser = PayloadParser(format: .estp)
        var points: [Point] = []
        let first = parser.parse("ESTP:h:net:eth0:rx: 2026-11-27T10:00:00 10 1000^", receivedAt: now, into: &points)
        #expect(points.isEmpty && first.skipped == 1 && first.rejected == 0)
        _ = parser.parse("ESTP:h:net:eth0:rx: 2026-11-27T10:00:10 10 1500^\nESTP:h:net:eth0:rx: 2026-11-27T10:00:20 10 100^\nESTP:h:net:eth0:rx: 2026-11-27T10:00:30 10 400^",
                         receivedAt: now, into: &points)
        #expect(points.map(\.value) == [50, 30])
        #expect(points.map(\.key) == ["h:net:eth0:rx", "h:net:eth0:rx"])
    }

    /// A derive may go down (negative rate); a delta is divided by its interval without state.
    @Test func deriveAndDelta() {
        let text = """
        ESTP:h:db:main:size: 2026-11-27T10:00:00 60 6000'
        ESTP:h:db:main:size: 2026-11-27T10:01:00 60 5400'
        ESTP:h:mail:out:sent: 2026-11-27T10:01:00 60 120+
        """
        let (points, summary) = parse(text, format: .estp)
        #expect(points.map(\.value) == [-10, 2])
        #expect(summary.skipped == 1 && summary.rejected == 0)
    }

    /// Indented extension lines after a metric line are skipped, not errors.
    @Test func extensionLines() {
        let (points, summary) = parse("ESTP:h:a:r:m: 2026-11-27T10:00:00 10 1\n :collectd type=gauge\n  unofficial", format: .estp)
        #expect(points.count == 1 && summary.skipped == 2 && summary.rejected == 0)
    }

    /// Wrong part counts, missing colons, bad times and bad values are malformed.
    @Test func malformed() {
        let text = """
        ESTP:h:a:r: 2026-11-27T10:00:00 10 1
        ESTP:h:a:r:m 2026-11-27T10:00:00 10 1
        ESTP:h:a:r:m: 2026-13-27T10:00:00 10 1
        ESTP:h:a:r:m: 2026-02-30T10:00:00 10 1
        ESTP:h:a:r:m: 2026-11-27T10:00:00 10 x
        ESTP:h:a:r:m: 2026-11-27T10:00:00 10
        ESTP:h:a:r:m: 2026-11-27T10:00:00 0 5+
        """
        let (points, summary) = parse(text, format: .estp)
        #expect(points.isEmpty)
        #expect(summary.malformed == 7)
    }
}
