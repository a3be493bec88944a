// The default stage: the |residual| ranked against the series' own past residuals (a calibrated tail beyond the
// k-th largest), blended with the Gaussian head's own two-sided surprise, its z divided by the Gaussian
// calibration's scale.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct CalibratedStage: Sendable {
    /// Calibration of |residual| (or |residual| / predicted spread when standardised).
    var residuals: Calibrator
    /// The largest recent Gaussian |z| and the spread correction they imply.
    var gaussian: GaussianCalibration
    /// Half-width of the residual band, refreshed with the residual tail fits.
    var residualBand = 0.0
    let minHistory: Int
    let gaussianWeight: Double
    let standardise: Bool
    let usesGaussianCalibration: Bool
    let bandSurprise: Double
    /// The tail the head's z is read against (Student t with `gaussian_dof`, or Gaussian).
    let tail: StudentTail

    init(config: ScoringConfig, history h: Int) {
        residuals = Calibrator(signed: false, capacity: h, tailSize: config.tailSize)
        if config.predictiveTail { residuals.tailShape = .predictive }
        usesGaussianCalibration = config.usesGaussianCalibration
        gaussian = usesGaussianCalibration
            ? GaussianCalibration(history: h, k: config.gaussianTail, lagged: config.gaussianCalibrationLag)
            : GaussianCalibration(unused: ())
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
    func surprise(residual r: Double, hint: Double?, spread: SpreadTracker) -> Double {
        let t = terms(residual: r, hint: hint, spread: spread)
        guard let head = t.gaussian else { return t.calibrated }
        let g = min(gaussianWeight, 1)
        return (1 - g) * t.calibrated + g * head
    }

    /// The stage's two terms apart, as `surprise` blends them (`ScoreTerms`): the calibrated |residual| (0 until
    /// `minHistory` residuals) and the head's z on its tail (nil when `gaussianWeight` is 0).
    @inline(__always)
    func terms(residual r: Double, hint: Double?, spread: SpreadTracker) -> (calibrated: Double, gaussian: Double?) {
        let cal = residuals.count >= minHistory ? residuals.upperSurprise(magnitude(r, hint: hint, spread: spread)) : 0
        let g = gaussianWeight > 0 ? tail.twoSided(r / (spread.gaussianSpread(hint) * gaussian.scale)) : nil
        return (cal, g)
    }

    @inline(__always)
    mutating func absorb(residual r: Double, value v: Double, hint: Double?, spread: inout SpreadTracker) {
        residuals.insert(magnitude(r, hint: hint, spread: spread))
        if usesGaussianCalibration { gaussian.insert(abs(r) / spread.gaussianSpread(hint)) }
        spread.update(residual: r, value: v)
        if residuals.sinceRefresh == 0 {
            residualBand = residuals.quantile(1 - pow(10, -bandSurprise)) ?? 0
            if standardise { residualBand *= spread.gaussianSpread(hint) }
        }
    }
}
