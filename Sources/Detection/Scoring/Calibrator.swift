// Calibrated surprise: how unlikely is x given this series' own past values of the same quantity?
//
// p is estimated by rank among the remembered values (ties count against surprise, so a value equal to
// history is never surprising). Beyond the k-th most extreme past value an exponential tail, fitted to the
// k most extreme values, keeps new extremes ordered by how far out they are instead of all tying at 1/(n+1).
// Surprise s = -log10(p). Where the k most extreme values tie (a discrete series: counts, states, rounded
// readings) the gap to the next remembered value is the tail's scale: a count of 500 after weeks of 50-56 is far
// out, not the rank bound. A history of one value (a constant stretch) cannot say how far is "far", so a new
// extreme then gets the rank bound 1/(n+1) (s = log10(n+1)), never a division by zero.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exponential tail fitted to the most extreme remembered values on one side.
struct TailFit: Sendable {
    /// Bin of the k-th most extreme value; values strictly beyond it use the fitted tail.
    var bin = -1
    /// Representative value of `bin`.
    var threshold = 0.0
    /// Mean distance of the more extreme values beyond `threshold` (0 = no spread: no tail).
    var meanExcess = 0.0
}

/// How the probability falls beyond the k-th most extreme remembered value.
enum TailShape: Sendable, Equatable {
    /// exp(−z): the exponential whose mean is the k−1 excesses' mean, taken as exact.
    case exponential
    /// (1 + z/m)^−m with m = k−1: the same exponential averaged over what m excesses leave unknown about its
    /// scale (the posterior predictive of an exponential under a scale-free prior). Far out it falls as a
    /// power, not exponentially, so a value 20 mean excesses beyond a short or bounded tail reads as p ≈ 3e-5
    /// (k = 10), not 2e-9: a new extreme among few values is evidence, not proof.
    case predictive

    /// Tail factor at `z` mean excesses beyond the threshold, with `k` values in the fit.
    @inline(__always)
    func factor(_ z: Double, k: Int) -> Double {
        let z = max(0, z)
        switch self {
        case .exponential:
            return exp(-z)
        case .predictive:
            let m = Double(max(1, k - 1))
            return exp(-m * log1p(z / m))
        }
    }
}

/// Where a value lies against a history's remembered values (`Calibrator.twoSidedSurprisePositionAndPIT`).
public enum RangePosition: UInt8, Sendable, Equatable {
    /// Among them: some remembered value lies beyond it on either side.
    case inside = 0
    /// In the bin of the largest or the smallest remembered value (a tie with the extreme, or a history of one bin).
    case edge = 1
    /// Beyond every remembered value: a new maximum or minimum.
    case beyond = 2
}

/// A rank history plus cached tail fits, producing surprise values.
struct Calibrator: Sendable {
    var history: RankHistory
    let tailSize: Int
    var tailShape = TailShape.exponential
    var upper = TailFit()
    var lower = TailFit()
    private(set) var sinceRefresh = Int.max / 2
    /// Whether an insert since the last refit reached the upper tail (magnitude histories): while none has, the k
    /// largest values, and so the fit, are what they were, and a due refit is skipped (the second level refits at
    /// every point, and almost every point lands below its tail).
    private var upperTailTouched = true
    /// Refresh the tail fits after this many inserts: the fits move slowly and cost ~k order statistics.
    let refreshEvery: Int
    static let defaultRefresh = 32

    /// `refreshEvery` 1 keeps the tail current at every point (worth it where a burst of new extremes
    /// must count against the next point at once: the second-level calibration of scores).
    init(signed: Bool, capacity: Int, tailSize: Int, refreshEvery: Int = Calibrator.defaultRefresh) {
        history = RankHistory(signed: signed, capacity: capacity)
        self.tailSize = max(1, tailSize)
        self.refreshEvery = max(1, refreshEvery)
    }

