import Foundation
import COmenSupport
import Recurrent

/// What the detector says about one point.
public struct PointOutcome: Sendable, Equatable {
    /// The prediction of this point's value made after the previous point (nil while learning).
    public var prediction: Double?
    /// Expected band for the value, in raw units.
    public var lower: Double
    public var upper: Double
    /// Anomaly score in [0, 1].
    public var score: Double
    /// True while the point is inside an anomaly episode.
    public var flag: Bool
    /// The episode transition this point caused, if any.
    public var event: EpisodeEvent?
    /// The scorer's terms for this point, with `ScoringConfig.recordTerms` (`omen replay --terms`).
    public var terms: ScoreTerms? = nil
    /// The evidence behind a score above 0 (`AnomalyCause`); nil where the score is 0.
    public var cause: AnomalyCause? = nil
}

/// Why a point was refused by the detector.
public enum PointRejection: String, Sendable, Error {
    /// Older than (or as old as) the series' last point.
    case outOfOrder = "out_of_order"
    /// Not finite.
    case nonFinite = "non_finite"
}

/// The detector of one series: rolling window, model and recurrent state, scorer, episode machine.
///
/// Owned by one shard (not thread-safe, no I/O). Per point: score the prediction made at the previous step
/// against the new value, update the episode, remember the point, then step the model to predict the next one.
/// Training happens elsewhere on a `TrainingJob` snapshot; its outcome is installed between points.
public final class SeriesDetector {
    public let key: String
    /// The configuration, shared with every series that has the same one (`Shared`).
    private var settings: Shared<DetectorConfig>
    public var config: DetectorConfig { settings.value }

    /// Points accepted since the series was first seen.
    public private(set) var pointsSeen = 0
    public private(set) var firstTimestamp: Double = .nan
    public private(set) var lastTimestamp: Double = -.infinity

    /// The rolling window (Float32 values, delta-coded timestamps, bit flags: see `CompactWindow`).
    private(set) var window: CompactWindow

    /// What the int8 stepping copy rounded away from the trained gate weights, to 1/254 of a quantisation step
    /// (`QuantizationResidual`); nil for other copies. Nothing reads it per point.
    /// (Declared first: the fields the per-point path reads keep the offsets, and so the cache lines, they had
    /// next to the master weights this replaces; moving them cost ~10% in `omen bench detect`.)
    private var residual: QuantizationResidual?
    /// The weights the online step reads, derived from the Float32 weights a training returned (int8 by
    /// default); nil while learning. With `residual` they are the series' only copy of its weights between
    /// trainings (no master weights): a training warm-starts from the two expanded to Float32 (`model`), and
    /// checkpoints store both as they are.
    private var inference: InferenceModel? {
        didSet {
            footprint = StepFootprint(model: inference, state: recurrentState)
            trained = inference != nil
        }
    }
    /// The trained weights as Float32: the stepping weights refined by their residual (a copy, made on demand;
    /// what a training warm-starts from).
    public var model: RecurrentModel? { inference?.expanded(residual: residual) }
    /// The precision of the stepping weights (`defaultInference` unless changed; Float32 for shapes without a
    /// compact form). Changing it re-derives them from `model`.
    public var inferencePrecision: InferencePrecision = SeriesDetector.defaultInference {
        didSet {
            if let model, inference?.precision != inferencePrecision.effective(for: model.shape) { adopt(model) }
        }
    }
    public private(set) var modelVersion = 0
    public private(set) var normaliser = Normaliser.identity
    public private(set) var calendar = false
    /// `inference != nil`, kept as a flag for the per-point path (that comparison copies the enum: a retain and a
    /// release of the weights' reference count per point).
    private var trained = false
    /// Stepped in place (no observer: one would copy it in and out of every step). Whoever replaces it refreshes
    /// `footprint`.
    private var recurrentState: RecurrentState
    /// Where this series' next step reads and writes, for the previous point to prefetch (see `StepFootprint`).
    private var footprint = StepFootprint()
    /// The prediction of the next value in model units, made after the last point.
    private var pending: Prediction?

