import Configuration
import Foundation
import History
import Synchronization

/// The writer's part in bounded cardinality and idle eviction: it deletes checkpoints of series silent for
/// `limits.idle_delete_after` (hourly) and stores the residency counters for `omen series --summary`.
///
/// Commit order: a shard that evicts a series posts its checkpoint and notes `durableTurns`; the writer counts a
/// turn only when it ends with nothing pending, and a turn that began before the post may already have taken its
/// messages, so the checkpoint is in SQLite once `durableTurns` has moved on by two. Until then the shard keeps the
/// evicted series' blob and restores from it (`Shard+Eviction.swift`).
struct WriterResidency {
    var lastIdleDelete = 0.0
    var lastCounters = 0.0
    var saved: [String: Int] = [:]
}

extension Writer {
    /// Counters persisted for `omen series --summary`.
    static let persistedCounters = ["series", "series_refused", "points_refused", "series_evicted", "series_restored",
                                    "series_idle"]

    func applyResidency(now: Double) {
        guard !isAbandoned else { return }
        if config.limits.idleDeleteAfter > 0, now - residency.lastIdleDelete >= 3600 {
            residency.lastIdleDelete = now
            do {
                let deleted = try store.deleteCheckpoints(savedBefore: clock.wall() - config.limits.idleDeleteAfter)
                if deleted > 0 {
                    logger.info("deleted checkpoints of series silent for idle_delete_after", metadata: [
                        "checkpoints": "\(deleted)", "idle_delete_after_s": "\(Int(config.limits.idleDeleteAfter))"])
                }
            } catch {
                logger.warning("idle checkpoint deletion failed", metadata: ["error": "\(error)"])
            }
        }
        guard now - residency.lastCounters >= 2 else { return }
        residency.lastCounters = now
        let snapshot = stats.snapshot()
        var counters: [String: Int] = [:]
        for name in Self.persistedCounters { counters[name] = snapshot[name] ?? 0 }
        guard counters != residency.saved else { return }
        do {
            try store.saveCounters(counters, refusedExample: stats.refusedExample.withLock { $0 })
            residency.saved = counters
        } catch {
            logger.warning("counters not stored", metadata: ["error": "\(error)"])
        }
    }
}
