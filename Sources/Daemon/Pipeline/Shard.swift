import Detection
import Foundation
import History
import Logging
import Synchronization

/// A shard worker: one thread that owns a set of series (chosen by a stable hash of their keys) and runs
/// every point of those series through their detectors. No locks on the per-point path: the only shared
/// structures are the mailbox (one lock per batch) and the atomic counters.
final class Shard: @unchecked Sendable {
    /// What other threads send to a shard.
    enum Message: Sendable {
        /// Points routed to this shard, with the monotonic time their message was received.
        case points([Point], receivedAt: Double)
        /// A finished training job of one of this shard's series.
        case trained(TrainingOutcome)
        /// New alerting configuration (SIGHUP reload).
        case reload(DaemonConfig)
        /// Evicted series the loader restored (`Shard+Eviction.swift`).
        case restored([RestoredSeries])
    }

    let index: Int
    let mailbox = Mailbox<Message>()
    let writer: Writer
    private let trainers: TrainerPool
    let stats: PipelineStats
    private let latency: LatencyRecorder
    let logger: Logger
    /// Restores evicted series off this thread (nil: eviction restores nothing, e.g. in tests of the shard alone).
    let loader: SeriesLoader?
    private let done = DispatchSemaphore(value: 0)

    // Owned by the shard thread (and by the builder before `start()`).
    private(set) var config: DaemonConfig
    /// The series this shard owns; one dictionary lookup per point reaches the detector and its bookkeeping.
    var detectors: [String: SeriesSlot] = [:]
    /// The same slots indexed by the ingest thread's series id (`Point.seriesID`): the per-point lookup, with no
    /// hashing of the key. Filled on a series' first point from `detectors`; ids of other shards stay nil.
    var slotsByID: ContiguousArray<SeriesSlot?> = []
    /// Series due for training but not yet handed to the pool: key → age of its model (older first).
    var due: [String: Double] = [:]
    /// Series whose summary row changed since the last emission (each at most once: `SeriesSlot.dirty`).
    private var dirty: [SeriesSlot] = []
    /// Highest episode number per series in the store, so a recreated series never reuses one.
    var knownEpisodes: [String: Int] = [:]
    /// Bounded cardinality and idle eviction: evicted series, points held while they load, refused keys.
    var residency = ShardResidency()
    private var lastSummaryEmit = 0.0
    private var lastCheckpoint = 0.0
    /// Keys still to checkpoint in the current round (a round is spread over several loop turns).
    private var checkpointQueue: [String] = []
    private var pendingEvents: [EpisodeEvent] = []
    /// Monotonic time of the last loop turn; the watchdog heartbeat reads it.
    let heartbeat = HeartbeatCell()

    init(index: Int, config: DaemonConfig, writer: Writer, trainers: TrainerPool, stats: PipelineStats,
         latency: LatencyRecorder, logger: Logger, loader: SeriesLoader? = nil) {
        self.loader = loader
        self.index = index
        self.config = config
        self.writer = writer
        self.trainers = trainers
        self.stats = stats
        self.latency = latency
        self.logger = logger
    }

    /// Adds a restored detector (before `start()`).
    func adopt(_ detector: SeriesDetector) {
        let slot = SeriesSlot(detector)
        slot.checkpointed = (detector.pointsSeen, detector.modelVersion)
        slot.lastSeen = wallSeconds()
        detectors[detector.key] = slot
        stats.series.wrappingAdd(1, ordering: .relaxed)
        if detector.isTrainingDue() { markDue(slot) }
    }

    /// Remembers the store's highest episode numbers (before `start()`).
    func reserveEpisodes(_ episodes: [String: Int]) {
        knownEpisodes = episodes
    }

    func start() {
        let now = monotonicSeconds()
        lastSummaryEmit = now
        lastCheckpoint = now
        heartbeat.beat(now)
        let thread = Thread { [self] in
            nameCurrentThread("omen-shard-\(index)")
            run()
            done.signal()
        }
        thread.name = "omen-shard-\(index)"
        thread.start()
    }

