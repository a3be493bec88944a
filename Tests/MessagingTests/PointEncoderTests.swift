import Detection
import Foundation
import Testing
@testable import Messaging

@Suite struct PointEncoderTests {
    static let points = [
        Point(key: "web01.cpu.user", timestamp: 1_700_000_000, value: 12.5),
        Point(key: "b", timestamp: 1_700_000_000.25, value: -0.001),
        Point(key: "c", timestamp: 1_700_000_001, value: 123_456_789),
    ]

    /// What an encoder writes, the parser reads back unchanged (graphite, json), or with influx's field key.
    @Test(arguments: [WireFormat.graphite, .json, .influx])
    func roundTrip(format: WireFormat) {
        let messages = PointEncoder(format: format).messages(Self.points, recordsPerMessage: 2)
        #expect(messages.count == 2)
        var parser = PayloadParser(format: format)
        var points: [Point] = []
        for message in messages { #expect(parser.parse(message, receivedAt: now, into: &points).rejected == 0) }
        let keys = format == .influx ? Self.points.map { $0.key + " value" } : Self.points.map(\.key)
        #expect(points.map(\.key) == keys)
        #expect(points.map(\.value) == Self.points.map(\.value))
        for (a, b) in zip(points, Self.points) { #expect(abs(a.timestamp - b.timestamp) < 1e-6) }
    }

    /// Influx keys in Omen's `series field` form are written back to the same key; JSON keys are escaped.
    @Test func keysSurvive() {
        let awkward = [Point(key: #"cpu,host=a\ b usage_user"#, timestamp: 1_700_000_000, value: 1),
                       Point(key: "q\"uote\\ é/\u{1F600}", timestamp: 1_700_000_000, value: 2)]
        for (format, point) in [(WireFormat.influx, awkward[0]), (.json, awkward[1]), (.json, awkward[0])] {
            var bytes: [UInt8] = []
            PointEncoder(format: format).append(point, to: &bytes)
            let (points, _) = parse(String(decoding: bytes, as: UTF8.self), format: format)
            #expect(points.map(\.key) == [point.key])
        }
    }

    /// ESTP output is a gauge line the ESTP parser accepts.
    @Test func estpGauge() {
        var bytes: [UInt8] = []
        PointEncoder(format: .estp).append(Point(key: "h:a:r:m", timestamp: 1_764_237_600, value: 3), to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "ESTP:h:a:r:m: 2025-11-27T10:00:00Z 0 3\n")
        #expect(parse(String(decoding: bytes, as: UTF8.self), format: .estp).0.map(\.value) == [3])
    }
}

@Suite struct DemoGeneratorTests {
    /// The demo data is deterministic, time-major, and has its injected anomalies where it says.
    @Test func deterministicWithInjections() throws {
        let a = Array(DemoGenerator(series: 3, points: 100, interval: 10, start: 1_700_000_000, seed: 1))
        let b = Array(DemoGenerator(series: 3, points: 100, interval: 10, start: 1_700_000_000, seed: 1))
        #expect(a == b && a.count == 300)
        #expect(a.prefix(3).map(\.key) == ["demo.sine.0", "demo.walk.1", "demo.constant.2"])
        let generator = DemoGenerator(series: 3, points: 100, interval: 10, start: 1_700_000_000, seed: 1)
        #expect(generator.injections.map(\.kind) == ["spike", "level shift"])
        let spike = try #require(generator.injections.first)
        let sine = a.filter { $0.key == "demo.sine.0" }.map(\.value)
        #expect(sine[spike.index] - sine[spike.index - 1] > 20)
        #expect(a.filter { $0.key == "demo.constant.2" }.allSatisfy { $0.value == 42 })
    }

    /// Lines read from a file descriptor come out in batches of whole lines, the last one completed with a newline.
    @Test func lineBatches() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let text = "a 1\nb 2\nc 3\nd 4\ne 5"
        _ = text.withCString { write(fds[1], $0, strlen($0)) }
        close(fds[1])
        var reader = LineBatchReader(fd: fds[0], linesPerBatch: 2)
        var batches: [String] = []
        while let batch = try reader.next() { batches.append(String(decoding: batch.payload, as: UTF8.self)) }
        close(fds[0])
        #expect(batches == ["a 1\nb 2\n", "c 3\nd 4\n", "e 5\n"])
    }
}
