// How far to trust the Gaussian head's predicted spread on this series.
//
// An NLL-trained variance is overconfident where the training window was quieter than what follows: recurring
// spikes then sit at z of 50-100 again and again, and an analytic Gaussian tail calls each of them a 1e-500
// event. The series' own history of |z| says how far its z's really reach: if the k-th largest of n past |z|
// is z_k, while a Gaussian exceeds that rank's probability k/(n+1) only beyond g_k, the head's spread is too
// small by z_k / g_k on this series' evidence, and z is divided by that factor (never by less than 1, so a
// calibrated or underconfident head is left as it is). A first spike is still scored at full strength: it is
// the k-th recurrence that moves z_k.
//
// Only the k largest |z| matter, so the history is not kept whole: the last `history` points are cut into
// `blocks` consecutive blocks, each remembering its own k largest |z|. The k largest of the window are among
// them, exactly (at block granularity: the oldest block leaves whole). 16 blocks × (k = 10 Floats + two counts) is
// 768 bytes per series in one heap block, and a point touches one small sorted run instead of a rank history.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COmenSupport

extension Surprise {
    /// The |z| whose two-sided Gaussian tail has probability 10^(−s), by bisection (called on refreshes only).
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

/// The k largest Gaussian |z| of a series' recent points, and the spread correction they imply.
struct GaussianCalibration: Sendable {
    /// Blocks the window is cut into.
    static let blocks = 16
    let k: Int
    /// Points per block (the window is `blocks` × `blockLength` points, rounded up from the history).
    let blockLength: Int
    /// One heap block (one cold object header per point, not three): per block its largest |z| in ascending order
    /// (Float bits; `fill(b)` of the `k` slots at `b * k`), then per block the points it has seen, then per
    /// block its fill. Empty when the calibration is off.
    private var storage: FlatBuffer<UInt32>
    /// Block being filled.
    var current = 0
    var sinceRefresh = 0
    /// The divisor of z (1 = the head's spread is trusted as is).
    private(set) var scale = 1.0
    /// g_k for the window size it was solved at (it changes only while the window fills).
    var referenceCount = -1
    var referenceZ = 0.0
    /// Refresh the scale after this many points, as the calibrators' tail fits do.
    static let refreshEvery = 32
    /// The scale reads completed blocks only (not the block being filled), so the |z| of the last few hundred
    /// points do not move it yet: a drift the head calls ever more unlikely is not explained away as it grows.
    let lagged: Bool

    init(history: Int, k: Int, lagged: Bool = false) {
        self.lagged = lagged
        self.k = min(max(2, k), 255)
        blockLength = max(1, (max(1, history) + Self.blocks - 1) / Self.blocks)
        storage = FlatBuffer(count: Self.blocks * (self.k + 2))
    }

    /// A placeholder when the calibration is off (no allocation).
    init(unused: ()) {
        lagged = false
        k = 2
        blockLength = 1
        storage = Self.empty
    }

    /// The block unused calibrations share (never written).
    private static let empty = FlatBuffer<UInt32>(count: 0)

    /// Blocks kept: `blocks`, or 0 when the calibration is off (its block is empty; every loop below runs over
    /// this, so an unused calibration reads nothing and encodes no runs, as its empty arrays did).
    private var kept: Int { storage.count == 0 ? 0 : Self.blocks }

    /// The i-th slot of the blocks' runs of largest |z|.
    @inline(__always)
    func top(_ i: Int) -> Float { Float(bitPattern: storage.elements[i]) }
    /// Points block `b` has seen.
    @inline(__always)
    func seen(_ b: Int) -> Int { Int(storage.elements[Self.blocks * k + b]) }
    /// Slots of block `b`'s run that hold a value.
    @inline(__always)
    func fill(_ b: Int) -> Int { Int(storage.elements[Self.blocks * (k + 1) + b]) }
    /// Whether no block has seen a point.
    var isEmpty: Bool { (0..<kept).allSatisfy { seen($0) == 0 } }

    /// Starts loading what inserting the next |z| touches: the block's header and the current block's run and
    /// counts (a hint only).
    @inline(__always)
    func prefetch() {
        guard storage.count > 0 else { return }
        let e = storage.elements
        omen_prefetch_write(storage.headerAddress)
        omen_prefetch_write(e + current * k)
        omen_prefetch_write(e + Self.blocks * k + current)
        omen_prefetch_write(e + Self.blocks * (k + 1) + current)
    }