    /// The scorer; nil while a series is learning (unless it alerts while learning): it is built when the first
    /// model arrives, from the points in the window (see `install`), so a learning series holds only its points.
    private var scorer: Scorer?
    public internal(set) var episodes: EpisodeMachine
    /// Not-anomaly labels of this series' episodes (SeriesDetector+Feedback.swift), applied after the scorer.
    public internal(set) var feedback = SeriesFeedback()
    /// Muted by the operator: no episodes open, points are not learned from (SeriesDetector+Feedback.swift).
    public internal(set) var isMuted = false

    public private(set) var trainingInFlight = false
    /// `pointsSeen` when the last training job was taken.
    private var pointsAtLastTraining = 0
    /// Points since the last training whose model input was clipped (`LearningConfig.retrainOutOfRange`).
    private var pointsOutOfRange = 0
    /// Wall time (seconds) when the last training job was taken.
    private var wallTimeAtLastTraining: Double = 0
    public private(set) var lastRetrainAt: Double?
    public private(set) var retrainsAccepted = 0
    public private(set) var retrainsRejected = 0
    public private(set) var lastScore: Double = 0
    public private(set) var lastTraining: TrainingReport?

    public init(key: String, config: DetectorConfig) {
        self.key = key
        settings = Shared.interned(config)
        window = CompactWindow(capacity: config.learning.window)
        recurrentState = RecurrentState(shape: Self.shape(config))
        scorer = Self.scoresWhileLearning(config) ? Scorer(config: config.scoring) : nil
        episodes = EpisodeMachine(config: config.episodes, series: key)
    }

    /// The precision of the weights the online step reads by default. Stepping thousands of series is bound by
    /// the bytes of weights streamed per step; see `InferencePrecision`.
    public static let defaultInference: InferencePrecision = .int8

    /// Starts loading this series' step weights and recurrent state into cache, for a shard to call on the next
    /// point's series while processing the current one. (In `omen bench step`, series stepped in allocation
    /// order, the hardware prefetcher already did as well; series scattered in memory are where it can help.)
    @inline(__always)
    public func prefetch() {
        footprint.prefetchWeights()
        footprint.prefetchState()
    }

    static func shape(_ config: DetectorConfig) -> ModelShape {
        ModelShape(cell: config.model.cell, inputSize: Features.width, hiddenSize: config.model.hiddenSize,
                   gaussianHead: true)
    }

    public var state: SeriesModelState { trained ? .trained : .learning }

    /// Points currently in the rolling window.
    public var windowCount: Int { window.count }

    /// Replaces the alerting part of the configuration (e.g. after a reload); the model is kept.
    public func updateEpisodes(_ config: EpisodeConfig) {
        var updated = self.config
        updated.episodes = config
        settings = Shared.interned(updated)
        episodes.config = config
        // Alerting while learning needs scores from the first point: build the scorer now from the window.
        if config.alertWhileLearning && scorer == nil {
            scorer = Self.scorer(config: self.config.scoring, replaying: window)
        }
    }

    /// Raises the episode counter so that a new episode never reuses a number the store already has.
    public func reserveEpisodes(upTo n: Int) {
        episodes.reserveEpisodes(upTo: n)
    }

    // MARK: - Per point

    /// Processes one point. Points must arrive in increasing timestamp order; others are rejected.
    public func process(timestamp: Double, value: Double) throws(PointRejection) -> PointOutcome {
        try process(timestamp: timestamp, value: value, prefetching: nil)
    }