    /// Waits for the thread to drain its mailbox, write a final checkpoint of every series and exit
    /// (after `mailbox.close()`).
    func join(timeout: Double) -> Bool {
        done.wait(timeout: .now() + timeout) == .success
    }

    // MARK: - The loop

    private func run() {
        while true {
            let (messages, closed) = mailbox.takeAll(timeout: 0.05)
            for message in messages {
                switch message {
                case .points(let points, let receivedAt):
                    // Counters and the clock once per batch: atomics shared with the other shards would
                    // bounce their cache line on every point.
                    let now = wallSeconds()
                    var processed = 0, outOfOrder = 0
                    points.withUnsafeBufferPointer { batch in
                        for i in batch.indices {
                            switch process(batch, i, now: now) {
                            case true?: processed += 1
                            case false?: outOfOrder += 1
                            case nil: break // held while its series loads, or refused (counted there)
                            }
                        }
                    }
                    stats.pointsProcessed.wrappingAdd(processed, ordering: .relaxed)
                    if outOfOrder > 0 { stats.pointsOutOfOrder.wrappingAdd(outOfOrder, ordering: .relaxed) }
                    latency.record(monotonicSeconds() - receivedAt)
                case .trained(let outcome):
                    install(outcome)
                case .reload(let newConfig):
                    reload(newConfig)
                case .restored(let series):
                    adoptRestored(series)
                }
            }
            let now = monotonicSeconds()
            heartbeat.beat(now)
            flushEvents()
            if closed {
                finalCheckpoint()
                return
            }
            submitDueTraining()
            if now - lastSummaryEmit >= 1 {
                lastSummaryEmit = now
                emitSummaries()
            }
            if config.storage.checkpointInterval > 0 && now - lastCheckpoint >= config.storage.checkpointInterval
                && checkpointQueue.isEmpty {
                lastCheckpoint = now
                // Only series that changed since their stored checkpoint: an idle series is not rewritten.
                checkpointQueue = detectors.compactMap { $0.value.isCheckpointCurrent ? nil : $0.key }
            }
            checkpointSlice()
            residencyTick()
        }
    }

    /// The slot of a point's series when it is already known by id (no lookup by key, no creation).
    @inline(__always)
    private func knownSlot(_ point: Point) -> SeriesSlot? {
        let id = Int(point.seriesID)
        guard point.seriesID != Point.noSeriesID, id < slotsByID.count else { return nil }
        return slotsByID[id]
    }

    /// Runs point `i` of a batch through its series; false when the series refused it (not newer than its last
    /// point), nil when the point waits for its series to be restored or its series was refused (max_series).
    /// The next point's detector is passed along so that its weights and recurrent state are fetched
    /// during this point's step (with thousands of series they are cold in cache).
    func process(_ batch: UnsafeBufferPointer<Point>, _ i: Int, now: Double) -> Bool? {
        let point = batch[i]
        let next = i + 1 < batch.count ? knownSlot(batch[i + 1])?.detector : nil
        guard let slot = knownSlot(point) ?? lookUp(point, now: now) else { return nil }
        slot.lastSeen = now
        let detector = slot.detector
        do {
            let outcome = try detector.process(timestamp: point.timestamp, value: point.value, prefetching: next)
            if let event = outcome.event { pendingEvents.append(event) }
        } catch {
            return false
        }
        markDirty(slot)
        if !slot.queued, detector.isTrainingDue(now: now) { markDue(slot) }
        return true
    }

    /// The slow path of a point's lookup: by key (creating the series on its first point, restoring an evicted
    /// one, or refusing it at `max_series`: `Shard+Eviction.swift`), then remembered by id.
    private func lookUp(_ point: Point, now: Double) -> SeriesSlot? {
        let slot: SeriesSlot
        if let existing = detectors[point.key] {
            slot = existing
        } else {
            guard let admitted = admit(point, now: now) else { return nil }
            slot = admitted
        }
        remember(slot, id: point.seriesID)
        return slot
    }

