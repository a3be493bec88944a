// |residual| in units of the model's predicted standard deviation (Gaussian head), two-sided tail; the head's z
// divided by the Gaussian calibration's scale (the calibration is the scorer's, `StageHistories.gaussian`).

struct GaussianStage: Sendable {
    let usesGaussianCalibration: Bool
    /// The tail z is read against (Student t with `gaussian_dof`, or Gaussian).
    let tail: StudentTail

    init(config: ScoringConfig) {
        usesGaussianCalibration = config.usesGaussianCalibration
        tail = StudentTail(dof: config.gaussianDof)
    }

    /// The predicted standard deviation widened by the Gaussian calibration (what z and the band use).
    @inline(__always)
    static func calibratedSpread(hint: Double?, spread: SpreadTracker, gaussian: GaussianCalibration) -> Double {
        spread.gaussianSpread(hint) * gaussian.scale
    }

    @inline(__always)
    func surprise(residual r: Double, hint: Double?, spread: SpreadTracker, gaussian: GaussianCalibration) -> Double {
        tail.twoSided(r / Self.calibratedSpread(hint: hint, spread: spread, gaussian: gaussian))
    }

    @inline(__always)
    func absorb(residual r: Double, value v: Double, hint: Double?, spread: inout SpreadTracker,
                gaussian: inout GaussianCalibration) {
        if usesGaussianCalibration { gaussian.insert(abs(r) / spread.gaussianSpread(hint)) }
        spread.update(residual: r, value: v)
    }
}
