import Detection
import Foundation
import Messaging

/// Measurements of the wire-format parsers and of a bare PUB → SUB ingest (no detection).
public enum MessagingBenchmark {
    /// Records per second `PayloadParser` parses (median of `runs`), `recordsPerPayload` records per payload,
    /// over `series` distinct keys; `autodetect` parses without a pinned format.
    public static func parseRecordsPerSecond(format: WireFormat, records: Int = 200_000, recordsPerPayload: Int = 100,
                                             series: Int = 1_000, autodetect: Bool = false, runs: Int = 5) -> Double {
        let start = 1_700_000_000.0
        var rng = SplitMix64(seed: 7)
        let points = (0..<max(1, records)).map { i in
            Point(key: "bench.host\(i % max(1, series)).cpu.user", timestamp: start + Double(i / max(1, series)),
                  value: (Double.random(in: 0..<100, using: &rng) * 1000).rounded() / 1000)
        }
        let payloads = PointEncoder(format: format).messages(points, recordsPerMessage: max(1, recordsPerPayload))
        var parser = PayloadParser(format: autodetect ? nil : format)
        var out: [Point] = []
        out.reserveCapacity(recordsPerPayload * 2)
        var rates: [Double] = []
        for _ in 0..<max(1, runs) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var parsed = 0
            for payload in payloads {
                out.removeAll(keepingCapacity: true)
                parsed += parser.parse(payload, receivedAt: start + 1e6, into: &out).points
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            rates.append(Double(parsed) / max(seconds, 1e-9))
        }
        rates.sort()
        return rates[rates.count / 2]
    }

    /// Points per second through a real PUB → SUB over `tcp://127.0.0.1` and `PayloadParser` on the receiving
    /// thread: graphite payloads of `recordsPerMessage` records over `series` keys, sent by another thread.
    /// Returns the points parsed per second, counted from the first to the last message received.
    public static func ingestPointsPerSecond(messages: Int = 20_000, recordsPerMessage: Int = 100,
                                             series: Int = 10_000) throws(ZMQError) -> Double {
        let context = try ZMQContext()
        defer { context.terminate() }
        let sub = try ZMQSocket(context: context, type: .sub)
        defer { sub.close() }
        try sub.setReceiveHighWaterMark(0)
        try sub.subscribe()
        try sub.bind("tcp://127.0.0.1:*")
        guard let endpoint = sub.lastEndpoint else { throw ZMQError(code: EINVAL, operation: "read the bound endpoint") }
        let start = 1_700_000_000.0
        let points = (0..<(recordsPerMessage * 64)).map { i in
            Point(key: "bench.host\(i % Swift.max(1, series)).cpu", timestamp: start + Double(i), value: Double(i % 97) + 0.5)
        }
        let payloads = PointEncoder(format: .graphite).messages(points, recordsPerMessage: recordsPerMessage)
        let joined = BenchFlag()
        let sender = Thread {
            do {
                let pub = try ZMQSocket(context: context, type: .pub)
                defer { pub.close() }
                try pub.setSendHighWaterMark(0)
                try pub.setLinger(milliseconds: 10_000)
                try pub.connect(endpoint)
                // Slow joiner: probe until the subscriber has seen one message, then send the measured run.
                for _ in 0..<5_000 where !joined.isSet {
                    try pub.send(frames: [Array("probe".utf8), []])
                    usleep(1_000)
                }
                for k in 0..<messages { try pub.send(frames: [payloads[k % payloads.count]]) }
                try pub.send(frames: [Array("end".utf8), []])
            } catch {
                joined.set()
            }
        }
        sender.start()
        let buffer = ZMQMessageBuffer()
        var parser = PayloadParser(format: .graphite)
        var out: [Point] = []
        out.reserveCapacity(recordsPerMessage)
        var parsed = 0
        var first: UInt64 = 0
        var last: UInt64 = 0
        try sub.setReceiveTimeout(milliseconds: 10_000)
        while try sub.receive(into: buffer) > 0 {
            if buffer.frameCount == 2 {
                if buffer.frame(0).elementsEqual("end".utf8) { break }
                joined.set()
                continue
            }
            if first == 0 { first = DispatchTime.now().uptimeNanoseconds }
            out.removeAll(keepingCapacity: true)
            parsed += parser.parse(buffer.lastFrame, receivedAt: start + 1e6, into: &out).points
            last = DispatchTime.now().uptimeNanoseconds
        }
        return last > first ? Double(parsed) / (Double(last - first) / 1e9) : 0
    }
}

/// A flag one thread sets and another polls (benchmark hand-shake).
private final class BenchFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }

    func set() { lock.withLock { value = true } }
}
