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
        /// Evicted series the loader restored (`Shard+Eviction.swift`).
        case restored([RestoredSeries])
        /// The mutes not yet over (the whole list, replacing the previous one; Shard+Operator.swift).
        case mutes([MuteRecord])
        /// Labels of episodes, oldest first (Shard+Operator.swift).
        case labels([LabelRecord])
    }

    let index: Int
    let mailbox = Mailbox<Message>()
    let writer: Writer
    private let trainers: TrainerPool
    let stats: PipelineStats
    private let latency: LatencyRecorder
    let logger: Logger
    let clock: PipelineClock
    private let done = DispatchSemaphore(value: 0)
    /// Restores evicted series off this thread (nil: eviction restores nothing, e.g. in tests of the shard alone).
    let loader: SeriesLoader?

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
    var knownEpisodes: [String: Int] = [:]
    /// Bounded cardinality and idle eviction: evicted series, points held while they load, refused keys.
    var residency = ShardResidency()
    private var lastSummaryEmit = 0.0
    private var lastCheckpoint = 0.0
    /// Keys still to checkpoint in the current round (a round is spread over several loop turns).
    private var checkpointQueue: [String] = []
    var pendingEvents: [EpisodeEvent] = []
    /// Seconds of training this shard may still do itself (`trainInlineIfStarved`).
    private var trainingCredit = 0.0
    /// Closed episodes waiting for a free trainer to be reviewed in hindsight (the newest `maxPendingReviews`).
    private var pendingReviews: [HindsightReviewJob] = []
    private static let maxPendingReviews = 64
    /// Monotonic time of the last loop turn; the watchdog heartbeat reads it.
    let heartbeat = HeartbeatCell()
    /// What the Kafka changelog holds of each series (`Shard+Ownership.swift`).
    let changelog = ChangelogMarks()
    /// Mutes and labels as this shard applies them (Shard+Operator.swift); owned by the shard thread.
    var operatorRules = ShardOperatorRules()
    /// Series of this shard with a trained model, and muted ones, for `/metrics` (refreshed once a second).
    let seriesTrained = Atomic<Int>(0)
    let seriesMuted = Atomic<Int>(0)

    init(index: Int, config: DaemonConfig, writer: Writer, trainers: TrainerPool, stats: PipelineStats,
         latency: LatencyRecorder, logger: Logger, clock: PipelineClock = .system, loader: SeriesLoader? = nil) {
        self.loader = loader
        self.index = index
        self.clock = clock
        self.config = config
        self.writer = writer
        self.trainers = trainers
        self.stats = stats
        self.latency = latency
        self.logger = logger
    }

    /// Adds a restored detector (before `start()`, or on the shard thread when a Kafka partition brings it).
    func adopt(_ detector: SeriesDetector) {
        let slot = SeriesSlot(detector)
        slot.checkpointed = (detector.pointsSeen, detector.modelVersion)
        slot.lastSeen = clock.wall()
        detectors[detector.key] = slot
        applyOperatorRules(toNew: slot)
        stats.series.wrappingAdd(1, ordering: .relaxed)
        forgetEvicted(detector.key)
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
                // The wall time the batch's message arrived: what `[clock] max_future` is measured from.
                let batchStart = clock.monotonic()
                let receivedWall = now - max(0, batchStart - receivedAt)
                var processed = 0, outOfOrder = 0, future = 0
                points.withUnsafeBufferPointer { batch in
                    for i in batch.indices {
                        switch process(batch, i, now: now, receivedWall: receivedWall) {
                        case .accepted: processed += 1
                        case .outOfOrder: outOfOrder += 1
                        case .future: future += 1
                        case .held: break // held while its series loads, or refused at max_series (counted there)
                        }
                    }
                }
                // Busy time earns training time (see `trainInlineIfStarved`), capped so a burst after a quiet
                // hour does not train for seconds in a row.
                trainingCredit = min(trainingCredit + (clock.monotonic() - batchStart) * config.pipeline.trainingShare, 0.25)
                stats.pointsProcessed.wrappingAdd(processed, ordering: .relaxed)
                if outOfOrder > 0 { stats.pointsOutOfOrder.wrappingAdd(outOfOrder, ordering: .relaxed) }
                if future > 0 { stats.pointsFuture.wrappingAdd(future, ordering: .relaxed) }
                latency.record(clock.monotonic() - receivedAt)
            case .trained(let outcome):
                install(outcome)
            case .reload(let newConfig):
                reload(newConfig)
            case .ownership(let request):
                handle(request)
            case .restored(let series):
                adoptRestored(series)
            case .mutes(let mutes):
                applyMutes(mutes, now: clock.wall())
            case .labels(let labels):
                applyLabels(labels)
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
        trainInlineIfStarved()
        if now - lastSummaryEmit >= 1 {
            lastSummaryEmit = now
            emitSummaries()
            countSeriesStates()
        }
        refreshMutesIfDue(now: clock.wall())
        if config.storage.checkpointInterval > 0 && now - lastCheckpoint >= config.storage.checkpointInterval
            && checkpointQueue.isEmpty {
            lastCheckpoint = now
            // Only series that changed since their stored checkpoint: an idle series is not rewritten.
            checkpointQueue = detectors.compactMap { $0.value.isCheckpointCurrent ? nil : $0.key }
        }
        checkpointSlice()
        residencyTick()
        return true
    }

    /// The slot of a point's series when it is already known by id (no lookup by key, no creation).
    @inline(__always)
    private func knownSlot(_ point: Point) -> SeriesSlot? {
        let id = Int(point.seriesID)
        guard point.seriesID != Point.noSeriesID, id < slotsByID.count else { return nil }
        return slotsByID[id]
    }

    /// The detector of a known series by address only, for `SeriesDetector.process(timestamp:value:prefetching:)`
    /// (valid while the shard holds the series).
    @inline(__always)
    private func upcomingDetector(_ point: Point) -> Unmanaged<SeriesDetector>? {
        let id = Int(point.seriesID)
        guard point.seriesID != Point.noSeriesID, id < slotsByID.count else { return nil }
        return slotsByID.withUnsafeBufferPointer { slots in slots[id].map { Unmanaged.passUnretained($0.detector) } }
    }

    /// Runs point `i` of a batch through its series and says what became of it (`PointFate`).
    /// The next point's detector is passed along so that its weights and recurrent state are fetched
    /// during this point's step (with thousands of series they are cold in cache).
    func process(_ batch: UnsafeBufferPointer<Point>, _ i: Int, now: Double, receivedWall: Double) -> PointFate {
        let point = batch[i]
        guard let slot = knownSlot(point) ?? lookUp(point, now: now) else { return .held }
        // After the lookup, which may evict a series: the next detector is passed by address only (a retain is
        // an atomic write to its cold header that stalls this point), so it must be one the shard still holds.
        let next = i + 1 < batch.count ? upcomingDetector(batch[i + 1]) : nil
        slot.lastSeen = now
        let detector = slot.detector
        // Too far ahead of its arrival: refused before it can carry the series' clock forward.
        if point.timestamp > receivedWall + config.clock.maxFuture {
            slot.refusedFuture += 1
            markDirty(slot)
            return .future
        }
        do {
            let outcome = try detector.process(timestamp: point.timestamp, value: point.value, prefetching: next)
            if let event = outcome.event {
                pendingEvents.append(event)
                if let review = detector.makeReviewJob(for: event) { queueReview(review) }
            }
            slot.refusedInARow = 0
        } catch {
            slot.refusedOutOfOrder += 1
            slot.refusedInARow += 1
            markDirty(slot)
            // A series whose last point is still ahead of the receive clock re-anchors after a run of refusals,
            // rather than refusing every real-time point until its clock is reached.
            guard error == .outOfOrder, slot.refusedInARow >= config.clock.reanchorAfter,
                  detector.lastTimestamp > receivedWall else { return .outOfOrder }
            logger.warning("series re-anchored: its last point was ahead of the receive clock", metadata: [
                "series": "\(SeriesKeyText.escaped(detector.key))", "last_timestamp": "\(detector.lastTimestamp)",
                "received_at": "\(receivedWall)", "refused_in_a_row": "\(slot.refusedInARow)"])
            detector.reanchor()
            slot.refusedInARow = 0
            slot.reanchors += 1
            guard let outcome = try? detector.process(timestamp: point.timestamp, value: point.value, prefetching: next) else {
                return .outOfOrder
            }
            if let event = outcome.event {
                pendingEvents.append(event)
                if let review = detector.makeReviewJob(for: event) { queueReview(review) }
            }
            slot.refusedOutOfOrder -= 1  // the point that triggered the re-anchoring was accepted after all
        }
        markDirty(slot)
        if !slot.queued, detector.isTrainingDue(now: now) { markDue(slot) }
        return .accepted
    }

    /// What became of one point.
    enum PointFate {
        case accepted
        /// Not newer than the series' last point.
        case outOfOrder
        /// More than `[clock] max_future` ahead of its receive time.
        case future
        /// Waiting for its series to be restored, or its series was refused at `max_series` (counted there).
        case held
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
        applyOperatorRules(toNew: slot)
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

    /// Under saturation the shard trains one due series itself (untrained series first, as the due set orders them)
    /// when every trainer is busy and it has earned the time: `training_share` of its point-processing time. The
    /// trainers run at nice 10, so a saturated machine can give them no CPU at all; this keeps first models coming
    /// at the cost of that share of ingest capacity.
    private func trainInlineIfStarved() {
        guard config.pipeline.trainingShare > 0, trainingCredit > 0, !due.isEmpty, trainers.freeSlots == 0,
              let (key, _) = due.min(by: { $0.value < $1.value }) else { return }
        due.removeValue(forKey: key)
        guard let slot = detectors[key] else { return }
        slot.queued = false
        let detector = slot.detector
        guard detector.isTrainingDue(now: clock.wall()) else { return }
        let start = clock.monotonic()
        let outcome = detector.makeTrainingJob(now: clock.wall()).run()
        trainingCredit -= clock.monotonic() - start
        stats.trainingsDone.wrappingAdd(1, ordering: .relaxed)
        stats.trainingsInline.wrappingAdd(1, ordering: .relaxed)
        if outcome.accepted {
            stats.trainingsAccepted.wrappingAdd(1, ordering: .relaxed)
        } else {
            stats.trainingsRejected.wrappingAdd(1, ordering: .relaxed)
        }
        install(outcome)
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
            var update = Self.summary(of: slot.detector)
            // Refusals travel as deltas since the last summary; the store adds them to its totals.
            update.refusedOutOfOrder = slot.refusedOutOfOrder - slot.reportedRefusals.outOfOrder
            update.refusedFuture = slot.refusedFuture - slot.reportedRefusals.future
            slot.reportedRefusals = (slot.refusedOutOfOrder, slot.refusedFuture)
            updates.append(update)
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
        dropHeldPoints()
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
    /// Points refused since the series was (re)created here: not newer than its last point, and too far ahead.
    var refusedOutOfOrder = 0
    var refusedFuture = 0
    /// Consecutive out-of-order refusals (reset by an accepted point), and re-anchorings so far.
    var refusedInARow = 0
    var reanchors = 0
    /// The refusal counts already sent in a summary.
    var reportedRefusals = (outOfOrder: 0, future: 0)
    /// What the stored checkpoint holds: points seen and model version when it was taken (nil: none stored yet).
    var checkpointed: (points: Int, version: Int)?
    /// Wall time of the series' last point (idle eviction), and the ingest id of its key (-1: none yet).
    var lastSeen = 0.0
    var seriesID = -1

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
