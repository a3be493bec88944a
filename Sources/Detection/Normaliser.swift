/// Maps raw values to model inputs and back: (x - center) / scale, fixed for one model version.
///
/// Fitted robustly (median and inter-quartile range) so that a few outliers in the training window do
/// not squash the scale of everything else.
public struct Normaliser: Sendable, Equatable {
    public var center: Double
    public var scale: Double

    /// Model inputs are clipped to ±this many scales, so an extreme outlier cannot blow up the recurrent state.
    public static let inputClip: Float = 20

    public init(center: Double, scale: Double) {
        self.center = center
        self.scale = scale
    }

    /// The identity, for a model that has not been trained yet.
    public static let identity = Normaliser(center: 0, scale: 1)

    /// Fits center = median, scale = IQR / 1.349 (the standard deviation for normal data).
    /// A constant or near-constant window has no spread: fall back to the standard deviation, then to a
    /// scale proportional to the level (or 1 around zero), never to zero, so that a later change is large
    /// but finite in model units.
    public static func fit(_ values: [Double]) -> Normaliser {
        let finite = values.filter { $0.isFinite }
        guard !finite.isEmpty else { return .identity }
        let sorted = finite.sorted()
        func quantile(_ q: Double) -> Double {
            let pos = q * Double(sorted.count - 1)
            let lo = Int(pos)
            let hi = Swift.min(lo + 1, sorted.count - 1)
            let w = pos - Double(lo)
            return sorted[lo] * (1 - w) + sorted[hi] * w
        }
        let median = quantile(0.5)
        var scale = (quantile(0.75) - quantile(0.25)) / 1.349
        let tiny = 1e-9 * Swift.max(1, abs(median))
        if !(scale > tiny) {
            let mean = finite.reduce(0, +) / Double(finite.count)
            let variance = finite.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(finite.count)
            scale = variance.squareRoot()
        }
        if !(scale > tiny) {
            scale = abs(median) > 0 ? abs(median) * 0.01 : 1
        }
        return Normaliser(center: median, scale: scale)
    }

    @inline(__always)
    public func normalise(_ x: Double) -> Float {
        let z = Float((x - center) / scale)
        return Swift.min(Swift.max(z, -Self.inputClip), Self.inputClip)
    }

    @inline(__always)
    public func denormalise(_ z: Float) -> Double {
        Double(z) * scale + center
    }
}
