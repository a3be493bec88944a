import Detection

extension Shard {
    /// What the Kafka ingest asks of a shard when partitions, and with them series, come and go. The replies run
    /// on the shard's thread after every point posted before the request (the mailbox is first in, first out), so a
    /// checkpoint covers every point ingest handed over before asking.
    enum OwnershipRequest: Sendable {
        /// Take over these series from their changelog checkpoints (their partition was assigned here).
        case adopt([SeriesState], done: @Sendable (_ adopted: Int, _ rejected: Int) -> Void)
        /// Checkpoint every series changed since its last changelog checkpoint and hand them over.
        case checkpointChanged(reply: @Sendable ([SeriesState]) -> Void)
        /// Checkpoint these series (when `checkpoint`), hand them over, and forget them: their partition is gone.
        case release(Set<String>, checkpoint: Bool, reply: @Sendable ([SeriesState]) -> Void)
        /// The last changelog round was not delivered: the next one checkpoints every series again.
        case forgetChangelog
    }

    func handle(_ request: OwnershipRequest) {
        switch request {
        case .adopt(let checkpoints, let done):
            var adopted = 0, rejected = 0
            // A series still held (a partition lost and assigned back) is replaced by its changelog state.
            _ = release(Set(checkpoints.map(\.key)), checkpoint: false)
            for cp in checkpoints {
                do {
                    let d = try SeriesDetector(key: cp.key, config: config.detectorConfig(for: cp.key), checkpoint: cp.blob)
                    adopt(d)
                    changelog.marks[cp.key] = (d.pointsSeen, d.modelVersion)
                    if let slot = detectors[cp.key] {
                        // This database has not stored this state yet: write its summary now, its checkpoint next round.
                        slot.checkpointed = nil
                        markDirty(slot)
                    }
                    adopted += 1
                } catch {
                    rejected += 1
                    logger.warning("changelog checkpoint rejected; the series relearns from its next points", metadata: [
                        "series": "\(cp.key)", "reason": "\(error.description)"])
                }
            }
            done(adopted, rejected)
        case .checkpointChanged(let reply):
            var out: [SeriesState] = []
            for (key, slot) in detectors {
                let d = slot.detector
                if let mark = changelog.marks[key], mark.points == d.pointsSeen, mark.version == d.modelVersion { continue }
                changelog.marks[key] = (d.pointsSeen, d.modelVersion)
                out.append(SeriesState(key: key, blob: d.checkpoint()))
            }
            reply(out)
        case .release(let keys, let checkpoint, let reply):
            reply(release(keys, checkpoint: checkpoint))
        case .forgetChangelog:
            changelog.marks.removeAll()
        }
    }

    /// Drops the series in `keys` this shard holds, after flushing their events and summaries; returns their
    /// checkpoints when `checkpoint`.
    private func release(_ keys: Set<String>, checkpoint: Bool) -> [SeriesState] {
        flushEvents()
        emitSummaries()
        var out: [SeriesState] = []
        var removed = 0
        for key in keys {
            guard let slot = detectors.removeValue(forKey: key) else { continue }
            let d = slot.detector
            d.cancelTraining()
            if checkpoint { out.append(SeriesState(key: key, blob: d.checkpoint())) }
            due.removeValue(forKey: key)
            changelog.marks.removeValue(forKey: key)
            removed += 1
        }
        guard removed > 0 else { return out }
        stats.series.wrappingSubtract(removed, ordering: .relaxed)
        for i in slotsByID.indices {
            if let slot = slotsByID[i], keys.contains(slot.detector.key) { slotsByID[i] = nil }
        }
        return out
    }
}

/// Points seen and model version of each series as its last changelog checkpoint holds it; only the shard's
/// thread touches it.
final class ChangelogMarks: @unchecked Sendable {
    var marks: [String: (points: Int, version: Int)] = [:]
}
