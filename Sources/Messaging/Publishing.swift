// The library side of `omen publish` and `omen tail`: synthetic demo series, line batching, pacing, alert text.
import Detection
import Foundation

/// A small deterministic random source (SplitMix64) so demo data and benchmarks are reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal sample (Box-Muller).
    public mutating func gaussian() -> Double {
        let u1 = max(Double.random(in: 0..<1, using: &self), 1e-300)
        let u2 = Double.random(in: 0..<1, using: &self)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
}

/// Synthetic series with injected anomalies, for `omen publish --demo`, demos and end-to-end tests.
///
/// Series cycle through three shapes: `demo.sine.N` (sine + noise, one spike at 60% of the points),
/// `demo.walk.N` (random walk, a level shift at 75%) and `demo.constant.N` (constant, never anomalous).
/// Points come time-major (every series at step 0, then step 1, …), like a real collector.
public struct DemoGenerator: Sequence, IteratorProtocol, Sendable {
    /// One anomaly put into the data on purpose.
    public struct Injection: Sendable, Equatable, CustomStringConvertible {
        public var series: String
        /// "spike" or "level shift".
        public var kind: String
        /// Index of the first affected point of that series.
        public var index: Int
        public var timestamp: Double
        /// How far the value is moved.
        public var magnitude: Double

        public var description: String {
            "injected \(kind) on \(series) at point \(index) (t=\(CivilCalendar.iso8601(timestamp, fractionDigits: 0)), \(magnitude > 0 ? "+" : "")\(magnitude))"
        }
    }

    /// Series names in emission order.
    public let seriesNames: [String]
    /// Points per series.
    public let pointsPerSeries: Int
    public let interval: Double
    public let start: Double
    /// The anomalies this data set contains.
    public let injections: [Injection]

    private var rng: SplitMix64
    private var step = 0
    private var seriesIndex = 0
    private var walk: [Double]

    /// Creates `series` series of `points` points each, `interval` seconds apart from `start`.
    public init(series: Int = 3, points: Int = 2_000, interval: Double = 90, start: Double, seed: UInt64 = 42) {
        let count = Swift.max(1, series)
        let names = (0..<count).map { i in ["demo.sine", "demo.walk", "demo.constant"][i % 3] + ".\(i)" }
        seriesNames = names
        pointsPerSeries = Swift.max(0, points)
        self.interval = interval
        self.start = start
        rng = SplitMix64(seed: seed)
        walk = Array(repeating: 100, count: count)
        var injections: [Injection] = []
        let spikeAt = pointsPerSeries * 6 / 10
        let shiftAt = pointsPerSeries * 3 / 4
        for (i, name) in names.enumerated() where pointsPerSeries > 10 {
            switch i % 3 {
            case 0:
                injections.append(Injection(series: name, kind: "spike", index: spikeAt,
                                            timestamp: start + Double(spikeAt) * interval, magnitude: 40))
            case 1:
                injections.append(Injection(series: name, kind: "level shift", index: shiftAt,
                                            timestamp: start + Double(shiftAt) * interval, magnitude: 30))
            default:
                break
            }
        }
        self.injections = injections
    }

    /// Total points the sequence yields.
    public var totalPoints: Int { pointsPerSeries * seriesNames.count }

    public mutating func next() -> Point? {
        guard step < pointsPerSeries else { return nil }
        let i = seriesIndex
        let t = start + Double(step) * interval
        var value: Double
        switch i % 3 {
        case 0:
            // Phase differs per series so they are not copies of each other.
            value = 50 + 10 * Foundation.sin(2 * Double.pi * Double(step) / 100 + Double(i)) + 0.5 * rng.gaussian()
            if step == pointsPerSeries * 6 / 10 && pointsPerSeries > 10 { value += 40 }
        case 1:
            walk[i] += 0.5 * rng.gaussian()
            value = walk[i]
            if step == pointsPerSeries * 3 / 4 && pointsPerSeries > 10 { walk[i] += 30; value = walk[i] }
        default:
            value = 42
        }
        seriesIndex += 1
        if seriesIndex == seriesNames.count {
            seriesIndex = 0
            step += 1
        }
        // Four decimals keep the demo's text records short and readable.
        return Point(key: seriesNames[i], timestamp: t, value: (value * 10_000).rounded() / 10_000)
    }
}

