// The default stage: the |residual| ranked against the series' own past residuals (a calibrated tail beyond the
// k-th largest), blended with the Gaussian head's own two-sided surprise, its z divided by the Gaussian
// calibration's scale. Both histories are the scorer's (`StageHistories`) and come in as arguments.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct CalibratedStage: Sendable {
    /// Half-width of the residual band, refreshed with the residual tail fits.
    var residualBand = 0.0
    let minHistory: Int
    let gaussianWeight: Double
    let standardise: Bool
    let usesGaussianCalibration: Bool
    let bandSurprise: Double
    /// The tail the head's z is read against (Student t with `gaussian_dof`, or Gaussian).
    let tail: StudentTail

    init(config: ScoringConfig) {
        usesGaussianCalibration = config.usesGaussianCalibration
        minHistory = config.minHistory
        gaussianWeight = config.gaussianWeight
        standardise = config.standardise
        bandSurprise = config.bandSurprise
        tail = StudentTail(dof: config.gaussianDof)
    }

    @inline(__always)
    func magnitude(_ r: Double, hint: Double?, spread: SpreadTracker) -> Double {
        standardise ? abs(r) / spread.gaussianSpread(hint) : abs(r)
    }

    @inline(__always)
    func surprise(residual r: Double, hint: Double?, spread: SpreadTracker, histories h: StageHistories) -> Double {
        let t = terms(residual: r, hint: hint, spread: spread, histories: h)
        guard let head = t.gaussian else { return t.calibrated }
        let g = min(gaussianWeight, 1)
        return (1 - g) * t.calibrated + g * head
    }

    /// The stage's two terms apart, as `surprise` blends them (`ScoreTerms`): the calibrated |residual| (0 until
    /// `minHistory` residuals) and the head's z on its tail (nil when `gaussianWeight` is 0).
    @inline(__always)
    func terms(residual r: Double, hint: Double?, spread: SpreadTracker,
               histories h: StageHistories) -> (calibrated: Double, gaussian: Double?) {
        let cal = h.residuals.count >= minHistory
            ? h.residuals.upperSurprise(magnitude(r, hint: hint, spread: spread)) : 0
        let g = gaussianWeight > 0 ? tail.twoSided(r / (spread.gaussianSpread(hint) * h.gaussian.scale)) : nil
        return (cal, g)
    }

    @inline(__always)
    mutating func absorb(residual r: Double, value v: Double, hint: Double?, spread: inout SpreadTracker,
                         histories h: inout StageHistories) {
        h.residuals.insert(magnitude(r, hint: hint, spread: spread))
        if usesGaussianCalibration { h.gaussian.insert(abs(r) / spread.gaussianSpread(hint)) }
        spread.update(residual: r, value: v)
        if h.residuals.sinceRefresh == 0 {
            residualBand = h.residuals.quantile(1 - pow(10, -bandSurprise)) ?? 0
            if standardise { residualBand *= spread.gaussianSpread(hint) }
        }
    }
}
