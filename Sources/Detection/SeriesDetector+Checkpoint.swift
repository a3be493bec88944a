import Recurrent

extension SeriesDetector {
    /// Format version of the detector checkpoint blob; bump on any layout change.
    public static let checkpointVersion: UInt8 = 1

    /// Everything the series has learned: window, weights, recurrent state, normaliser, scorer statistics,
    /// episode state and counters, as one blob (the daemon stores it in the `models` table).
    public func checkpoint() -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.checkpointVersion)
        w.string(key)
        w.int(pointsSeen)
        w.double(firstTimestamp)
        w.double(lastTimestamp)
        let points = window.toArray()
        w.doubles(points.map(\.value))
        w.doubles(points.map(\.timestamp))
        w.blob(points.map { $0.excluded ? 1 : 0 })
        w.int(modelVersion)
        w.blob(model?.serialized() ?? [])
        w.double(normaliser.center)
        w.double(normaliser.scale)
        w.bool(calendar)
        w.floats(currentState.h)
        w.floats(currentState.c)
        if let p = pendingPrediction {
            w.u8(1)
            w.float(p.mean)
            w.float(p.logVariance)
        } else {
            w.u8(0)
        }
        w.blob(scorerCheckpoint())
        episodes.write(to: &w)
        w.int(retrainsAccepted)
        w.int(retrainsRejected)
        w.double(lastRetrainAt ?? .nan)
        w.double(lastScore)
        w.int(trainingCadencePoints)
        return w.bytes
    }

    /// Restores a detector from `checkpoint()`; a wrong version, key or model shape is an error that says which,
    /// and the caller starts the series afresh.
    public convenience init(key: String, config: DetectorConfig, checkpoint: [UInt8]) throws(CheckpointError) {
        self.init(key: key, config: config)
        var r = ByteReader(checkpoint)
        let version = try r.u8()
        guard version == Self.checkpointVersion else {
            throw CheckpointError("checkpoint format version \(version), this build reads \(Self.checkpointVersion)")
        }
        let storedKey = try r.string()
        guard storedKey == key else { throw CheckpointError("checkpoint belongs to series \(storedKey)") }
        let points = try r.int()
        let first = try r.double()
        let last = try r.double()
        let vs = try r.doubles()
        let ts = try r.doubles()
        let ex = try r.blob()
        guard vs.count == ts.count, ts.count == ex.count else { throw CheckpointError("checkpoint window is inconsistent") }
        let version2 = try r.int()
        let modelBlob = try r.blob()
        var restoredModel: RecurrentModel? = nil
        if !modelBlob.isEmpty {
            do {
                restoredModel = try RecurrentModel(serialized: modelBlob)
            } catch {
                throw CheckpointError("model: \(error.description)")
            }
            guard restoredModel?.shape == Self.shape(config) else {
                throw CheckpointError("model shape \(String(describing: restoredModel?.shape)) differs from the configured \(Self.shape(config))")
            }
        }
        let center = try r.double()
        let scale = try r.double()
        let cal = try r.bool()
        let h = try r.floats()
        let c = try r.floats()
        var pend: Prediction? = nil
        if try r.u8() == 1 { pend = Prediction(mean: try r.float(), logVariance: try r.float()) }
        let scorerBytes = try r.blob()
        let machine = try EpisodeMachine(config: config.episodes, reading: &r, series: key)
        let accepted = try r.int()
        let rejected = try r.int()
        let lastRetrain = try r.double()
        let score = try r.double()
        let cadence = try r.int()
        let state = RecurrentState(h: h, c: c)
        if let restoredModel {
            let zero = RecurrentState(shape: restoredModel.shape)
            guard h.count == zero.h.count, c.count == zero.c.count else {
                throw CheckpointError("recurrent state does not match the model shape")
            }
        }
        let restoredScorer: Scorer
        do {
            restoredScorer = try Scorer(config: config.scoring, checkpoint: scorerBytes)
        } catch {
            throw CheckpointError("scorer: \(error.description)")
        }
        restore(points: points, first: first, last: last, values: vs, timestamps: ts, excluded: ex,
                model: restoredModel, version: version2, normaliser: Normaliser(center: center, scale: scale),
                calendar: cal, state: state, pending: pend, scorer: restoredScorer, episodes: machine,
                accepted: accepted, rejected: rejected, lastRetrain: lastRetrain.isNaN ? nil : lastRetrain,
                lastScore: score, pointsAtLastTraining: cadence)
    }
}