    /// As `process(timestamp:value:)`, fetching `next`'s step weights and state into cache meanwhile: a shard
    /// passes the detector of its next point, so that point's weights arrive while this one is stepped (int8
    /// copies spread the fetch over the step; `omen bench step` measures the effect). Same outcome either way.
    /// `next` is passed by address only, and the caller keeps it alive: taking it as a reference would retain
    /// it, an atomic write to its cold header that stalls the whole point (10% of `omen bench detect`), where a
    /// prefetch lets the miss overlap this point's work.
    public func process(timestamp: Double, value: Double,
                        prefetching next: Unmanaged<SeriesDetector>?) throws(PointRejection) -> PointOutcome {
        guard value.isFinite, timestamp.isFinite else { throw .nonFinite }
        guard timestamp > lastTimestamp else { throw .outOfOrder }
        // The window's block is this point's to write in step 3: its load overlaps the scoring.
        window.prefetchAppend()
        // The next point's detector, by address only: copying next's model or state would write its cold
        // reference counts. The object itself (about 2.5 KB: an inline scorer of 1.6 KB, the configuration, the
        // episode machine) is that point's first cold touch; its first 1 KB measured 5-8% off `omen bench detect`
        // (the first 2 KB or all of it, the same; its header line alone, worse). Issued here, not before the step
        // reads `next.footprint` from it: there it stalled the step for the whole miss (12% of the benchmark).
        if let next { omen_prefetch_range(UnsafeRawPointer(next.toOpaque()), 1024) }

        // 1. Score the prediction made at the previous step.
        var predicted: Double? = nil
        var spread: Double? = nil
        if let p = pending {
            predicted = normaliser.denormalise(p.mean)
            spread = exp(Double(p.logVariance) * 0.5) * normaliser.scale
        }
        // A learning series has no scorer (no alerts while learning): its points are scored from the window when
        // its first model arrives.
        var scored = scorer?.score(ScoreInput(timestamp: timestamp, value: value, predicted: predicted,
                                              predictedSpread: spread))
            ?? ScoreOutput(score: 0, lower: value, upper: value)
        scored.score = scoreAfterFeedback(scored.score, value: value, predicted: predicted, at: timestamp)
        lastScore = scored.score

        // 2. Episode transitions: only once a model is trained (or when configured to alert while learning),
        // never while muted.
        var event: EpisodeEvent? = nil
        if !isMuted && (trained || config.episodes.alertWhileLearning || episodes.isOpen) {
            event = episodes.observe(timestamp: timestamp, value: value, predicted: predicted ?? value,
                                     lower: scored.lower, upper: scored.upper, score: scored.score,
                                     modelVersion: modelVersion, cause: scored.cause)
        }

        // 3. Remember the point.
        if pointsSeen == 0 { firstTimestamp = timestamp }
        pointsSeen += 1
        lastTimestamp = timestamp
        window.append(timestamp: timestamp, value: value, excluded: episodes.isOpen || isMuted)

        // 4. Step the model to predict the next value.
        // `inference?.step`, not `if let inference`: binding the model copies it, a retain and a release of its
        // weights' cold reference count per point (4% of `omen bench detect`).
        if trained {
            pending = withUnsafeTemporaryAllocation(of: Float.self, capacity: Features.width) { buffer in
                guard let base = buffer.baseAddress else { return nil }
                Features.write(value: value, timestamp: timestamp, normaliser: normaliser, calendar: calendar, into: base)
                if abs(base[0]) >= Normaliser.inputClip { pointsOutOfRange += 1 }
                guard let next, next.toOpaque() != Unmanaged.passUnretained(self).toOpaque() else {
                    return inference?.step(input: UnsafeBufferPointer(buffer), state: &recurrentState)
                }
                let upcoming = next._withUnsafeGuaranteedRef { $0.footprint }
                upcoming.prefetchState()
                return inference?.step(input: UnsafeBufferPointer(buffer), state: &recurrentState, prefetching: upcoming)
            }
        }
        return PointOutcome(prediction: predicted, lower: scored.lower, upper: scored.upper, score: scored.score,
                            flag: episodes.isOpen, event: event,
                            terms: config.scoring.recordTerms ? scorer?.lastTerms : nil,
                            cause: scored.score > 0 ? scored.cause : nil)
    }

    /// Lets the next point be older than the last one: the series' clock was carried ahead by a point stamped in
    /// the future, and refusing every real-time point until that time came would blind it. The window keeps its
    /// points; the next accepted point continues the series from its own time.
    public func reanchor() {
        lastTimestamp = -.infinity
    }

