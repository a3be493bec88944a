import Detection
import Testing
@testable import Messaging

@Suite struct InfluxTests {
    /// Each numeric field becomes its own series keyed `measurement,tags field`, timestamps in ns.
    @Test func oneSeriesPerNumericField() {
        let (points, summary) = parse("cpu,host=web01,region=eu usage_user=12.5,usage_system=3 1700000000000000000", format: .influx)
        #expect(points == [
            Point(key: "cpu,host=web01,region=eu usage_user", timestamp: 1_700_000_000, value: 12.5),
            Point(key: "cpu,host=web01,region=eu usage_system", timestamp: 1_700_000_000, value: 3),
        ])
        #expect(summary.records == 1 && summary.rejected == 0)
    }

    /// Tags are sorted by key in the series key, so tag order on the wire does not split a series.
    @Test func tagsSorted() {
        let (a, _) = parse("cpu,region=eu,host=web01 u=1 1700000000000000000", format: .influx)
        let (b, _) = parse("cpu,host=web01,region=eu u=1 1700000000000000000", format: .influx)
        #expect(a.map(\.key) == ["cpu,host=web01,region=eu u"])
        #expect(a.map(\.key) == b.map(\.key))
    }

    /// Integers (`12i`, `7u`) count, strings and booleans are skipped without being errors.
    @Test func valueTypes() {
        let line = #"m,t=a i=12i,u=7u,f=-1.5e2,s="a b, c=\"d\"",b=true,B=F 1700000000000000001"#
        let (points, summary) = parse(line, format: .influx)
        #expect(points.map(\.value) == [12, 7, -150])
        #expect(points.map(\.key) == ["m,t=a i", "m,t=a u", "m,t=a f"])
        #expect(summary.skipped == 3 && summary.rejected == 0)
        #expect(abs(points[0].timestamp - 1_700_000_000.000000001) < 1e-6)
    }

    /// Escaped commas, spaces and equals signs stay escaped in the key and do not split it.
    @Test func escapes() {
        let (points, summary) = parse(#"disk\ io,path=/var\,x,dev\=n=sd\ a read\ bytes=5 1700000000000000000"#, format: .influx)
        #expect(summary.rejected == 0)
        #expect(points.map(\.key) == [#"disk\ io,dev\=n=sd\ a,path=/var\,x read\ bytes"#])
    }

    /// A line without timestamp takes the receive time; a record with only string fields is skipped, not rejected.
    @Test func optionalTimestampAndNonNumericRecord() {
        let (points, summary) = parse("m v=1\nm s=\"x\"", format: .influx, receivedAt: 1_750_000_000)
        #expect(points == [Point(key: "m v", timestamp: 1_750_000_000, value: 1)])
        #expect(summary.records == 2 && summary.skipped == 1 && summary.rejected == 0)
    }

    /// Another precision divides timestamps accordingly.
    @Test func precision() {
        var parser = PayloadParser(format: .influx, influxPrecision: .milliseconds)
        var points: [Point] = []
        _ = parser.parse("m v=1 1700000000250", receivedAt: now, into: &points)
        #expect(points.first?.timestamp == 1_700_000_000.25)
    }

    /// Missing fields, bad values, unterminated strings, tags without values and junk timestamps are malformed.
    @Test func malformed() {
        let lines = ["cpu", "cpu ", "cpu v=", "cpu v=abc", "cpu v=\"open", "cpu,host v=1", "cpu,=x v=1",
                     "cpu v=1 12ab", "cpu v=1 1 2", ",t=a v=1", "cpu =1", "cpu v=1i2"]
        let (points, summary) = parse(lines.joined(separator: "\n"), format: .influx)
        #expect(points.isEmpty)
        #expect(summary.malformed == lines.count)
    }

    /// A negative timestamp is a bad timestamp, not malformed.
    @Test func negativeTimestamp() {
        let (_, summary) = parse("cpu v=1 -5", format: .influx)
        #expect(summary.badTimestamp == 1)
    }
}
