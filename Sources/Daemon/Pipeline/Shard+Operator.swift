import Configuration
import Detection
import History

/// A shard's copy of the operator's mutes and labels. The per-point path never reads it: a mute sets the
/// `isMuted` flag of each matching series' detector when the list changes or a mute starts or ends, and a label
/// is handed to its series' detector once.
struct ShardOperatorRules {
    /// Mutes not over yet (some may start later).
    var mutes: [MuteRecord] = []
    /// Wall time of the next start or end among `mutes` (infinity: none), when the flags must be refreshed.
    var nextChange = Double.infinity
    /// Labels of series this shard has not seen yet (no points since the start), applied on their first point.
    var pendingLabels: [String: [LabelRecord]] = [:]
    /// Patterns of the mutes in force at the last refresh.
    var activePatterns: [SeriesOverride] = []

    /// Most labels kept for series not seen yet (a label of a long-gone series should not pin memory forever).
    static let pendingLabelLimit = 10_000
}

extension Shard {
    /// Replaces the mute list and refreshes every series' flag.
    func applyMutes(_ mutes: [MuteRecord], now: Double) {
        operatorRules.mutes = mutes
        refreshMutes(now: now)
    }

    /// Refreshes the flags when a mute starts or ends (one comparison per loop turn otherwise).
    @inline(__always)
    func refreshMutesIfDue(now: Double) {
        if now >= operatorRules.nextChange { refreshMutes(now: now) }
    }

    /// Sets `isMuted` on every series from the mutes in force at `now`; closes episodes the mutes interrupt.
    private func refreshMutes(now: Double) {
        operatorRules.mutes.removeAll { $0.endsAt <= now || $0.liftedAt != nil }
        var next = Double.infinity
        var active: [SeriesOverride] = []
        for mute in operatorRules.mutes {
            if mute.isActive(at: now) {
                active.append(SeriesOverride(pattern: mute.pattern))
                next = min(next, mute.endsAt)
            } else if mute.startsAt > now {
                next = min(next, mute.startsAt)
            }
        }
        operatorRules.nextChange = next
        operatorRules.activePatterns = active
        var muted = 0
        for slot in detectors.values {
            let isMuted = active.contains { $0.matches(slot.detector.key) }
            if let close = slot.detector.setMuted(isMuted) { pendingEvents.append(close) }
            if isMuted { muted += 1 }
        }
        seriesMuted.store(muted, ordering: .relaxed)
    }

    /// Hands labels to their series' detectors; labels of series not seen yet wait for their first point.
    func applyLabels(_ labels: [LabelRecord]) {
        for label in labels {
            if let slot = detectors[label.series] {
                Self.apply(label, to: slot.detector)
            } else if operatorRules.pendingLabels.count < ShardOperatorRules.pendingLabelLimit
                        || operatorRules.pendingLabels[label.series] != nil {
                operatorRules.pendingLabels[label.series, default: []].append(label)
            }
        }
    }

    /// A new series gets the mutes in force and any labels that were waiting for it.
    func applyOperatorRules(toNew slot: SeriesSlot) {
        if !operatorRules.activePatterns.isEmpty,
           operatorRules.activePatterns.contains(where: { $0.matches(slot.detector.key) }) {
            _ = slot.detector.setMuted(true)
            seriesMuted.wrappingAdd(1, ordering: .relaxed)
        }
        if !operatorRules.pendingLabels.isEmpty,
           let labels = operatorRules.pendingLabels.removeValue(forKey: slot.detector.key) {
            for label in labels { Self.apply(label, to: slot.detector) }
        }
    }

    private static func apply(_ label: LabelRecord, to detector: SeriesDetector) {
        switch label.kind {
        case .notAnomaly:
            detector.learnNotAnomaly(anomalyID: label.anomalyID, value: label.peakValue,
                                     predicted: label.peakPredicted, peakAt: label.peakAt)
        case .confirmed:
            detector.forgetLabel(anomalyID: label.anomalyID)
        }
    }

    /// Counts trained series for `/metrics` (once a second; a pass over this shard's series).
    func countSeriesStates() {
        var trained = 0
        for slot in detectors.values where slot.detector.state == .trained { trained += 1 }
        seriesTrained.store(trained, ordering: .relaxed)
    }
}