    // MARK: - Training

    /// Whether a training job should be taken now. `now` is wall time in seconds (for `retrain_interval`);
    /// replay passes nil so that only point counts decide, deterministically.
    public func isTrainingDue(now: Double? = nil) -> Bool {
        guard !trainingInFlight else { return false }
        let learning = config.learning
        if !trained { return pointsSeen >= learning.warmupPoints && window.count >= 16 }
        if learning.retrainEvery > 0 && pointsSeen - pointsAtLastTraining >= learning.retrainEvery { return true }
        // A model whose inputs are clipped predicts blind: the series has left the range its normaliser was
        // fitted on (a new level, bursts far beyond the window's spread). Retrain once enough such points have
        // come, and at least one training sequence of new points, so that the window holds what changed.
        if learning.retrainOutOfRange > 0 && pointsOutOfRange >= learning.retrainOutOfRange
            && pointsSeen - pointsAtLastTraining >= config.model.training.sequenceLength {
            return true
        }
        if let now, learning.retrainInterval > 0, now - wallTimeAtLastTraining >= learning.retrainInterval,
           pointsSeen > pointsAtLastTraining {
            return true
        }
        return false
    }

    /// Snapshots the window and the weights into a job that can run on any thread.
    public func makeTrainingJob(now: Double = 0) -> TrainingJob {
        trainingInFlight = true
        pointsAtLastTraining = pointsSeen
        pointsOutOfRange = 0
        wallTimeAtLastTraining = now
        let points = window.arrays()
        return TrainingJob(
            key: key, config: config, baseModel: model, baseVersion: modelVersion,
            values: points.values, timestamps: points.timestamps,
            excluded: points.excluded, seed: Self.seed(key: key, base: config.model.seed, version: modelVersion))
    }

    /// Installs the outcome of a job taken from this detector: new weights (if accepted), then re-primes the
    /// recurrent state by running them over the most recent points, so the next prediction is meaningful.
    public func install(_ outcome: TrainingOutcome, at time: Double? = nil) {
        trainingInFlight = false
        lastTraining = outcome.report
        lastRetrainAt = time ?? lastTimestamp
        guard outcome.accepted, let newModel = outcome.model else {
            retrainsRejected += 1
            return
        }
        retrainsAccepted += 1
        adopt(newModel)
        if scorer == nil { scorer = Self.scorer(config: config.scoring, replaying: window) }
        modelVersion = outcome.version
        normaliser = outcome.normaliser
        calendar = outcome.calendar
        reprime()
    }

    /// Makes `model` the series' weights: the step's copy from the exact Float32 weights, and what that copy
    /// rounded away; the Float32 weights themselves are not kept.
    private func adopt(_ model: RecurrentModel) {
        let copy = InferenceModel(model, precision: inferencePrecision)
        residual = copy.residual(of: model)
        inference = copy
    }

    /// Abandons an in-flight job (e.g. the trainer pool shut down) so that training can be due again.
    public func cancelTraining() {
        trainingInFlight = false
    }

    private func reprime() {
        guard let inference else { return }
        let n = Swift.min(config.learning.reprimePoints, window.count)
        recurrentState = RecurrentState(shape: inference.shape)
        footprint = StepFootprint(model: inference, state: recurrentState)
        guard n > 0 else {
            pending = nil
            return
        }
        // Through the same copy the per-point step uses, so the state is the one that copy would have reached.
        pending = withUnsafeTemporaryAllocation(of: Float.self, capacity: Features.width) { buffer -> Prediction? in
            guard let base = buffer.baseAddress else { return nil }
            var last: Prediction?
            window.forEach(from: window.count - n) { timestamp, value, _ in
                Features.write(value: value, timestamp: timestamp, normaliser: normaliser, calendar: calendar, into: base)
                last = inference.step(input: UnsafeBufferPointer(buffer), state: &recurrentState)
            }
            return last
        }
    }

