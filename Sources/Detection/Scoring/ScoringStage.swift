// The scoring seam: the stage-specific evidence of a residual, one case per `ScorerKind`.
//
// `init(config:history:)` is the one place the configured kind is switched on; every other switch is over the
// stage's own case, and each case's state and arithmetic live in their own file (CalibratedStage, ResidualStage,
// GaussianStage, LikelihoodStage, DynamicStage). An enum rather than a protocol existential: a point pays a
// switch and direct calls, no witness table, no boxing. A case's state is mutated in place by moving it out
// (the enum holds `.moving` meanwhile), so its buffers stay uniquely referenced and are never copied.

/// The histories the residual stages rank against. The scorer keeps them beside its other calibrators, not inside
/// the stage's enum payload: binding a case out of the enum copies its payload, a retain of every buffer in it, on
/// objects that are cold with thousands of series (that copy was ~9% of `omen bench detect` when the per-point
/// prefetch had to reach the residual history through it). So a case holds parameters and scalar state only.
struct StageHistories: Sendable {
    /// |residual| (or |residual| / predicted spread when standardised): the calibrated stage's; unused otherwise.
    var residuals: Calibrator
    /// The largest recent Gaussian |z| and the spread correction they imply: the calibrated and gaussian stages'
    /// when `usesGaussianCalibration`; unused otherwise.
    var gaussian: GaussianCalibration

    init(config: ScoringConfig, history h: Int) {
        residuals = config.kind == .calibrated
            ? Calibrator(signed: false, capacity: h, tailSize: config.tailSize)
            : Calibrator(unusedSigned: false)
        if config.predictiveTail { residuals.tailShape = .predictive }
        gaussian = config.usesGaussianCalibration
            ? GaussianCalibration(history: h, k: config.gaussianTail, lagged: config.gaussianCalibrationLag)
            : GaussianCalibration(unused: ())
    }
}

/// What a stage reads besides the residual: the scorer's running spread (fallback scale, bands) and the histories
/// it keeps for the stage (`StageHistories`).
enum ScoringStage: Sendable {
    case calibrated(CalibratedStage)
    case residual(ResidualStage)
    case gaussian(GaussianStage)
    case likelihood(LikelihoodStage)
    case dynamic(DynamicStage)
    /// Held only while a case's state is being mutated.
    case moving

    init(config: ScoringConfig, history h: Int) {
        switch config.kind {
        case .calibrated: self = .calibrated(CalibratedStage(config: config))
        case .residual: self = .residual(ResidualStage(config: config))
        case .gaussian: self = .gaussian(GaussianStage(config: config))
        case .likelihood: self = .likelihood(LikelihoodStage(config: config, history: h))
        case .dynamic: self = .dynamic(DynamicStage(config: config))
        }
    }

    /// The stage's surprise of residual `r` (called only once the value history is ready), before it absorbs it.
    @inline(__always)
    mutating func surprise(residual r: Double, value v: Double, hint: Double?, spread: inout SpreadTracker,
                           histories h: StageHistories) -> Double {
        switch self {
        case .calibrated(let s):
            return s.surprise(residual: r, hint: hint, spread: spread, histories: h)
        case .residual:
            return ResidualStage.surprise(residual: r, spread: spread)
        case .gaussian(let s):
            return s.surprise(residual: r, hint: hint, spread: spread, gaussian: h.gaussian)
        case .likelihood(var s):
            self = .moving
            defer { self = .likelihood(s) }
            return s.surprise(residual: r, value: v, spread: &spread)
        case .dynamic(var s):
            self = .moving
            defer { self = .dynamic(s) }
            return s.surprise(residual: r)
        case .moving:
            return 0
        }
    }

    /// Absorbs the residual into the statistics the stage scores against (after scoring it; every predicted point).
    @inline(__always)
    mutating func absorb(residual r: Double, value v: Double, hint: Double?, spread: inout SpreadTracker,
                         histories h: inout StageHistories) {
        switch self {
        case .calibrated(var s):
            self = .moving
            s.absorb(residual: r, value: v, hint: hint, spread: &spread, histories: &h)
            self = .calibrated(s)
        case .gaussian(let s):
            s.absorb(residual: r, value: v, hint: hint, spread: &spread, gaussian: &h.gaussian)
        case .residual, .dynamic:
            spread.update(residual: r, value: v)
        case .likelihood, .moving:
            break // the likelihood stage updates while scoring
        }
    }

    /// Half-width of the expected band around the prediction, in raw units.
    @inline(__always)
    func bandHalfWidth(hint: Double?, spread: SpreadTracker, bandSurprise b: Double,
                       gaussian: GaussianCalibration) -> Double {
        switch self {
        case .calibrated(let s):
            return s.residualBand
        case .gaussian:
            return GaussianStage.calibratedSpread(hint: hint, spread: spread, gaussian: gaussian)
                * (2 * b / Surprise.log10e).squareRoot()
        case .residual, .likelihood, .dynamic, .moving:
            return spread.spread * b / Surprise.log10e
        }
    }

    /// The byte that names the stage in a checkpoint.
    var checkpointTag: UInt8 {
        switch self {
        case .residual: return 1
        case .calibrated, .moving: return 2
        case .likelihood: return 3
        case .dynamic: return 4
        case .gaussian: return 5
        }
    }

    // MARK: - Checkpoint parts, at the places the scorer's layout (versions 1-5) has them

    /// The calibrated stage's band (0 for the others): second in every checkpoint.
    var residualBand: Double {
        if case .calibrated(let s) = self { return s.residualBand }
        return 0
    }

    /// The likelihood or dynamic state, written after the frozen-run tracker.
    func encodeTail(into w: inout ByteWriter) {
        switch self {
        case .likelihood(let s): s.state.encode(into: &w)
        case .dynamic(let s): s.threshold.encode(into: &w)
        default: break
        }
    }

    /// Sets the calibrated stage's band read from a checkpoint (its residual history is the scorer's).
    mutating func restore(residualBand band: Double) {
        guard case .calibrated(var s) = self else { return }
        self = .moving
        s.residualBand = band
        self = .calibrated(s)
    }

    mutating func decodeTail(from r: inout ByteReader) throws(ScorerRestoreError) {
        switch self {
        case .likelihood(var s):
            self = .moving
            defer { self = .likelihood(s) }
            try s.state.decode(from: &r)
        case .dynamic(var s):
            self = .moving
            defer { self = .dynamic(s) }
            try s.threshold.decode(from: &r)
        default:
            break
        }
    }
}

extension SpreadTracker {
    /// The predicted standard deviation, or a Laplace-consistent fallback from the running spread.
    @inline(__always)
    func gaussianSpread(_ hint: Double?) -> Double {
        if let h = hint, h.isFinite, h > 0 { return max(h, 1e-6 * meanAbsValue, 1e-12) }
        return spread * (Double.pi / 2).squareRoot()
    }
}
