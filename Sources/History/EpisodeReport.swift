import Foundation

/// `omen show ID`: one episode with its explanation, as text for people or one JSON object.
public struct EpisodeReport: Sendable {
    public var episode: AnomalyRecord
    public var label: LabelRecord?
    public var model: ModelSummary?
    /// The scorer's h: score = s / (s + h), s = −log10 p.
    public var surpriseHalf: Double

    public init(episode: AnomalyRecord, label: LabelRecord?, model: ModelSummary?, surpriseHalf: Double = 4) {
        self.episode = episode
        self.label = label
        self.model = model
        self.surpriseHalf = surpriseHalf
    }

    /// −log10 of the tail probability behind the peak score (nil when the score is not in (0, 1)).
    public var peakSurprise: Double? {
        let s = episode.peakScore
        guard s.isFinite, s > 0, s < 1 else { return nil }
        return surpriseHalf * s / (1 - s)
    }

    /// How far the peak value was from the prediction, in half-widths of the expected band (signed: + above).
    public var bandDistance: Double? {
        let e = episode
        guard e.value.isFinite, e.predicted.isFinite, e.lower.isFinite, e.upper.isFinite else { return nil }
        let half = e.value >= e.predicted ? e.upper - e.predicted : e.predicted - e.lower
        guard half > 0 else { return nil }
        return (e.value - e.predicted) / half
    }

    public func text() -> String {
        let e = episode
        let n = Listing.number
        var lines: [(String, String)] = []
        let state = e.closedAt.map { "closed \(TimeArgument.formatISO8601($0)) (\(e.closeReason ?? "recovered"))" } ?? "open"
        lines.append(("episode", "\(e.id): episode \(e.number) of \(e.series), \(state)"))
        lines.append(("opened", "\(TimeArgument.formatISO8601(e.openedAt)), \(e.points) point\(e.points == 1 ? "" : "s")"))
        var peak = "\(TimeArgument.formatISO8601(e.peakAt)), score \(Listing.score(e.peakScore)) "
            + "(threshold \(Listing.score(e.threshold)))"
        if let s = peakSurprise { peak += String(format: ": a tail probability p ≈ 10^-%.1f", s) }
        lines.append(("peak", peak))
        var value = "\(n(e.value)), predicted \(n(e.predicted)), expected \(n(e.lower)) .. \(n(e.upper))"
        if let d = bandDistance {
            value += String(format: " (%.1f band half-widths %@ the prediction)", abs(d), d >= 0 ? "above" : "below")
        }
        lines.append(("value", value))
        lines.append(("cause", e.cause.map { "\($0.rawValue): \($0.explanation)" }
            ?? "not recorded (stored by an older build)"))
        var modelText = "version \(e.modelVersion) at the peak"
        if let m = model {
            modelText += "; stored model version \(m.version) (\(m.cell), hidden \(m.hiddenSize)"
            if let t = m.trainedAt { modelText += ", trained \(TimeArgument.formatISO8601(t))" }
            if let v = m.validationLoss { modelText += ", validation loss " + String(format: "%.4g", v) }
            modelText += ")"
        }
        lines.append(("model", modelText))
        if let h = e.hindsightScore {
            lines.append(("hindsight", String(format: "%.4f", h) + " (the closed episode re-read from both sides: high = a "
                + "deviation the series came back from, low = a level it then kept)"))
        } else {
            lines.append(("hindsight", e.closedAt == nil ? "not yet (reviewed when the episode closes)" : "not reviewed"))
        }
        if let l = label {
            var text = "\(l.kind.rawValue) (\(TimeArgument.formatISO8601(l.createdAt)))"
            if let note = l.note, !note.isEmpty { text += ": \(note)" }
            lines.append(("label", text))
        } else {
            lines.append(("label", "none (omen label \(e.id) --not-anomaly | --confirmed)"))
        }
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 + "\n" }.joined()
    }

    public func json() -> String {
        let j = Listing.json as (Double?) -> String
        var fields = Array(zip(Listing.anomalyFields, Listing.jsonValues(episode)))
        fields.append(("peak_surprise", j(peakSurprise)))
        fields.append(("band_distance", j(bandDistance)))
        fields.append(("label_note", Listing.json(label?.note)))
        fields.append(("labelled_at", j(label?.createdAt)))
        fields.append(("stored_model_version", model.map { Listing.json($0.version) } ?? "null"))
        fields.append(("stored_model_trained_at", j(model?.trainedAt)))
        fields.append(("stored_model_validation_loss", j(model?.validationLoss)))
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}\n"
    }
}
