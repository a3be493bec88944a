import Foundation
import Detection
import History

/// What `Store.benchmarkApply` measured: medians over batches, each batch one `apply` (one transaction).
public struct StoreBenchmarkResult: Sendable, Equatable {
    /// Episode events stored per second (a mix of opens, updates and closes), median over the batches.
    public var eventsPerSecond: Double
    /// The slowest event batch, as events per second.
    public var worstEventsPerSecond: Double
    /// Series summaries upserted per second (batches of `batchSize` updates of known series), median.
    public var seriesUpdatesPerSecond: Double
    public var batches: Int
    public var batchSize: Int
}

extension Store {
    /// Times `apply` on a fresh file in `directory` (removed afterwards): `batches` batches of `batchSize`
    /// episode events cycling open → update → close over `seriesCount` series, then as many batches of series
    /// summaries. One untimed batch of each warms the statement cache and the id caches, as in the daemon.
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
        var time = 1_700_000_000.0
        var eventCount = 0

        func eventBatch() -> WriteBatch {
            var events: [EpisodeEvent] = []
            events.reserveCapacity(batchSize)
            for _ in 0..<batchSize {
                time += 0.001
                let series = eventCount % seriesCount
                let kind: EpisodeEventKind
                switch eventCount / seriesCount % 3 {
                case 0: kind = .open; episodes[series] += 1
                case 1: kind = .update
                default: kind = .close
                }
                eventCount += 1
                events.append(EpisodeEvent(kind: kind, timestamp: time, score: 0.995, episode: Episode(
                    series: keys[series], number: max(episodes[series], 1), openedAt: time,
                    closedAt: kind == .close ? time : nil, peakAt: time, peakScore: 0.995, value: 42, predicted: 12,
                    lower: 8, upper: 16, threshold: 0.99, points: 3, modelVersion: 1)))
            }
            return WriteBatch(events: events)
        }

        func seriesBatch(_ round: Int) -> WriteBatch {
            WriteBatch(series: (0..<batchSize).map { index in
                SeriesUpdate(key: keys[(round * batchSize + index) % seriesCount], firstSeen: 1_700_000_000,
                             lastSeen: time + Double(round), points: round * 100 + index, state: .trained,
                             modelVersion: 1, lastScore: 0.5)
            })
        }

        func timed(_ batch: WriteBatch) throws(StoreError) -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try store.apply(batch)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            return Double(batchSize) / max(seconds, 1e-9)
        }

        var eventRates: [Double] = []
        var seriesRates: [Double] = []
        for round in 0...batches {
            let rate = try timed(eventBatch())
            if round > 0 { eventRates.append(rate) }
        }
        for round in 0...batches {
            let rate = try timed(seriesBatch(round))
            if round > 0 { seriesRates.append(rate) }
        }
        try store.close()
        eventRates.sort()
        seriesRates.sort()
        return StoreBenchmarkResult(
            eventsPerSecond: eventRates[eventRates.count / 2], worstEventsPerSecond: eventRates[0],
            seriesUpdatesPerSecond: seriesRates[seriesRates.count / 2], batches: batches, batchSize: batchSize)
    }
}
