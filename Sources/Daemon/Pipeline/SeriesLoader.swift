import Configuration
import Detection
import Foundation
import History
import Logging

/// A series a loader restored, handed to its shard. The detector moves with it: nothing else holds it.
struct RestoredSeries: @unchecked Sendable {
    let key: String
    /// Nil when the series has no usable checkpoint (deleted after `idle_delete_after`, or unreadable): the shard
    /// starts it afresh, its episode numbers continuing after `lastEpisode`.
    let detector: SeriesDetector?
    let lastEpisode: Int
    /// Why the checkpoint could not be restored, when it could not.
    let failure: String?
}

/// Restores evicted series off the shards' per-point path: one thread reads their checkpoints from SQLite in
/// batches (one read transaction per batch; WAL readers never wait for the writer) and decodes them, then posts
/// each shard its restored series in one message. The shard holds the series' new points meanwhile.
final class SeriesLoader: @unchecked Sendable {
    /// One series to restore: from `blob` when the shard still has its checkpoint in memory (not yet known to
    /// be committed), else from the store.
    struct Request: Sendable {
        let shard: Int
        let key: String
        let blob: [UInt8]?
    }

    let mailbox = Mailbox<Request>()
    private let store: Store
    private let config: DaemonConfig
    private let logger: Logger
    private let done = DispatchSemaphore(value: 0)
    private let started = LockedBox(false)
    /// Series read per read transaction.
    static let batchSize = 256

    init(store: Store, config: DaemonConfig, logger: Logger) {
        self.store = store
        self.config = config
        self.logger = logger
    }

    /// Starts the thread; `deliver` posts a shard's restored series to it.
    func start(deliver: @escaping @Sendable (Int, [RestoredSeries]) -> Void) {
        started.value = true
        let thread = Thread { [self] in
            nameCurrentThread("omen-loader")
            run(deliver: deliver)
            done.signal()
        }
        thread.name = "omen-loader"
        thread.start()
    }

    /// Waits for the thread to finish its last batch after `mailbox.close()`.
    func join(timeout: Double) -> Bool {
        guard started.value else { return true }
        return done.wait(timeout: .now() + timeout) == .success
    }

    private func run(deliver: @Sendable (Int, [RestoredSeries]) -> Void) {
        while true {
            let (requests, closed) = mailbox.takeAll(timeout: 0.05)
            var i = 0
            while i < requests.count {
                let batch = Array(requests[i..<min(i + Self.batchSize, requests.count)])
                i += batch.count
                var byShard: [Int: [RestoredSeries]] = [:]
                for restored in restore(batch) { byShard[restored.shard, default: []].append(restored.series) }
                for (shard, series) in byShard { deliver(shard, series) }
            }
            if closed { return }
        }
    }

    /// Reads (those without a blob, in one transaction) and decodes a batch of requests.
    func restore(_ batch: [Request]) -> [(shard: Int, series: RestoredSeries)] {
        let fromStore = batch.filter { $0.blob == nil }.map(\.key)
        var stored: [String: StoredSeries] = [:]
        var readFailure: String? = nil
        if !fromStore.isEmpty {
            do {
                for s in try store.storedSeries(fromStore) { stored[s.key] = s }
            } catch {
                readFailure = "\(error)"
                logger.error("checkpoints could not be read; those series start afresh", metadata: [
                    "series": "\(fromStore.count)", "error": "\(error)"])
            }
        }
        return batch.map { (request: Request) -> (shard: Int, series: RestoredSeries) in
            let config = self.config.detectorConfig(for: request.key)
            let entry = stored[request.key]
            let lastEpisode = entry?.lastEpisode ?? 0
            guard let blob = request.blob ?? entry?.checkpoint?.blob else {
                let why = readFailure ?? "no checkpoint stored"
                return (request.shard, RestoredSeries(key: request.key, detector: nil, lastEpisode: lastEpisode, failure: why))
            }
            do {
                let detector = try SeriesDetector(key: request.key, config: config, checkpoint: blob)
                detector.reserveEpisodes(upTo: lastEpisode)
                return (request.shard, RestoredSeries(key: request.key, detector: detector, lastEpisode: lastEpisode, failure: nil))
            } catch {
                return (request.shard, RestoredSeries(key: request.key, detector: nil, lastEpisode: lastEpisode,
                                                      failure: "\(error)"))
            }
        }
    }
}