/// Reads a file descriptor and cuts it into payloads of whole lines, `linesPerBatch` at a time.
public struct LineBatchReader {
    private let fd: Int32
    private let linesPerBatch: Int
    private var pending: [UInt8] = []
    private var atEnd = false
    private var chunk = [UInt8](repeating: 0, count: 256 * 1024)

    /// Batches lines read from `fd` (not closed here).
    public init(fd: Int32, linesPerBatch: Int) {
        precondition(linesPerBatch > 0, "linesPerBatch must be positive")
        self.fd = fd
        self.linesPerBatch = linesPerBatch
    }

    /// The next payload (lines joined by newlines, ending in one) and its line count; nil at end of input.
    public mutating func next() throws(MessagingError) -> (payload: [UInt8], lines: Int)? {
        while true {
            // Count complete lines already buffered.
            var lines = 0
            var cut = -1
            for (i, byte) in pending.enumerated() where byte == ASCII.newline {
                lines += 1
                if lines == linesPerBatch {
                    cut = i
                    break
                }
            }
            if cut >= 0 {
                let payload = Array(pending[...cut])
                pending.removeFirst(cut + 1)
                return (payload, lines)
            }
            if atEnd {
                guard !pending.isEmpty else { return nil }
                var payload = pending
                pending = []
                if payload.last != ASCII.newline {
                    payload.append(ASCII.newline)
                    lines += 1
                }
                return (payload, lines)
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadableInput(path: "input", reason: String(cString: strerror(errno)))
            }
            if n == 0 { atEnd = true } else { pending.append(contentsOf: chunk[..<n]) }
        }
    }
}

/// Paces a sender to at most `rate` points per second (0 = unlimited) by sleeping between batches.
public struct Pacer: Sendable {
    public let rate: Double
    private var started: UInt64?
    private var sent = 0

    public init(rate: Double) { self.rate = rate }

    /// Call after sending `points` more; sleeps until the average rate is back under the limit.
    public mutating func didSend(_ points: Int) {
        guard rate > 0 else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        if started == nil { started = now }
        sent += points
        let due = (started ?? now) + UInt64(Double(sent) / rate * 1e9)
        if due > now { usleep(useconds_t(min((due - now) / 1000, 10_000_000))) }
    }
}

/// How `omen tail` prints an alert.
public enum AlertFormatter {
    /// One human line: time, event, series, value vs prediction and band, score, episode id.
    public static func text(_ alert: Alert) -> String {
        func n(_ v: Double) -> String {
            guard v.isFinite else { return "-" }
            return abs(v) >= 1e6 || (abs(v) < 1e-3 && v != 0) ? String(format: "%.4g", v) : String(format: "%.3f", v)
        }
        var line = "\(CivilCalendar.iso8601(alert.timestamp, fractionDigits: 0)) \(alert.kind.rawValue.uppercased().padding(toLength: 6, withPad: " ", startingAt: 0)) "
        line += "\(SeriesKeyText.escaped(alert.series)) value=\(n(alert.value)) predicted=\(n(alert.predicted)) band=[\(n(alert.lower)), \(n(alert.upper))] "
        line += "score=\(n(alert.score)) threshold=\(n(alert.threshold)) points=\(alert.points) id=\(alert.id) model=v\(alert.modelVersion)"
        if let cause = alert.cause { line += " cause=\(cause.rawValue)" }
        if let reason = alert.closeReason { line += " reason=\(SeriesKeyText.escaped(reason))" }
        return line
    }
}
