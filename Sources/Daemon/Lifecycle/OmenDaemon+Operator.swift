import Foundation
import History
import Logging
import Messaging
import ServiceLifecycle
import Synchronization

/// What the daemon last read from the `labels` and `mutes` tables, so each poll posts only what changed.
final class OperatorState: Sendable {
    private struct State {
        var lastLabelID: Int64 = 0
        var mutes: [MuteRecord] = []
        var lastFailureLog = -Double.infinity
    }

    private let state = Mutex(State())

    /// Mutes in force now (for `/metrics`).
    var activeMutes: Int {
        let now = wallSeconds()
        return state.withLock { $0.mutes.filter { $0.isActive(at: now) }.count }
    }

    /// Records a poll's result; returns the labels that are new and the mute list if it changed.
    fileprivate func absorb(labels: [LabelRecord], mutes: [MuteRecord]) -> (labels: [LabelRecord], mutes: [MuteRecord]?) {
        state.withLock { s in
            let fresh = labels.filter { $0.id > s.lastLabelID }
            if let last = fresh.last { s.lastLabelID = last.id }
            let changed = mutes != s.mutes
            if changed { s.mutes = mutes }
            return (fresh, changed ? mutes : nil)
        }
    }

    fileprivate var lastLabelID: Int64 { state.withLock { $0.lastLabelID } }

    /// Whether a failure may be logged now (at most once a minute).
    fileprivate func mayLogFailure(now: Double) -> Bool {
        state.withLock { s in
            guard now - s.lastFailureLog >= 60 else { return false }
            s.lastFailureLog = now
            return true
        }
    }
}

extension OmenDaemon {
    /// Seconds between polls of the labels and mutes tables: how soon `omen label`, `omen mute` and
    /// `omen unmute` reach the running daemon.
    static let operatorPollInterval = 2.0

    /// Reads labels newer than the last seen and the mutes not yet over, and posts what changed to the shards
    /// (labels to the shard owning their series, the mute list to every shard).
    func pollOperatorTables() {
        let now = wallSeconds()
        let labels: [LabelRecord]
        let mutes: [MuteRecord]
        do {
            labels = try store.labels(afterID: operatorState.lastLabelID)
            mutes = try store.mutes(at: now)
        } catch {
            if operatorState.mayLogFailure(now: now) {
                logger.warning("could not read labels and mutes; will retry", metadata: ["error": "\(error)"])
            }
            return
        }
        let (fresh, changedMutes) = operatorState.absorb(labels: labels, mutes: mutes)
        if !fresh.isEmpty {
            var perShard = [[LabelRecord]](repeating: [], count: shards.count)
            for label in fresh { perShard[router.shard(for: label.series)].append(label) }
            for (i, batch) in perShard.enumerated() where !batch.isEmpty { shards[i].mailbox.post(.labels(batch)) }
            logger.info("labels applied", metadata: ["labels": "\(fresh.count)"])
        }
        if let changedMutes {
            for shard in shards { shard.mailbox.post(.mutes(changedMutes)) }
            logger.info("mutes updated", metadata: [
                "mutes": "\(changedMutes.count)", "active": "\(changedMutes.filter { $0.isActive(at: now) }.count)"])
        }
    }
}

/// Polls the labels and mutes tables every `OmenDaemon.operatorPollInterval` seconds while running.
struct OperatorPollService: Service {
    let daemon: OmenDaemon

    func run() async throws {
        // Cancellation (another service failed, e.g. the database file was deleted) ends the loop as a graceful
        // shutdown does: a cancelled sleep returns at once, so checking only for the graceful case would spin.
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            _ = try? await cancelWhenGracefulShutdown {
                try await Task.sleep(for: .milliseconds(Int(OmenDaemon.operatorPollInterval * 1000)))
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            daemon.pollOperatorTables()
        }
    }
}
