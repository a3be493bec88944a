import Detection
import History
import Messaging

extension PipelineStats {
    /// Counts one payload's rejections by reason (ingest calls it only when something was rejected).
    func countRejections(_ summary: ParseSummary) {
        if summary.malformed > 0 { rejectedMalformed.wrappingAdd(summary.malformed, ordering: .relaxed) }
        if summary.nonFinite > 0 { rejectedNonFinite.wrappingAdd(summary.nonFinite, ordering: .relaxed) }
        if summary.badTimestamp > 0 { rejectedBadTimestamp.wrappingAdd(summary.badTimestamp, ordering: .relaxed) }
        if summary.keyTooLong > 0 { rejectedKeyTooLong.wrappingAdd(summary.keyTooLong, ordering: .relaxed) }
        if summary.invalidUTF8 > 0 { rejectedInvalidUTF8.wrappingAdd(summary.invalidUTF8, ordering: .relaxed) }
    }

    /// Counts what one committed write transaction stored: episodes opened and closed, checkpoint bytes.
    func countCommitted<C: Collection>(events: [EpisodeEvent], checkpoints: C) where C.Element == ModelCheckpoint {
        var opened = 0, closed = 0
        var causes: [Int]? = nil
        for event in events {
            switch event.kind {
            case .open:
                opened += 1
                if causes == nil { causes = [Int](repeating: 0, count: Self.causeLabels.count) }
                causes?[Self.causeSlot(event.cause)] += 1
            case .close: closed += 1
            case .update: break
            }
        }
        if opened > 0 { episodesOpened.wrappingAdd(opened, ordering: .relaxed) }
        if let causes {
            openedByCause.withLock { counts in for i in counts.indices { counts[i] &+= causes[i] } }
        }
        if closed > 0 { episodesClosed.wrappingAdd(closed, ordering: .relaxed) }
        var bytes = 0
        for checkpoint in checkpoints { bytes += checkpoint.blob.count }
        if bytes > 0 { checkpointBytes.wrappingAdd(bytes, ordering: .relaxed) }
    }
}
