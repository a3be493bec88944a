// The scoring seam: the stage-specific evidence of a residual, one case per `ScorerKind`.
//
// `init(config:history:)` is the one place the configured kind is switched on; every other switch is over the
// stage's own case, and each case's state and arithmetic live in their own file (CalibratedStage, ResidualStage,
// GaussianStage, LikelihoodStage, DynamicStage). An enum rather than a protocol existential: a point pays a
// switch and direct calls, no witness table, no boxing. A case's state is mutated in place by moving it out
// (the enum holds `.moving` meanwhile), so its buffers stay uniquely referenced and are never copied.

/// What a stage reads besides the residual: the scorer's running spread (fallback scale, bands).
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
        case .calibrated: self = .calibrated(CalibratedStage(config: config, history: h))
        case .residual: self = .residual(ResidualStage(config: config))
        case .gaussian: self = .gaussian(GaussianStage(config: config, history: h))
        case .likelihood: self = .likelihood(LikelihoodStage(config: config, history: h))
        case .dynamic: self = .dynamic(DynamicStage(config: config))
        }
    }

    /// The stage's surprise of residual `r` (called only once the value history is ready), before it absorbs it.
    @inline(__always)
    mutating func surprise(residual r: Double, value v: Double, hint: Double?, spread: inout SpreadTracker) -> Double {
        switch self {
        case .calibrated(let s):
            return s.surprise(residual: r, hint: hint, spread: spread)
        case .residual:
            return ResidualStage.surprise(residual: r, spread: spread)
        case .gaussian(let s):
            return s.surprise(residual: r, hint: hint, spread: spread)
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
    mutating func absorb(residual r: Double, value v: Double, hint: Double?, spread: inout SpreadTracker) {
        switch self {
        case .calibrated(var s):
            self = .moving
            s.absorb(residual: r, value: v, hint: hint, spread: &spread)
            self = .calibrated(s)
        case .gaussian(var s):
            self = .moving
            s.absorb(residual: r, value: v, hint: hint, spread: &spread)
            self = .gaussian(s)
        case .residual, .dynamic:
            spread.update(residual: r, value: v)
        case .likelihood, .moving:
            break // the likelihood stage updates while scoring
        }
    }

    /// Half-width of the expected band around the prediction, in raw units.
    @inline(__always)
    func bandHalfWidth(hint: Double?, spread: SpreadTracker, bandSurprise b: Double) -> Double {
        switch self {
        case .calibrated(let s):
            return s.residualBand
        case .gaussian(let s):
            return s.calibratedSpread(hint: hint, spread: spread) * (2 * b / Surprise.log10e).squareRoot()
        case .residual, .likelihood, .dynamic, .moving:
            return spread.spread * b / Surprise.log10e
        }
    }

    /// Starts loading what scoring residual `r` will read (a hint only).
    @inline(__always)
    func prefetch(residual r: Double) {
        if case .calibrated(let s) = self, s.residuals.history.isUsed { s.residuals.history.prefetch(forValue: r) }
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

    /// The residual history (calibrated stage), written right after the value history.
    func encodeResiduals(into w: inout ByteWriter) {
        if case .calibrated(let s) = self { s.residuals.encode(into: &w) }
    }

    /// The Gaussian calibration's |z| history (calibrated and gaussian stages, when on), written after the context.
    func encodeGaussian(into w: inout ByteWriter) {
        switch self {
        case .calibrated(let s) where s.usesGaussianCalibration: s.gaussian.encode(into: &w)
        case .gaussian(let s) where s.usesGaussianCalibration: s.gaussian.encode(into: &w)
        default: break
        }
    }

    /// The likelihood or dynamic state, written after the frozen-run tracker.
    func encodeTail(into w: inout ByteWriter) {
        switch self {
        case .likelihood(let s): s.state.encode(into: &w)
        case .dynamic(let s): s.threshold.encode(into: &w)
        default: break
        }
    }

    mutating func decode(residualBand band: Double, residualsFrom r: inout ByteReader) throws(ScorerRestoreError) {
        guard case .calibrated(var s) = self else { return }
        self = .moving
        defer { self = .calibrated(s) }
        s.residualBand = band
        try s.residuals.decode(from: &r)
    }

    mutating func decodeGaussian(from r: inout ByteReader) throws(ScorerRestoreError) {
        switch self {
        case .calibrated(var s) where s.usesGaussianCalibration:
            self = .moving
            defer { self = .calibrated(s) }
            try s.gaussian.decode(from: &r)
        case .gaussian(var s) where s.usesGaussianCalibration:
            self = .moving
            defer { self = .gaussian(s) }
            try s.gaussian.decode(from: &r)
        default:
            break
        }
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