    /// Whether a learning series keeps a scorer (it needs scores before its first model).
    static func scoresWhileLearning(_ config: DetectorConfig) -> Bool {
        config.episodes.alertWhileLearning || config.learning.scoreWhileLearning
    }

    /// A scorer that has seen the window's points as a learning series' scorer would have (no predictions):
    /// exactly the same statistics when the window holds every point since the series began (the first model
    /// normally comes after `warmup_points`, well inside the window), up to the Float32 rounding of the values.
    static func scorer(config: ScoringConfig, replaying window: CompactWindow) -> Scorer {
        var scorer = Scorer(config: config)
        window.forEach { timestamp, value, _ in
            _ = scorer.score(ScoreInput(timestamp: timestamp, value: value, predicted: nil, predictedSpread: nil))
        }
        return scorer
    }

    // MARK: - Checkpoint support (the blob layout lives in SeriesDetector+Checkpoint.swift)

    var currentState: RecurrentState { recurrentState }
    var steppingWeights: InferenceModel? { inference }
    var steppingResidual: QuantizationResidual? { residual }
    var pendingPrediction: Prediction? { pending }
    var trainingCadencePoints: Int { pointsAtLastTraining }
    /// The scorer's checkpoint bytes, empty while there is no scorer (a learning series).
    func scorerCheckpoint() -> [UInt8] { scorer?.checkpoint() ?? [] }

    // swiftlint:disable:next function_parameter_count
    func restore(points: Int, first: Double, last: Double, window: CompactWindow, stepping: InferenceModel?,
                 residual: QuantizationResidual?, version: Int, normaliser: Normaliser, calendar: Bool,
                 state: RecurrentState, pending: Prediction?, scorer: Scorer?, episodes: EpisodeMachine,
                 accepted: Int, rejected: Int, lastRetrain: Double?, lastScore: Double, pointsAtLastTraining: Int) {
        pointsSeen = points
        firstTimestamp = first
        lastTimestamp = last
        self.window = window
        // The stored stepping copy when it is the one this build would step with (exact continuation), else one
        // derived from its Float32 expansion.
        if let stepping, stepping.precision != inferencePrecision.effective(for: stepping.shape) {
            adopt(stepping.expanded(residual: residual))
        } else {
            inference = stepping
            self.residual = residual
        }
        modelVersion = version
        self.normaliser = normaliser
        self.calendar = calendar
        recurrentState = trained ? state : RecurrentState(shape: Self.shape(config))
        footprint = StepFootprint(model: inference, state: recurrentState)
        self.pending = trained ? pending : nil
        // A trained series always scores; a learning one only when it alerts while learning (otherwise its
        // scorer is rebuilt from the window when its first model arrives, as for a new series).
        if !trained && !Self.scoresWhileLearning(config) {
            self.scorer = nil
        } else {
            self.scorer = scorer ?? Self.scorer(config: config.scoring, replaying: window)
        }
        self.episodes = episodes
        retrainsAccepted = accepted
        retrainsRejected = rejected
        lastRetrainAt = lastRetrain
        self.lastScore = lastScore
        // The retraining cadence continues where it was, so a restored series retrains at the same point counts.
        self.pointsAtLastTraining = pointsAtLastTraining
        // Not stored: counted again over the window's points since the last training, with the same normaliser.
        pointsOutOfRange = 0
        if trained {
            // (A corrupt checkpoint's counts may be anything: no overflow, no more than the window.)
            let (gap, overflow) = points.subtractingReportingOverflow(pointsAtLastTraining)
            let since = overflow ? 0 : Swift.min(Swift.max(gap, 0), window.count)
            window.forEach(from: window.count - since) { _, value, _ in
                if abs(normaliser.normalise(value)) >= Normaliser.inputClip { pointsOutOfRange += 1 }
            }
        }
    }

    /// A per-series, per-version seed: deterministic, different for each series and each retrain.
    static func seed(key: String, base: UInt64, version: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a: stable across runs, unlike Hasher.
        for b in key.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h ^ (base &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(truncatingIfNeeded: version &* 0x2545_F491)
    }
}