    init(unusedSigned signed: Bool) {
        history = RankHistory(unusedSigned: signed)
        tailSize = 1
        refreshEvery = Calibrator.defaultRefresh
    }

    var count: Int { history.count }

    mutating func insert(_ x: Double) {
        let (inserted, evicted) = history.insert(x)
        // Signed histories report no bins (-1): they may have re-anchored, and their lower tail counts too.
        if inserted < 0 || inserted >= upper.bin || evicted >= upper.bin { upperTailTouched = true }
        sinceRefresh += 1
        if sinceRefresh >= refreshEvery {
            // Skipped only where the fit provably stays the same: a full tail (k fixed at `tailSize`) none of
            // whose values arrived or left.
            if !upperTailTouched && upper.bin >= 0 {
                sinceRefresh = 0
            } else {
                refreshTails()
            }
        }
    }

    mutating func refreshTails() {
        sinceRefresh = 0
        // Until the tail holds `tailSize` values, every insert changes which values it holds.
        upperTailTouched = history.count < tailSize
        let n = history.count
        let k = min(tailSize, n)
        guard k >= 2 else { upper = TailFit(); lower = TailFit(); return }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: k) { buffer in
            guard let bins = buffer.baseAddress else { return }
            // Upper tail: the k largest values (ranks n-k+1 ... n), largest first; the k-th is the threshold.
            history.largestBins(k, into: bins)
            let ub = bins[k - 1]
            let u = history.value(ofBin: ub)
            var excess = 0.0
            // Summed from rank n-k+2 up to n, the order the fit has always used (bit-identical results).
            for i in stride(from: k - 2, through: 0, by: -1) { excess += history.value(ofBin: bins[i]) - u }
            var meanExcess = excess / Double(k - 1)
            if meanExcess == 0 {
                // The k largest tie (a discrete series: counts, states, rounded readings). The gap down to the next
                // remembered value is the least spread the series can show: the tail's scale, not none at all.
                let below = history.countAtOrBelow(bin: ub - 1)
                if below > 0 { meanExcess = u - history.value(ofBin: history.bin(ofRank: below)) }
            }
            upper = TailFit(bin: ub, threshold: u, meanExcess: meanExcess)
            if history.signed {
                history.smallestBins(k, into: bins)
                let lb = bins[k - 1]
                let l = history.value(ofBin: lb)
                var lx = 0.0
                for i in 0..<(k - 1) { lx += l - history.value(ofBin: bins[i]) }
                var lowerExcess = lx / Double(k - 1)
                if lowerExcess == 0 {
                    let atOrBelow = history.countAtOrBelow(bin: lb)
                    if atOrBelow < n { lowerExcess = history.value(ofBin: history.bin(ofRank: atOrBelow + 1)) - l }
                }
                lower = TailFit(bin: lb, threshold: l, meanExcess: lowerExcess)
            }
        }
    }

    /// The fitted upper tail's probability at `x` (in bin `b`), or nil where `x` is not beyond its threshold.
    @inline(__always)
    private func upperTail(_ x: Double, bin b: Int) -> Double? {
        guard b > upper.bin && upper.bin >= 0 && upper.meanExcess > 0 else { return nil }
        let z = (x - upper.threshold) / upper.meanExcess
        let k = min(tailSize, history.count)
        return Double(k) / (Double(history.count) + 1) * tailShape.factor(z, k: k)
    }

    /// The fitted lower tail's probability at `x` (in bin `b`), or nil where `x` is not beyond its threshold.
    @inline(__always)
    private func lowerTail(_ x: Double, bin b: Int) -> Double? {
        guard b < lower.bin && lower.meanExcess > 0 else { return nil }
        let z = (lower.threshold - x) / lower.meanExcess
        let k = min(tailSize, history.count)
        return Double(k) / (Double(history.count) + 1) * tailShape.factor(z, k: k)
    }

    /// Rank probability of a value at least as large, with `below` remembered values in lower bins.
    @inline(__always)
    private func rankAbove(below: Int) -> Double {
        let n = Double(history.count)
        return (n - Double(below) + 1) / (n + 1)
    }

    /// Rank probability of a value at most as large, with `atOrBelow` remembered values in its bin or lower.
    @inline(__always)
    private func rankBelow(atOrBelow: Int) -> Double {
        (Double(atOrBelow) + 1) / (Double(history.count) + 1)
    }

    /// Probability of a remembered value at least as large as `x` (upper tail).
    @inline(__always)
    func upperP(_ x: Double) -> Double {
        let b = history.bin(of: x)
        return upperTail(x, bin: b) ?? rankAbove(below: history.countAtOrBelow(bin: b - 1))
    }

    /// Probability of a remembered value at most as large as `x` (lower tail; signed histories).
    @inline(__always)
    func lowerP(_ x: Double) -> Double {
        let b = history.bin(of: x)
        return lowerTail(x, bin: b) ?? rankBelow(atOrBelow: history.countAtOrBelow(bin: b))
    }

    /// One-sided surprise of a magnitude against a magnitude history.
    @inline(__always)
    func upperSurprise(_ x: Double) -> Double { -log10(max(upperP(x), 1e-300)) }

    /// Two-sided surprise of a signed value against a signed history.
    @inline(__always)
    func twoSidedSurprise(_ x: Double) -> Double { twoSidedSurprisePositionAndPIT(x).surprise }

    /// The two-sided surprise of `x`, where it lies against the remembered values (bins: beyond every one of them,
    /// at the edge, in the bin of the largest or the smallest with none beyond it on that side, or inside), and its
    /// mid-rank among them (its probability integral transform: the share below it plus half the share in its bin;
    /// 1/2 for an empty history). One bin lookup and its two prefix counts serve all three.
    @inline(__always)
    func twoSidedSurprisePositionAndPIT(_ x: Double)
        -> (surprise: Double, position: RangePosition, aboveAll: Bool, pit: Double) {
        let n = history.count
        let b = history.bin(of: x)
        let below = history.countAtOrBelow(bin: b - 1), atOrBelow = history.countAtOrBelow(bin: b)
        let up = upperTail(x, bin: b) ?? rankAbove(below: below)
        let down = lowerTail(x, bin: b) ?? rankBelow(atOrBelow: atOrBelow)
        let p = min(1, 2 * min(up, down))
        let position: RangePosition = n == 0 ? .inside
            : below == n || atOrBelow == 0 ? .beyond
            : atOrBelow == n || below == 0 ? .edge : .inside
        let pit = n == 0 ? 0.5 : (Double(below) + 0.5 * Double(atOrBelow - below)) / Double(n)
        return (-log10(max(p, 1e-300)), position, n > 0 && below == n, pit)
    }

    /// The remembered value at quantile q in [0, 1] (bin representative), or nil when empty.
    func quantile(_ q: Double) -> Double? {
        let n = history.count
        guard n > 0 else { return nil }
        let rank = min(n, max(1, Int((q * Double(n)).rounded(.up))))
        return history.value(ofBin: history.bin(ofRank: rank))
    }

    func encode(into w: inout ByteWriter) {
        history.encode(into: &w)
        w.int(min(sinceRefresh, refreshEvery))
        for t in [upper, lower] {
            w.int(t.bin)
            w.double(t.threshold)
            w.double(t.meanExcess)
        }
    }

    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        try history.decode(from: &r)
        upperTailTouched = true
        sinceRefresh = try r.int()
        upper = TailFit(bin: try r.int(), threshold: try r.double(), meanExcess: try r.double())
        lower = TailFit(bin: try r.int(), threshold: try r.double(), meanExcess: try r.double())
        // A history dropped on restore (`RankHistory.collapsedScale`) has no tails yet.
        if history.count == 0 { upper = TailFit(); lower = TailFit() }
    }
}
