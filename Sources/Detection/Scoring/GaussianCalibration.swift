// How far to trust the Gaussian head's predicted spread on this series.
//
// An NLL-trained variance is overconfident where the training window was quieter than what follows: recurring
// spikes then sit at z of 50-100 again and again, and an analytic Gaussian tail calls each of them a 1e-500
// event. The series' own history of |z| says how far its z's really reach: if the k-th largest of n past |z|
// is z_k, while a Gaussian exceeds that rank's probability k/(n+1) only beyond g_k, the head's spread is too
// small by z_k / g_k on this series' evidence, and z is divided by that factor (never by less than 1, so a
// calibrated or underconfident head is left as it is). A first spike is still scored at full strength: it is
// the k-th recurrence that moves z_k.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Surprise {
    /// The |z| whose two-sided Gaussian tail has probability 10^(−s), by bisection (called on tail refreshes only).
    static func gaussianTwoSidedInverse(surprise s: Double) -> Double {
        guard s > 0 else { return 0 }
        var lo = 0.0, hi = 40.0
        for _ in 0..<48 {
            let mid = 0.5 * (lo + hi)
            if gaussianTwoSided(mid) < s { lo = mid } else { hi = mid }
        }
        return 0.5 * (lo + hi)
    }
}

/// g_k for the history size it was computed at: it only changes while the history fills, so a full history
/// refreshes its scale without solving for it again.
struct GaussianReference: Sendable {
    var count = -1
    var z = 0.0
}

extension Calibrator {
    /// For a history of Gaussian |z|: the factor the predicted spread must be widened by so that the k-th
    /// largest past |z| sits where a Gaussian puts it (at least 1).
    func calibrationScale(reference: inout GaussianReference) -> Double {
        let n = history.count
        guard upper.bin >= 0, n >= 2 else { return 1 }
        if reference.count != n {
            let k = Double(min(tailSize, n))
            reference = GaussianReference(count: n, z: Surprise.gaussianTwoSidedInverse(surprise: log10((Double(n) + 1) / k)))
        }
        let g = reference.z
        guard g > 0, upper.threshold.isFinite else { return 1 }
        return max(1, upper.threshold / g)
    }
}