    /// Remembers one |z| (after it was scored).
    mutating func insert(_ z: Double) {
        guard z.isFinite, kept > 0 else { return }
        let e = storage.uniqueElements()
        let seen = e + Self.blocks * k, fill = seen + Self.blocks
        if Int(seen[current]) >= blockLength {
            current = current + 1 == Self.blocks ? 0 : current + 1
            seen[current] = 0
            fill[current] = 0
        }
        seen[current] += 1
        keep(Float(z), e, fill)
        sinceRefresh += 1
        if sinceRefresh >= Self.refreshEvery { refresh() }
    }

    /// Adds `v` to the current block's ascending run of its largest values; a full run drops its smallest, so
    /// most points stop at one comparison.
    @inline(__always)
    private func keep(_ v: Float, _ e: UnsafeMutablePointer<UInt32>, _ fill: UnsafeMutablePointer<UInt32>) {
        let tops = e + current * k
        let n = Int(fill[current])
        func at(_ i: Int) -> Float { Float(bitPattern: tops[i]) }
        if n < k {
            var j = n
            while j > 0 && at(j - 1) > v {
                tops[j] = tops[j - 1]
                j -= 1
            }
            tops[j] = v.bitPattern
            fill[current] = UInt32(n + 1)
        } else if v > at(0) {
            var j = 0
            while j + 1 < k && at(j + 1) < v {
                tops[j] = tops[j + 1]
                j += 1
            }
            tops[j] = v.bitPattern
        }
    }

    /// Recomputes the scale from the k largest |z| of the window.
    mutating func refresh() {
        sinceRefresh = 0
        var n = 0
        for b in 0..<kept where !(lagged && b == current) { n += seen(b) }
        let kk = min(k, n)
        guard kk >= 2 else { scale = 1; return }
        // The kk-th largest of the blocks' runs: take the largest remaining block head kk times (16 × k compares,
        // each run is already sorted).
        var zk: Float = 0
        withUnsafeTemporaryAllocation(of: Int.self, capacity: Self.blocks) { next in
            for b in 0..<Self.blocks { next[b] = lagged && b == current ? -1 : fill(b) - 1 }
            for _ in 0..<kk {
                var best = -1
                var bestValue = -Float.infinity
                for b in 0..<Self.blocks where next[b] >= 0 {
                    let v = top(b * k + next[b])
                    if v > bestValue { bestValue = v; best = b }
                }
                guard best >= 0 else { break }
                zk = bestValue
                next[best] -= 1
            }
        }
        if referenceCount != n {
            referenceCount = n
            referenceZ = Surprise.gaussianTwoSidedInverse(surprise: log10((Double(n) + 1) / Double(kk)))
        }
        scale = referenceZ > 0 ? max(1, Double(zk) / referenceZ) : 1
    }

    func encode(into w: inout ByteWriter) {
        w.int(k)
        w.int(blockLength)
        w.int(current)
        w.int(sinceRefresh)
        w.double(scale)
        for i in 0..<kept * k { w.float(top(i)) }
        for b in 0..<kept { w.u8(UInt8(fill(b))) }
        for b in 0..<kept { w.int(seen(b)) }
    }

    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        guard try r.int() == k, try r.int() == blockLength else {
            throw ScorerRestoreError("scorer checkpoint has a different Gaussian calibration size than the configuration; the series will recalibrate")
        }
        current = try r.int()
        sinceRefresh = try r.int()
        scale = try r.double()
        guard current >= 0, current < Self.blocks else {
            throw ScorerRestoreError("scorer checkpoint has an inconsistent Gaussian calibration; the series will recalibrate")
        }
        let e = storage.uniqueElements()
        for i in 0..<kept * k { e[i] = try r.float().bitPattern }
        let seen = e + Self.blocks * k, fill = seen + Self.blocks
        for b in 0..<kept {
            fill[b] = UInt32(try r.u8())
            guard Int(fill[b]) <= k else {
                throw ScorerRestoreError("scorer checkpoint has an inconsistent Gaussian calibration; the series will recalibrate")
            }
        }
        for b in 0..<kept {
            let n = try r.int()
            guard n >= 0, n <= blockLength else {
                throw ScorerRestoreError("scorer checkpoint has an inconsistent Gaussian calibration; the series will recalibrate")
            }
            seen[b] = UInt32(n)
        }
    }
}
