// |residual| in units of the model's predicted standard deviation (Gaussian head), two-sided tail; the head's z
// divided by the Gaussian calibration's scale.

struct GaussianStage: Sendable {
    var gaussian: GaussianCalibration
    let usesGaussianCalibration: Bool
    /// The tail z is read against (Student t with `gaussian_dof`, or Gaussian).
    let tail: StudentTail

    init(config: ScoringConfig, history h: Int) {
        usesGaussianCalibration = config.usesGaussianCalibration
        tail = StudentTail(dof: config.gaussianDof)
        gaussian = usesGaussianCalibration
            ? GaussianCalibration(history: h, k: config.gaussianTail, lagged: config.gaussianCalibrationLag)
            : GaussianCalibration(unused: ())
    }

    /// The predicted standard deviation widened by the Gaussian calibration (what z and the band use).
    @inline(__always)
    func calibratedSpread(hint: Double?, spread: SpreadTracker) -> Double {
        spread.gaussianSpread(hint) * gaussian.scale
    }

    @inline(__always)
    func surprise(residual r: Double, hint: Double?, spread: SpreadTracker) -> Double {
        tail.twoSided(r / calibratedSpread(hint: hint, spread: spread))
    }

    @inline(__always)
    mutating func absorb(residual r: Double, value v: Double, hint: Double?, spread: inout SpreadTracker) {
        if usesGaussianCalibration { gaussian.insert(abs(r) / spread.gaussianSpread(hint)) }
        spread.update(residual: r, value: v)
    }
}
