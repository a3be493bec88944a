import Configuration
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
        /// Series arriving with or leaving with a Kafka partition (`Shard+Ownership.swift`).
        case ownership(OwnershipRequest)
    }

    let index: Int
    let mailbox = Mailbox<Message>()
    private let writer: Writer
    private let trainers: TrainerPool
    let stats: PipelineStats
    private let latency: LatencyRecorder
    let logger: Logger
    private let clock: PipelineClock
    private let done = DispatchSemaphore(value: 0)

    // Owned by the shard thread (and by the builder before `start()`).
    var config: DaemonConfig
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
    private var knownEpisodes: [String: Int] = [:]
    private var lastSummaryEmit = 0.0
    private var lastCheckpoint = 0.0
    /// Keys still to checkpoint in the current round (a round is spread over several loop turns).
    private var checkpointQueue: [String] = []
    private var pendingEvents: [EpisodeEvent] = []
    /// Closed episodes waiting for a free trainer to be reviewed in hindsight (the newest `maxPendingReviews`).
    private var pendingReviews: [HindsightReviewJob] = []
    private static let maxPendingReviews = 64
    /// Monotonic time of the last loop turn; the watchdog heartbeat reads it.
    let heartbeat = HeartbeatCell()
    /// What the Kafka changelog holds of each series (`Shard+Ownership.swift`).
    let changelog = ChangelogMarks()

    init(index: Int, config: DaemonConfig, writer: Writer, trainers: TrainerPool, stats: PipelineStats,
         latency: LatencyRecorder, logger: Logger, clock: PipelineClock = .system) {
        self.index = index
        self.clock = clock
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
        detectors[detector.key] = slot
        stats.series.wrappingAdd(1, ordering: .relaxed)
        if detector.isTrainingDue() { markDue(slot) }
    }

    /// Remembers the store's highest episode numbers (before `start()`).
    func reserveEpisodes(_ episodes: [String: Int]) {
        knownEpisodes = episodes
    }

    /// Starts the thread, which runs `turn()` until the mailbox is closed and drained.
    func start() {
        prepare()
        let thread = Thread { [self] in
            nameCurrentThread("omen-shard-\(index)")
            while turn(timeout: 0.05) {}
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

    /// Starts the intervals (summaries, checkpoint rounds) at the clock's now; `start()` calls it, or a test that
    /// drives `turn()` itself.
    func prepare() {
        let now = clock.monotonic()
        lastSummaryEmit = now
        lastCheckpoint = now
        heartbeat.beat(now)
    }

    /// One turn of the loop: takes what the mailbox holds (waiting up to `timeout` seconds), processes it, hands
    /// episode events to the writer, then does what is due (training, summaries, a checkpoint slice). Returns
    /// false once the mailbox was closed and drained, after the final checkpoint.
    func turn(timeout: Double) -> Bool {
        let (messages, closed) = mailbox.takeAll(timeout: timeout)
        for message in messages {
            switch message {
            case .points(let points, let receivedAt):
                // Counters and the clock once per batch: atomics shared with the other shards would
                // bounce their cache line on every point.
                let now = clock.wall()
                var processed = 0, outOfOrder = 0
                points.withUnsafeBufferPointer { batch in
                    for i in batch.indices {
                        if process(batch, i, now: now) { processed += 1 } else { outOfOrder += 1 }
                    }
                }
                stats.pointsProcessed.wrappingAdd(processed, ordering: .relaxed)
                if outOfOrder > 0 { stats.pointsOutOfOrder.wrappingAdd(outOfOrder, ordering: .relaxed) }
                latency.record(clock.monotonic() - receivedAt)
            case .trained(let outcome):
                install(outcome)
            case .reload(let newConfig):
                reload(newConfig)
            case .ownership(let request):
                handle(request)
            }
        }
        let now = clock.monotonic()
        heartbeat.beat(now)
        flushEvents()
        if closed {
            finalCheckpoint()
            return false
        }
        submitReviews()
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
        return true
    }

    /// The slot of a point's series when it is already known by id (no lookup by key, no creation).
    @inline(__always)
    private func knownSlot(_ point: Point) -> SeriesSlot? {
        let id = Int(point.seriesID)
        guard point.seriesID != Point.noSeriesID, id < slotsByID.count else { return nil }
        return slotsByID[id]
    }

    /// Runs point `i` of a batch through its series; false when the series refused it (not newer than its last
    /// point). The next point's detector is passed along so that its weights and recurrent state are fetched
    /// during this point's step (with thousands of series they are cold in cache).
    private func process(_ batch: UnsafeBufferPointer<Point>, _ i: Int, now: Double) -> Bool {
        let point = batch[i]
        let next = i + 1 < batch.count ? knownSlot(batch[i + 1])?.detector : nil
        let slot = knownSlot(point) ?? lookUp(point)
        let detector = slot.detector
        do {
            let outcome = try detector.process(timestamp: point.timestamp, value: point.value, prefetching: next)
            if let event = outcome.event {
                pendingEvents.append(event)
                if let review = detector.makeReviewJob(for: event) { queueReview(review) }
            }
        } catch {
            return false
        }
        markDirty(slot)
        if !slot.queued, detector.isTrainingDue(now: now) { markDue(slot) }
        return true
    }

    /// The slow path of a point's lookup: by key (creating the series on its first point), then remembered by id.
    private func lookUp(_ point: Point) -> SeriesSlot {
        let slot: SeriesSlot
        if let existing = detectors[point.key] {
            slot = existing
        } else {
            let fresh = SeriesDetector(key: point.key, config: config.detectorConfig(for: point.key))
            if let known = knownEpisodes.removeValue(forKey: point.key) {
                fresh.reserveEpisodes(upTo: known)
            }
            slot = SeriesSlot(fresh)
            detectors[point.key] = slot
            stats.series.wrappingAdd(1, ordering: .relaxed)
        }
        if point.seriesID != Point.noSeriesID {
            let id = Int(point.seriesID)
            if id >= slotsByID.count {
                slotsByID.append(contentsOf: repeatElement(nil, count: max(id + 1 - slotsByID.count, slotsByID.count)))
            }
            slotsByID[id] = slot
        }
        return slot
    }

    func flushEvents() {
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
    private func markDue(_ slot: SeriesSlot) {
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
            guard detector.isTrainingDue(now: clock.wall()) else { continue }
            let job = detector.makeTrainingJob(now: clock.wall())
            let mailbox = self.mailbox
            if trainers.submit(.training(job, deliver: { mailbox.post(.trained($0)) })) {
                free -= 1
            } else {
                detector.cancelTraining()
                markDue(slot)
                break
            }
        }
        stats.trainingBacklogUpdate(shard: index, backlog: due.count)
    }

    private func queueReview(_ review: HindsightReviewJob) {
        if pendingReviews.count >= Self.maxPendingReviews {
            // A storm of closes: the oldest waiting review is dropped and its episode keeps no hindsight score.
            pendingReviews.removeFirst()
            logger.debug("hindsight review dropped", metadata: ["pending": "\(pendingReviews.count)"])
        }
        pendingReviews.append(review)
    }

    /// Hands closed episodes to the trainer pool for review, before any due training (a review is one small fit).
    /// Their events were flushed first, so the writer stores each score after its episode's close.
    private func submitReviews() {
        let writer = self.writer
        while !pendingReviews.isEmpty, trainers.freeSlots > 0 {
            let review = pendingReviews.removeFirst()
            guard trainers.submit(.review(review, deliver: { writer.mailbox.post(.hindsight([$0])) })) else {
                pendingReviews.insert(review, at: 0)
                break
            }
        }
    }

    private func install(_ outcome: TrainingOutcome) {
        // Not in flight: the job belonged to a detector since released (its Kafka partition went and came back).
        guard let slot = detectors[outcome.key], slot.detector.trainingInFlight else { return }
        let detector = slot.detector
        detector.install(outcome, at: clock.wall())
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
        if !slot.queued, detector.isTrainingDue(now: clock.wall()) { markDue(slot) }
    }

    private func reload(_ newConfig: DaemonConfig) {
        config = newConfig
        for (key, slot) in detectors {
            slot.detector.updateEpisodes(newConfig.detectorConfig(for: key).episodes)
        }
    }

    // MARK: - Summaries and checkpoints

    func emitSummaries() {
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
        // A writer that is behind gets no more 10 MB slices until it catches up; the round resumes next turn.
        guard !checkpointQueue.isEmpty, writer.mailbox.count < Writer.maxQueuedMessages * 4 else { return }
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

    /// The last checkpoint round, at shutdown: bounded in memory and in time.
    ///
    /// Memory: batches of `finalBatchSize` series go to the writer, and the shard waits while
    /// `Writer.maxQueuedMessages` messages are queued there, so a few batches are in flight, never the round (at
    /// 166 KB per trained series, 100,000 series queued at once were 16 GB). Time: the most-changed series go first
    /// (a new model version before any number of points, then by points since the stored checkpoint), and at the
    /// deadline the rest are skipped and logged: they restart from their previous checkpoint.
    private func finalCheckpoint() {
        emitSummaries()
        guard config.storage.checkpointOnShutdown, !writer.isAbandoned else { return }
        let deadline = shutdownDeadline
        var order: [(slot: SeriesSlot, change: Int)] = []
        order.reserveCapacity(detectors.count)
        for slot in detectors.values {
            slot.detector.cancelTraining()
            if !slot.isCheckpointCurrent { order.append((slot, slot.changeSinceCheckpoint)) }
        }
        order.sort { $0.change > $1.change }
        var next = 0
        while next < order.count {
            let now = monotonicSeconds()
            if now >= deadline { break }
            let end = min(order.count, next + Self.finalBatchSize)
            var batch: [ModelCheckpoint] = []
            var updates: [SeriesUpdate] = []
            batch.reserveCapacity(end - next)
            updates.reserveCapacity(end - next)
            for (slot, _) in order[next..<end] {
                let d = slot.detector
                slot.checkpointed = (d.pointsSeen, d.modelVersion)
                batch.append(Self.checkpoint(of: d))
                updates.append(Self.summary(of: d))
            }
            writer.mailbox.post(.checkpoints(batch, series: updates), waitingBelow: Writer.maxQueuedMessages,
                                timeout: max(0, deadline - now))
            next = end
        }
        if next < order.count {
            let skipped = order[next...]
            // The metadata lists a few of them; a SIGTERM at 100,000 series must not print 100,000 keys.
            logger.warning("stop timeout reached: series not checkpointed keep their previous checkpoint", metadata: [
                "shard": "\(index)", "written": "\(next)", "skipped": "\(skipped.count)",
                "skipped_points": "\(skipped.reduce(0) { $0 + min($1.change, Self.modelChange - 1) })",
                "skipped_new_models": "\(skipped.filter { $0.change >= Self.modelChange }.count)",
                "skipped_first": "\(skipped.prefix(5).map { SeriesKeyText.escaped($0.slot.detector.key) }.joined(separator: ", "))"])
            stats.checkpointsSkipped.wrappingAdd(skipped.count, ordering: .relaxed)
        }
        logger.debug("shard drained", metadata: ["shard": "\(index)", "series": "\(detectors.count)",
                                                 "checkpointed": "\(next)"])
    }

    /// Series per message of the final round: 32 trained series are about 5 MB.
    static let finalBatchSize = 32
    /// The weight of a new model version in `SeriesSlot.changeSinceCheckpoint`: more than any count of points.
    static let modelChange = 1 << 40

    /// Monotonic time by which the final checkpoint round must end (set by the daemon before closing the mailbox).
    var shutdownDeadline: Double {
        get { Double(bitPattern: deadlineBits.load(ordering: .relaxed)) }
        set { deadlineBits.store(newValue.bitPattern, ordering: .relaxed) }
    }
    private let deadlineBits = Atomic<UInt64>(Double.infinity.bitPattern)
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

    init(_ detector: SeriesDetector) { self.detector = detector }

    /// How much a checkpoint now would save over the stored one: `Shard.modelChange` for a new model version (or a
    /// trained model never stored), plus the points seen since. The final round writes the largest first.
    var changeSinceCheckpoint: Int {
        let points = detector.pointsSeen - (checkpointed?.points ?? 0)
        let newModel = detector.modelVersion != (checkpointed?.version ?? 0)
        return (newModel ? Shard.modelChange : 0) + max(0, points)
    }

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