    /// Remembers a slot under the ingest thread's id of its key (the per-point lookup).
    func remember(_ slot: SeriesSlot, id seriesID: UInt32) {
        guard seriesID != Point.noSeriesID else { return }
        let id = Int(seriesID)
        if id >= slotsByID.count {
            slotsByID.append(contentsOf: repeatElement(nil, count: max(id + 1 - slotsByID.count, slotsByID.count)))
        }
        slotsByID[id] = slot
        slot.seriesID = id
    }

    /// A new series on its first point (after `admit` reserved its place under `max_series`).
    func createSeries(_ key: String, now: Double) -> SeriesSlot {
        let fresh = SeriesDetector(key: key, config: config.detectorConfig(for: key))
        if let known = knownEpisodes.removeValue(forKey: key) {
            fresh.reserveEpisodes(upTo: known)
        }
        let slot = SeriesSlot(fresh)
        slot.lastSeen = now
        detectors[key] = slot
        return slot
    }

    private func flushEvents() {
        guard !pendingEvents.isEmpty else { return }
        stats.events.wrappingAdd(pendingEvents.count, ordering: .relaxed)
        writer.mailbox.post(.events(pendingEvents))
        pendingEvents.removeAll(keepingCapacity: true)
    }

    func markDirty(_ slot: SeriesSlot) {
        guard !slot.dirty else { return }
        slot.dirty = true
        dirty.append(slot)
    }

    /// Adds a series to the due set, keyed by the age of its model (older first).
    func markDue(_ slot: SeriesSlot) {
        slot.queued = true
        due[slot.detector.key] = slot.detector.lastRetrainAt ?? -.infinity
    }

    // MARK: - Training

    private func submitDueTraining() {
        var free = trainers.freeSlots
        while free > 0, !due.isEmpty {
            // Oldest model first: O(backlog) per submission, and submissions are few per second.
            guard let (key, _) = due.min(by: { $0.value < $1.value }) else { break }
            due.removeValue(forKey: key)
            guard let slot = detectors[key] else { continue }
            slot.queued = false
            let detector = slot.detector
            guard detector.isTrainingDue(now: wallSeconds()) else { continue }
            let job = detector.makeTrainingJob(now: wallSeconds())
            let mailbox = self.mailbox
            if trainers.submit(TrainerPool.Request(job: job, deliver: { mailbox.post(.trained($0)) })) {
                free -= 1
            } else {
                detector.cancelTraining()
                markDue(slot)
                break
            }
        }
        stats.trainingBacklogUpdate(shard: index, backlog: due.count)
    }

    private func install(_ outcome: TrainingOutcome) {
        guard let slot = detectors[outcome.key] else { return }
        let detector = slot.detector
        detector.install(outcome, at: wallSeconds())
        markDirty(slot)
        if !outcome.accepted, let why = outcome.rejection {
            logger.debug("retrain rejected", metadata: ["series": "\(outcome.key)", "reason": "\(why)"])
        }
        if outcome.accepted {
            // A new model version: checkpoint it soon rather than at the next round.
            checkpointQueue.append(outcome.key)
        }
        // Points that arrived while the job ran may already make the next training due; do not wait for
        // another point to notice (a bursty series may send none for a while).
        if !slot.queued, detector.isTrainingDue(now: wallSeconds()) { markDue(slot) }
    }

    private func reload(_ newConfig: DaemonConfig) {
        config = newConfig
        for (key, slot) in detectors {
            slot.detector.updateEpisodes(newConfig.detectorConfig(for: key).episodes)
        }
    }

    // MARK: - Summaries and checkpoints

    private func emitSummaries() {
        guard !dirty.isEmpty else { return }
        var updates: [SeriesUpdate] = []
        updates.reserveCapacity(dirty.count)
        for slot in dirty {
            slot.dirty = false
            updates.append(Self.summary(of: slot.detector))
        }
        dirty.removeAll(keepingCapacity: true)
        writer.mailbox.post(.series(updates))
    }

