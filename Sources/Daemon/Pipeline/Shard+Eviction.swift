import Configuration
import Detection
import Foundation
import History
import Logging

/// A shard's bookkeeping for bounded cardinality (`limits.max_series`) and idle eviction (`limits.idle_after`);
/// owned by the shard thread.
///
/// - Admission: a series takes a place under `max_series` (one counter shared by all shards, `stats.series`)
///   when it is created or restored, and gives it back when evicted. At the limit a new key is refused: its points
///   are dropped and counted, and the key is logged at most every 10 s with an example.
/// - Eviction: a series without a point for `idle_after` (and no training in flight) is checkpointed and dropped;
///   its key stays here (about 100 bytes). Its next point is held while the loader thread restores it; later
///   points of that series queue behind it, so order is kept and the shard never waits on the database.
struct ShardResidency {
    /// Series held only as a checkpoint, by key.
    var evicted: [String: EvictedSeries] = [:]
    /// Points of series being restored, in arrival order.
    var held: [String: [Point]] = [:]
    /// Evicted series whose blob is kept until the writer has committed it: (key, durable after writer turn).
    var uncommitted: [(key: String, durableAfter: Int)] = []
    /// Idle series found by the last sweep, evicted a slice per loop turn.
    var idleQueue: [String] = []
    /// Distinct refused keys (bounded, for counting each key once).
    var refused: Set<String> = []
    var lastSweep = 0.0
    var lastRefusalLog = -Double.infinity
    var refusedSinceLog = 0
    var heldDropped = 0

    /// Most points held for one series while it loads; later ones are dropped and counted as refused.
    static let maxHeldPerSeries = 10_000
    /// Most refused keys remembered for counting them once.
    static let maxRefusedKeys = 100_000
    /// Series evicted per loop turn (each costs a checkpoint encode).
    static let evictionsPerTurn = 128
}

/// A series evicted to its checkpoint.
struct EvictedSeries {
    /// Wall time of its last point.
    var lastSeen: Double
    /// Its checkpoint while the writer may not have committed it yet (then restored from here, not the store).
    var blob: [UInt8]?
    /// A restore was requested; its points are in `ShardResidency.held`.
    var loading = false
}

extension Shard {
    // MARK: - Admission

