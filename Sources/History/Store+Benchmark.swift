import Foundation
import Detection

/// What `Store.benchmarkApply` measured.
public struct StoreBenchmarkResult: Sendable, Equatable {
    /// Median over the timed batches of events written per second (one transaction per batch).
    public var medianRowsPerSecond: Double
    /// Slowest batch, as events per second.
    public var worstRowsPerSecond: Double
    public var batches: Int
    public var batchSize: Int
}

extension Store {
    /// Times `apply` with batches of `batchSize` episode events (opens, updates and closes over `seriesCount`
    /// series, with a series summary per touched series) into a fresh file in `directory`, which is removed after.
    public static func benchmarkApply(directory: String, batches: Int = 30, batchSize: Int = 1_000,
                                      seriesCount: Int = 1_000) throws(StoreError) -> StoreBenchmarkResult {
        precondition(batches > 0 && batchSize > 0 && seriesCount > 0, "benchmark sizes must be positive")
        let path = (directory as NSString).appendingPathComponent("omen-store-bench-\(UUID().uuidString).db")
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let store = try Store(path: path)
        let keys = (0..<seriesCount).map { "bench.host\($0 / 10).metric\($0 % 10)" }
        var episodes = [Int](repeating: 0, count: seriesCount)
        var rates: [Double] = []
        var time = 1_700_000_000.0
        // One untimed batch first, so the statement cache and the series ids are warm as in the daemon.
        for round in 0...batches {
            var events: [EpisodeEvent] = []
            events.reserveCapacity(batchSize)
            var touched: [Int: Int] = [:]
            for index in 0..<batchSize {
                time += 0.001
                let series = (round * batchSize + index) % seriesCount
                let kind: EpisodeEventKind
                switch (round * batchSize + index) / seriesCount % 3 {
                case 0: kind = .open; episodes[series] += 1
                case 1: kind = .update
                default: kind = .close
                }
                events.append(EpisodeEvent(
                    kind: kind, series: keys[series], episode: max(episodes[series], 1), timestamp: time,
                    openedAt: time, closedAt: kind == .close ? time : nil, peakAt: time, peakScore: 0.995,
                    value: 42, predicted: 12, lower: 8, upper: 16, score: 0.995, threshold: 0.99, points: 3,
                    modelVersion: 1))
                touched[series, default: 0] += 1
            }
            let updates = touched.keys.map { series in
                SeriesUpdate(key: keys[series], firstSeen: 1_700_000_000, lastSeen: time, points: round * 100,
                             state: .trained, modelVersion: 1, lastScore: 0.5)
            }
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try store.apply(WriteBatch(events: events, series: updates))
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if round > 0 { rates.append(Double(batchSize) / max(seconds, 1e-9)) }
        }
        try store.close()
        rates.sort()
        return StoreBenchmarkResult(medianRowsPerSecond: rates[rates.count / 2], worstRowsPerSecond: rates[0],
                                    batches: batches, batchSize: batchSize)
    }
}