    static func summary(of d: SeriesDetector) -> SeriesUpdate {
        SeriesUpdate(key: d.key, firstSeen: d.firstTimestamp, lastSeen: d.lastTimestamp, points: d.pointsSeen,
                     state: d.state, modelVersion: d.modelVersion, lastScore: d.lastScore, lastRetrain: d.lastRetrainAt)
    }

    static func checkpoint(of d: SeriesDetector) -> ModelCheckpoint {
        let report = d.lastTraining
        return ModelCheckpoint(
            key: d.key, cell: d.config.model.cell.rawValue, inputSize: Features.width,
            hiddenSize: d.config.model.hiddenSize, version: d.modelVersion, trainedAt: d.lastRetrainAt,
            trainLoss: report.map { Double($0.trainLoss) }, validationLoss: report.map { Double($0.validationLoss) },
            blob: d.checkpoint())
    }

    /// Checkpoints a slice of the round per loop turn, so a round over many series never stalls ingest.
    private func checkpointSlice(limit: Int = 64) {
        guard !checkpointQueue.isEmpty else { return }
        var batch: [ModelCheckpoint] = []
        var updates: [SeriesUpdate] = []
        while batch.count < limit, let key = checkpointQueue.popLast() {
            guard let slot = detectors[key] else { continue }
            let d = slot.detector
            slot.checkpointed = (d.pointsSeen, d.modelVersion)
            batch.append(Self.checkpoint(of: d))
            updates.append(Self.summary(of: d))
        }
        if !batch.isEmpty { writer.mailbox.post(.checkpoints(batch, series: updates)) }
    }

    private func finalCheckpoint() {
        emitSummaries()
        guard config.storage.checkpointOnShutdown else { return }
        var batch: [ModelCheckpoint] = []
        var updates: [SeriesUpdate] = []
        for slot in detectors.values {
            let d = slot.detector
            d.cancelTraining()
            guard !slot.isCheckpointCurrent else { continue }
            slot.checkpointed = (d.pointsSeen, d.modelVersion)
            batch.append(Self.checkpoint(of: d))
            updates.append(Self.summary(of: d))
            if batch.count >= 256 {
                writer.mailbox.post(.checkpoints(batch, series: updates))
                batch = []
                updates = []
            }
        }
        if !batch.isEmpty { writer.mailbox.post(.checkpoints(batch, series: updates)) }
        dropHeldPoints()
        logger.debug("shard drained", metadata: ["shard": "\(index)", "series": "\(detectors.count)"])
    }
}

/// A series owned by a shard: its detector and the shard's bookkeeping flags, reached with one lookup.
final class SeriesSlot {
    let detector: SeriesDetector
    /// In the shard's dirty list (its summary row changed since the last emission).
    var dirty = false
    /// In the shard's due set (waiting for a free trainer).
    var queued = false
    /// What the stored checkpoint holds: points seen and model version when it was taken (nil: none stored yet).
    var checkpointed: (points: Int, version: Int)?
    /// Wall time of the series' last point (idle eviction), and the ingest id of its key (-1: none yet).
    var lastSeen = 0.0
    var seriesID = -1

    init(_ detector: SeriesDetector) { self.detector = detector }

    /// The stored checkpoint already holds this series as it is (no point and no new model since).
    var isCheckpointCurrent: Bool {
        guard let c = checkpointed else { return false }
        return c.points == detector.pointsSeen && c.version == detector.modelVersion
    }
}

/// The last time a thread showed it was alive (monotonic seconds), for the systemd watchdog.
final class HeartbeatCell: Sendable {
    private let bits = Atomic<UInt64>(0)

    func beat(_ now: Double) { bits.store(now.bitPattern, ordering: .relaxed) }

    var last: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
}

extension PipelineStats {
    /// Each shard reports its own backlog; the total is their sum (kept per shard to avoid double counting).
    func trainingBacklogUpdate(shard: Int, backlog: Int) {
        backlogs.withLock { values in
            if values.count <= shard { values.append(contentsOf: repeatElement(0, count: shard + 1 - values.count)) }
            values[shard] = backlog
            trainingBacklog.store(values.reduce(0, +), ordering: .relaxed)
        }
    }
}
