import Synchronization

/// Keeps the most recent receive-to-scored latencies (seconds) for percentiles in stats and benchmarks.
final class LatencyRecorder: Sendable {
    private let samples: Mutex<(values: [Double], next: Int)>
    private let capacity: Int

    init(capacity: Int = 65_536) {
        self.capacity = capacity
        samples = Mutex(([], 0))
    }

    func record(_ seconds: Double) {
        samples.withLock { s in
            if s.values.count < capacity {
                s.values.append(seconds)
            } else {
                s.values[s.next] = seconds
                s.next = (s.next + 1) % capacity
            }
        }
    }

    /// The given percentiles (0...100) of the recorded samples, in seconds; nil when there are none.
    func percentiles(_ ps: [Double]) -> [Double]? {
        let sorted = samples.withLock { $0.values }.sorted()
        guard !sorted.isEmpty else { return nil }
        return ps.map { p in sorted[min(sorted.count - 1, Int(p / 100 * Double(sorted.count)))] }
    }

    func reset() {
        samples.withLock { $0 = ([], 0) }
    }
}
