import Foundation
import Recurrent

/// How the training window is cleaned before each retraining.
public enum CleanWindow: String, Sendable, CaseIterable, Codable {
    /// Points inside anomaly episodes get loss weight 0 (when `exclude_anomalies` is on).
    case episodes
    /// Those, and the points a bidirectional model fitted on the window cannot explain from both sides.
    case hindsight
}

/// A finished stretch of one series read both ways: a small bidirectional model (exclusive context: each point
/// is estimated from the points before and after it, never from itself) is fitted on the stretch, and each
/// point's two-sided residual is measured against the stretch's own residuals.
///
/// Pure and deterministic in `seed`, like training: it runs on the trainer pool or in replay, never per point.
public struct Hindsight: Sendable {
    /// Per point: |r − median r| / (1.4826 · MAD r), r = value − two-sided estimate, in normalised units.
    public var deviations: [Double]
    /// What fitting the bidirectional model did.
    public var report: TrainingReport

    /// Hidden units of each direction: the stretch is only read, never forecast, so a small model does.
    public static let hiddenSize = 8
    /// A point is extreme when its deviation is at least this many robust standard deviations
    /// (a Gaussian two-sided tail of about 2e-9).
    public static let extremeDeviation = 6.0
    /// At most this fraction of a window is marked, the most extreme first.
    public static let maxMarkedFraction = 0.05
    /// The floor of the robust spread, in normalised units, so a perfectly explained stretch is not all "extreme".
    static let spreadFloor = 1e-3

    /// Fits a fresh bidirectional model of `cell` on the stretch (values normalised by `normaliser`, calendar
    /// encodings when `calendar`) and measures every point's two-sided deviation. Points in `excluded` (an episode
    /// under review) stay in the input but are left out of the fit and of the reference spread, so the model learns
    /// the series' normal behaviour and the episode is measured against it.
    public static func review(values: [Double], timestamps: [Double], normaliser: Normaliser, calendar: Bool,
                              cell: CellKind, seed: UInt64, excluded: Range<Int>? = nil) -> Hindsight {
        let n = min(values.count, timestamps.count)
        let width = Features.width
        var inputs = [Float](repeating: 0, count: n * width)
        inputs.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for t in 0..<n {
                Features.write(value: values[t], timestamp: timestamps[t], normaliser: normaliser, calendar: calendar,
                               into: base + t * width)
            }
        }
        // The target at t is the value at t itself: the exclusive head never sees it.
        let targets = (0..<n).map { inputs[$0 * width] }
        let shape = BidirectionalShape(cell: cell, inputSize: width, hiddenSize: hiddenSize, gaussianHead: true,
                                       context: .exclusive)
        let skip = excluded?.clamped(to: 0..<n) ?? 0..<0
        let weights: [Float]? = skip.isEmpty ? nil : (0..<n).map { skip.contains($0) ? 0 : 1 }
        var model = BidirectionalModel(shape: shape, seed: seed)
        let report = model.train(inputs: inputs, targets: targets, weights: weights, config: trainingConfig(seed: seed))
        let estimates = model.estimate(inputs: inputs)
        let residuals = (0..<estimates.count).map { Double(targets[$0] - estimates[$0].mean) }
        return Hindsight(deviations: robustDeviations(residuals, reference: skip), report: report)
    }

    /// Training of the hindsight model: a few epochs on whole chunks of 64 steps.
    static func trainingConfig(seed: UInt64) -> TrainingConfig {
        var c = TrainingConfig()
        c.sequenceLength = 64
        c.batchSize = 8
        c.epochs = 3
        c.learningRate = 2e-2
        c.patience = 0
        c.validationFraction = 0.1
        c.loss = .gaussianNLL
        c.seed = seed
        return c
    }

    /// |r − median| / (1.4826 · MAD), median and MAD of the residuals outside `skip`, the MAD floored at
    /// `spreadFloor`.
    static func robustDeviations(_ r: [Double], reference skip: Range<Int> = 0..<0) -> [Double] {
        let finite = r.indices.filter { !skip.contains($0) && r[$0].isFinite }.map { r[$0] }
        guard !finite.isEmpty else { return r.map { _ in 0 } }
        let median = middle(finite)
        let mad = middle(finite.map { abs($0 - median) })
        let spread = Swift.max(1.4826 * mad, spreadFloor)
        return r.map { $0.isFinite ? abs($0 - median) / spread : 0 }
    }

    private static func middle(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The points to leave out of training: deviation ≥ `extremeDeviation`, at most `maxMarkedFraction` of them.
    public func extremes() -> [Bool] {
        let cap = Int(Double(deviations.count) * Self.maxMarkedFraction)
        var marked = [Bool](repeating: false, count: deviations.count)
        let order = deviations.indices.filter { deviations[$0] >= Self.extremeDeviation }
            .sorted { deviations[$0] > deviations[$1] }
        for i in order.prefix(cap) { marked[i] = true }
        return marked
    }

    /// Score in [0, 1] of point `i`, on the detector's scale: s / (s + 4) with s = −log10 of the two-sided
    /// Gaussian tail of its deviation.
    public func score(_ i: Int) -> Double {
        Self.score(deviation: deviations[i])
    }

    /// The hindsight score of a stretch of points: its most surprising point's.
    public func score(of range: Range<Int>) -> Double {
        range.clamped(to: deviations.indices).map { score($0) }.max() ?? 0
    }

    static func score(deviation d: Double) -> Double {
        guard d.isFinite else { return 1 }
        let tail = erfc(d / 2.0.squareRoot())
        let s = tail > 0 ? -log10(tail) : 300
        return s / (s + 4)
    }
}
