import Recurrent

extension SeriesDetector {
    /// Format version of the detector checkpoint blob; bump on any layout change. Version 6 stores the window as
    /// Float32 values with run-length coded timestamp steps and the weights once, as the int8 stepping copy (a
    /// restored series steps exactly as it did) and its residual (what its next training warm-starts from, with
    /// the copy). Versions 5 (half-precision master weights, then the int8 copy) and 1 (Float64 window, Float32
    /// weights) still restore: the residual is taken against their master weights. Version 7 adds the open
    /// episode's cause (an episode restored from an older one has none until its next peak).
    public static let checkpointVersion: UInt8 = 7
    /// Versions `init(key:config:checkpoint:)` reads.
    public static let readableCheckpointVersions: Set<UInt8> = [1, 5, 6, 7]

    /// Everything the series has learned: window, weights, recurrent state, normaliser, scorer statistics,
    /// episode state and counters, as one blob (the daemon stores it in the `models` table).
    public func checkpoint() -> [UInt8] { checkpoint(key: key) }

    /// The checkpoint as if this series were named `key` (benchmarks copy one series' whole state this way).
    public func checkpoint(key: String) -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.checkpointVersion)
        w.string(key)
        w.int(pointsSeen)
        w.double(firstTimestamp)
        w.double(lastTimestamp)
        window.encode(into: &w)
        w.int(modelVersion)
        // A bfloat16 copy has no blob of its own: stored as the Float32 weights it stands for (exact, and the
        // restore derives the same bfloat16 copy from them).
        if case .bfloat16 = steppingWeights, let model {
            w.blob(InferenceModel.float32(model).serialized())
        } else {
            w.blob(steppingWeights?.serialized() ?? [])
        }
        w.blob(steppingResidual?.serialized() ?? [])
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

    /// Restores a detector from `checkpoint()` (this version, 5 or 1); a wrong version, key or model shape is an
    /// error that says which, and the caller starts the series afresh.
    public convenience init(key: String, config: DetectorConfig, checkpoint: [UInt8]) throws(CheckpointError) {
        self.init(key: key, config: config)
        var r = ByteReader(checkpoint)
        let version = try r.u8()
        guard Self.readableCheckpointVersions.contains(version) else {
            throw CheckpointError("checkpoint format version \(version), this build reads versions 1, 5, 6 and \(Self.checkpointVersion)")
        }
        let storedKey = try r.string()
        guard storedKey == key else { throw CheckpointError("checkpoint belongs to series \(storedKey)") }
        let points = try r.int()
        let first = try r.double()
        let last = try r.double()
        var window = CompactWindow(capacity: config.learning.window)
        if version == 1 {
            let vs = try r.doubles()
            let ts = try r.doubles()
            let ex = try r.blob()
            guard vs.count == ts.count, ts.count == ex.count else { throw CheckpointError("checkpoint window is inconsistent") }
            // The configured window may have changed since the checkpoint: keep the newest points that fit.
            for i in max(0, vs.count - window.capacity)..<vs.count {
                window.append(timestamp: ts[i], value: vs[i], excluded: ex[i] != 0)
            }
        } else {
            window = try CompactWindow.decode(from: &r, capacity: config.learning.window)
        }
        let modelVersion = try r.int()
        let (stepping, residual) = try Self.readWeights(version: version, from: &r, shape: Self.shape(config))
        let center = try r.double()
        let scale = try r.double()
        let cal = try r.bool()
        let h = try r.floats()
        let c = try r.floats()
        var pend: Prediction? = nil
        if try r.u8() == 1 { pend = Prediction(mean: try r.float(), logVariance: try r.float()) }
        let scorerBytes = try r.blob()
        let machine = try EpisodeMachine(config: config.episodes, reading: &r, series: key, withCause: version >= 7)
        let accepted = try r.int()
        let rejected = try r.int()
        let lastRetrain = try r.double()
        let score = try r.double()
        let cadence = try r.int()
        let state = RecurrentState(h: h, c: c)
        if let stepping {
            let zero = RecurrentState(shape: stepping.shape)
            guard h.count == zero.h.count, c.count == zero.c.count else {
                throw CheckpointError("recurrent state does not match the model shape")
            }
        }
        var restoredScorer: Scorer? = nil
        if !scorerBytes.isEmpty {
            do {
                restoredScorer = try Scorer(config: config.scoring, checkpoint: scorerBytes)
            } catch {
                throw CheckpointError("scorer: \(error.description)")
            }
        }
        restore(points: points, first: first, last: last, window: window, stepping: stepping, residual: residual,
                version: modelVersion,
                normaliser: Normaliser(center: center, scale: scale), calendar: cal, state: state, pending: pend,
                scorer: restoredScorer, episodes: machine, accepted: accepted, rejected: rejected,
                lastRetrain: lastRetrain.isNaN ? nil : lastRetrain, lastScore: score, pointsAtLastTraining: cadence)
    }

    /// The weights of a checkpoint: version 6 holds the stepping copy and its residual; versions 5 and 1 hold
    /// master weights (half precision, Float32) and version 5 the stepping copy too, used when it was made from
    /// those masters' training (same shape), else derived from the masters; their residual is taken against the
    /// masters. Nil for a learning series.
    private static func readWeights(
        version: UInt8, from r: inout ByteReader, shape: ModelShape
    ) throws(CheckpointError) -> (InferenceModel?, QuantizationResidual?) {
        var master: HalfPrecisionModel? = nil
        if version < 6 {
            let modelBlob = try r.blob()
            if !modelBlob.isEmpty {
                do {
                    master = try HalfPrecisionModel(serialized: modelBlob)
                } catch {
                    throw CheckpointError("model: \(error.description)")
                }
            }
        }
        var stepping: InferenceModel? = nil
        if version >= 5 {
            let steppingBlob = try r.blob()
            do {
                stepping = try InferenceModel(serialized: steppingBlob)
            } catch {
                throw CheckpointError("stepping weights: \(error.description)")
            }
        }
        var residual: QuantizationResidual? = nil
        if version >= 6 {
            let residualBlob = try r.blob()
            if !residualBlob.isEmpty {
                do {
                    residual = try QuantizationResidual(serialized: residualBlob)
                } catch {
                    throw CheckpointError("weight residual: \(error.description)")
                }
            }
        } else if let master {
            // The masters decide whether the series is trained; a stored copy of another shape is not theirs.
            let weights = master.expanded()
            if stepping?.shape != master.shape { stepping = .float32(weights) }
            residual = stepping?.residual(of: weights)
        } else {
            stepping = nil
        }
        if let stepping, stepping.shape != shape {
            throw CheckpointError("model shape \(stepping.shape) differs from the configured \(shape)")
        }
        if let residual, stepping == nil || residual.shape != stepping?.shape {
            throw CheckpointError("weight residual does not match the stepping weights")
        }
        return (stepping, residual)
    }
}