    /// Takes a place under `max_series` for one more series; false at the limit.
    func reservePlace() -> Bool {
        let limit = config.limits.maxSeries
        guard limit > 0 else {
            stats.series.wrappingAdd(1, ordering: .relaxed)
            return true
        }
        var current = stats.series.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = stats.series.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// A point of a key this shard does not hold: restore it if evicted (the point waits), refuse it at the
    /// limit, or create the series. Returns the slot when the point can be processed now.
    func admit(_ point: Point, now: Double) -> SeriesSlot? {
        let key = point.key
        if residency.evicted[key]?.loading == true {
            hold(point)
            return nil
        }
        guard reservePlace() else {
            refuse(point, now: now)
            return nil
        }
        residency.refused.remove(key)
        if var entry = residency.evicted[key], let loader {
            entry.loading = true
            residency.evicted[key] = entry
            residency.held[key] = [point]
            loader.mailbox.post(SeriesLoader.Request(shard: index, key: key, blob: entry.blob))
            return nil
        }
        if residency.evicted.removeValue(forKey: key) != nil {
            stats.seriesIdle.wrappingSubtract(1, ordering: .relaxed)
        }
        return createSeries(key, now: now)
    }

    private func hold(_ point: Point) {
        if residency.held[point.key, default: []].count < ShardResidency.maxHeldPerSeries {
            residency.held[point.key, default: []].append(point)
        } else {
            residency.heldDropped += 1
            stats.pointsRefused.wrappingAdd(1, ordering: .relaxed)
        }
    }

    private func refuse(_ point: Point, now: Double) {
        stats.pointsRefused.wrappingAdd(1, ordering: .relaxed)
        if !residency.refused.contains(point.key) {
            if residency.refused.count < ShardResidency.maxRefusedKeys { residency.refused.insert(point.key) }
            stats.seriesRefused.wrappingAdd(1, ordering: .relaxed)
            stats.refusedExample.withLock { $0 = point.key }
        }
        residency.refusedSinceLog += 1
        if now - residency.lastRefusalLog >= 10 {
            residency.lastRefusalLog = now
            logger.warning("points of new series refused: limits.max_series reached", metadata: [
                "example_series": "\(SeriesKeyText.escaped(point.key))", "points_refused_since_last_log": "\(residency.refusedSinceLog)",
                "series_refused_total": "\(stats.seriesRefused.load(ordering: .relaxed))",
                "max_series": "\(config.limits.maxSeries)"])
            residency.refusedSinceLog = 0
        }
    }

    // MARK: - Restore

    /// Installs series the loader restored and runs the points they held, in order.
    func adoptRestored(_ restored: [RestoredSeries]) {
        let now = clock.wall()
        var processed = 0, outOfOrder = 0
        for r in restored {
            guard residency.evicted[r.key]?.loading == true else { continue }
            residency.evicted.removeValue(forKey: r.key)
            stats.seriesIdle.wrappingSubtract(1, ordering: .relaxed)
            let points = residency.held.removeValue(forKey: r.key) ?? []
            let slot: SeriesSlot
            if let detector = r.detector {
                slot = SeriesSlot(detector)
                slot.checkpointed = (detector.pointsSeen, detector.modelVersion)
                slot.lastSeen = now
                detectors[r.key] = slot
                applyOperatorRules(toNew: slot)
                stats.seriesRestored.wrappingAdd(1, ordering: .relaxed)
            } else {
                logger.warning("evicted series not restored; it starts afresh", metadata: [
                    "series": "\(r.key)", "reason": "\(r.failure ?? "unknown")"])
                knownEpisodes[r.key] = max(knownEpisodes[r.key] ?? 0, r.lastEpisode)
                slot = createSeries(r.key, now: now)
            }
            if let id = points.first?.seriesID { remember(slot, id: id) }
            points.withUnsafeBufferPointer { batch in
                for i in batch.indices {
                    // Held points arrived before `now`: measuring max_future from `now` refuses none wrongly.
                    switch process(batch, i, now: now, receivedWall: now) {
                    case .accepted: processed += 1
                    case .outOfOrder, .future: outOfOrder += 1
                    case .held: break
                    }
                }
            }
            if !slot.queued, slot.detector.isTrainingDue(now: now) { markDue(slot) }
        }
        stats.pointsProcessed.wrappingAdd(processed, ordering: .relaxed)
        if outOfOrder > 0 { stats.pointsOutOfOrder.wrappingAdd(outOfOrder, ordering: .relaxed) }
    }

    /// Forgets an evicted entry for a series that is held again by other means (a Kafka partition brought it).
    func forgetEvicted(_ key: String) {
        guard residency.evicted.removeValue(forKey: key) != nil else { return }
        stats.seriesIdle.wrappingSubtract(1, ordering: .relaxed)
        residency.held.removeValue(forKey: key)
    }

    /// Registers series that exist only as a checkpoint (before `start()`: those the daemon did not load).
    func registerEvicted(_ key: String, lastSeen: Double) {
        guard detectors[key] == nil, residency.evicted[key] == nil else { return }
        residency.evicted[key] = EvictedSeries(lastSeen: lastSeen, blob: nil)
        stats.seriesIdle.wrappingAdd(1, ordering: .relaxed)
    }

    /// Points still held at shutdown are lost (their series stays evicted, its checkpoint intact): counted, logged.
    func dropHeldPoints() {
        let held = residency.held.values.reduce(0) { $0 + $1.count }
        guard held > 0 else { return }
        stats.pointsRefused.wrappingAdd(held, ordering: .relaxed)
        logger.warning("points of series still being restored at shutdown were dropped", metadata: [
            "points": "\(held)", "series": "\(residency.held.count)"])
        residency.held.removeAll()
    }

    // MARK: - Eviction

    /// Once per loop turn: forgets blobs the writer has committed, sweeps for idle series now and then, evicts a
    /// slice of them, and forgets evicted series past `idle_delete_after`.
    func residencyTick() {
        if !residency.uncommitted.isEmpty {
            let durable = writer.durableTurns.load(ordering: .acquiring)
            var kept = 0
            for (key, after) in residency.uncommitted {
                if durable >= after {
                    residency.evicted[key]?.blob = nil
                } else {
                    residency.uncommitted[kept] = (key, after)
                    kept += 1
                }
            }
            residency.uncommitted.removeLast(residency.uncommitted.count - kept)
        }
        let limits = config.limits
        guard limits.idleAfter > 0 else { return }
        let wall = clock.wall()
        if wall - residency.lastSweep >= max(0.5, min(limits.idleAfter / 4, 60)) {
            residency.lastSweep = wall
            if residency.idleQueue.isEmpty {
                for (key, slot) in detectors where wall - slot.lastSeen >= limits.idleAfter {
                    residency.idleQueue.append(key)
                }
            }
            if limits.idleDeleteAfter > 0 {
                let forget = residency.evicted.filter { !$0.value.loading && wall - $0.value.lastSeen >= limits.idleDeleteAfter }
                for key in forget.keys { residency.evicted.removeValue(forKey: key) }
                if !forget.isEmpty { stats.seriesIdle.wrappingSubtract(forget.count, ordering: .relaxed) }
            }
        }
        guard !residency.idleQueue.isEmpty else { return }
        var batch: [ModelCheckpoint] = []
        var updates: [SeriesUpdate] = []
        var evictedKeys: [String] = []
        while evictedKeys.count < ShardResidency.evictionsPerTurn, let key = residency.idleQueue.popLast() {
            guard let slot = detectors[key], wall - slot.lastSeen >= limits.idleAfter,
                  !slot.detector.trainingInFlight else { continue }
            var blob: [UInt8]? = nil
            if !slot.isCheckpointCurrent {
                let checkpoint = Self.checkpoint(of: slot.detector)
                blob = checkpoint.blob
                batch.append(checkpoint)
                updates.append(Self.summary(of: slot.detector))
            }
            detectors.removeValue(forKey: key)
            if slot.seriesID >= 0, slot.seriesID < slotsByID.count, slotsByID[slot.seriesID] === slot {
                slotsByID[slot.seriesID] = nil
            }
            if slot.queued { due.removeValue(forKey: key) }
            residency.evicted[key] = EvictedSeries(lastSeen: slot.lastSeen, blob: blob)
            evictedKeys.append(key)
        }
        guard !evictedKeys.isEmpty else { return }
        if !batch.isEmpty {
            // Durable once the writer has ended two more turns with nothing pending (see `WriterResidency`).
            let after = writer.durableTurns.load(ordering: .acquiring) + 2
            writer.mailbox.post(.checkpoints(batch, series: updates))
            for cp in batch { residency.uncommitted.append((cp.key, after)) }
        }
        stats.series.wrappingSubtract(evictedKeys.count, ordering: .relaxed)
        stats.seriesEvicted.wrappingAdd(evictedKeys.count, ordering: .relaxed)
        stats.seriesIdle.wrappingAdd(evictedKeys.count, ordering: .relaxed)
        logger.debug("idle series evicted to their checkpoints", metadata: [
            "shard": "\(index)", "series": "\(evictedKeys.count)"])
    }
}
