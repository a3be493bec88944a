// Contextual evidence: how unusual is this value for this time of day, against the series' own past values
// at the same time of day? A one-step predictor follows a level that is normal at noon but appears at
// midnight (or a daily peak that does not come), and the value's surprise against all its history misses it
// too, because the level itself is common. Ranked per hour-of-day bin, it is rare.
//
// Each bin keeps the last `capacity` values that fell in it (a ring, plus the same values kept sorted, as
// Float: 8 bytes per value), so a rank is a binary search and an insert moves only the values between the
// evicted one and the new one.
//
// Layout: one copy-on-write allocation (per-bin count and ring head packed in one word, then per bin its sorted
// run followed by its ring), so a point pays one uniqueness check instead of one cold array header per buffer.
// Beyond the most extreme remembered value an exponential tail fitted to the `tailSize` most extreme keeps
// new extremes ordered; a bin with no spread in its tail gives the rank bound 1/(n+1), never a division by 0.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COmenSupport

/// Per time-of-day bin value histories and the spacing check that says whether time of day means anything.
struct TimeOfDayContext: Sendable {
    let bins: Int
    let capacity: Int
    let tailSize: Int
    var tailShape = TailShape.exponential
    /// Per bin: one word (count in the low 16 bits, ring head in the high 16), then `bins` runs of
    /// `2 * capacity` words: the sorted values (ascending in the first `count` slots), then the ring of values
    /// in arrival order. Values are Float bit patterns. Copy-on-write: written only after
    /// `isKnownUniquelyReferenced`.
    private var storage: FlatBuffer<UInt32>
    /// Exponentially weighted spacing of timestamps (seconds); time of day is used while it is 1 s to 6 h.
    var spacing = Double.nan
    var lastTimestamp = Double.nan

    init(bins: Int, capacity: Int, tailSize: Int) {
        self.bins = max(1, bins)
        // Counts and heads are 16-bit (65535 values per hour is far beyond any useful context history).
        self.capacity = min(max(1, capacity), Int(UInt16.max))
        self.tailSize = max(2, tailSize)
        storage = FlatBuffer(count: self.bins * (1 + 2 * self.capacity))
    }

    /// The storage unused contexts share (never written).
    private static let empty = FlatBuffer<UInt32>(count: 0)

    /// A placeholder when the term is off (no allocation).
    init(unused: ()) {
        bins = 0
        capacity = 0
        tailSize = 2
        storage = Self.empty
    }

    @inline(__always)
    private var elements: UnsafeMutablePointer<UInt32> { storage.elements }

    @inline(__always)
    private mutating func uniqueElements() -> UnsafeMutablePointer<UInt32> { storage.uniqueElements() }

    /// Index of bin `b`'s sorted run (its ring follows at `+ capacity`).
    @inline(__always)
    private func runStart(_ b: Int) -> Int { bins + b * 2 * capacity }

    @inline(__always)
    private static func value(_ e: UnsafeMutablePointer<UInt32>, _ i: Int) -> Float { Float(bitPattern: e[i]) }

    /// Values remembered per bin (for tests and inspection).
    var counts: [Int32] {
        let e = elements
        return (0..<bins).map { Int32(e[$0] & 0xFFFF) }
    }

    /// Whether the series' spacing makes a day hold several points (same rule as the calendar features).
    var applies: Bool { spacing >= 1 && spacing <= 6 * 3600 }

    @inline(__always)
    func bin(_ timestamp: Double) -> Int {
        let day = 86_400.0
        let t = timestamp - (timestamp / day).rounded(.down) * day
        return min(bins - 1, max(0, Int(t / day * Double(bins))))
    }

    /// Values remembered in the bin of `timestamp`.
    func count(at timestamp: Double) -> Int { Int(elements[bin(timestamp)] & 0xFFFF) }

    /// Starts loading what ranking and inserting a value at `timestamp` will touch: the reference count, the
    /// bin's word, its whole sorted run (the binary searches and the shift land anywhere in it) and its ring slot.
    @inline(__always)
    func prefetch(at timestamp: Double) {
        guard capacity > 0, timestamp.isFinite else { return }
        let e = elements
        let b = bin(timestamp)
        omen_prefetch_write(storage.headerAddress)
        omen_prefetch_write(e + b)
        omen_prefetch_range(e + runStart(b), 4 * capacity)
        omen_prefetch_write(e + runStart(b) + capacity + Int(e[b] >> 16))
    }

    /// Two-sided surprise −log10 p of `x` against the values remembered at this time of day.
    func surprise(_ x: Double, at timestamp: Double) -> Double {
        let b = bin(timestamp)
        let e = elements
        let n = Int(e[b] & 0xFFFF)
        guard n > 0 else { return 0 }
        let s = e + runStart(b)
        let k = min(tailSize, n)
        let nn = Double(n + 1)
        var pu: Double, pl: Double
        if x > Double(Self.value(s, n - 1)) && k >= 2 {
            let u = Double(Self.value(s, n - k))
            var me = 0.0
            for i in (n - k + 1)..<n { me += Double(Self.value(s, i)) - u }
            me /= Double(k - 1)
            pu = me > 0 ? Double(k) / nn * tailShape.factor((x - u) / me, k: k) : 1 / nn
        } else {
            pu = Double(n - Self.lowerBound(s, n, x) + 1) / nn
        }
        if x < Double(Self.value(s, 0)) && k >= 2 {
            let l = Double(Self.value(s, k - 1))
            var me = 0.0
            for i in 0..<(k - 1) { me += l - Double(Self.value(s, i)) }
            me /= Double(k - 1)
            pl = me > 0 ? Double(k) / nn * tailShape.factor((l - x) / me, k: k) : 1 / nn
        } else {
            pl = Double(Self.upperBound(s, n, x) + 1) / nn
        }
        return -log10(max(min(1, 2 * min(pu, pl)), 1e-300))
    }

    /// Tracks the spacing of timestamps; called for every point.
    mutating func observe(timestamp: Double) {
        if lastTimestamp.isFinite && timestamp > lastTimestamp {
            let dt = timestamp - lastTimestamp
            spacing = spacing.isFinite ? spacing + (dt - spacing) / 32 : dt
        }
        lastTimestamp = timestamp
    }

    /// Remembers `x` in the bin of `timestamp`, forgetting that bin's oldest value when full.
    mutating func insert(_ x: Double, at timestamp: Double) {
        let v = Float(x)
        guard v.isFinite else { return }
        let b = bin(timestamp)
        let e = uniqueElements()
        let s = e + runStart(b)
        let ring = s + capacity
        let n = Int(e[b] & 0xFFFF)
        let head = Int(e[b] >> 16)
        // v goes after every value <= v (the place an insertion from the end would stop).
        let u = Self.upperBound(s, n, Double(v))
        if n == capacity {
            // One copy of the oldest value leaves; only the values between its place and v's move by one.
            let old = Self.value(ring, head)
            let i = min(Self.lowerBound(s, n, Double(old)), n - 1)
            if i < u {
                let j = u - 1
                var m = i
                while m < j { s[m] = s[m + 1]; m += 1 }
                s[j] = v.bitPattern
            } else {
                var m = i
                while m > u { s[m] = s[m - 1]; m -= 1 }
                s[u] = v.bitPattern
            }
            e[b] = UInt32(n) | UInt32((head + 1) % capacity) << 16
        } else {
            var m = n
            while m > u { s[m] = s[m - 1]; m -= 1 }
            s[u] = v.bitPattern
            e[b] = UInt32(n + 1) | UInt32((head + 1) % capacity) << 16
        }
        ring[head] = v.bitPattern
    }

    /// First index of the sorted run `s[0..<n]` whose value is >= x.
    @inline(__always)
    static func lowerBound(_ s: UnsafeMutablePointer<UInt32>, _ n: Int, _ x: Double) -> Int {
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if Double(value(s, mid)) < x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// First index of the sorted run `s[0..<n]` whose value is > x.
    @inline(__always)
    static func upperBound(_ s: UnsafeMutablePointer<UInt32>, _ n: Int, _ x: Double) -> Int {
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if Double(value(s, mid)) <= x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func encode(into w: inout ByteWriter) {
        w.int(bins)
        w.int(capacity)
        w.double(spacing)
        w.double(lastTimestamp)
        let e = elements
        for b in 0..<bins { w.int(Int(e[b] & 0xFFFF)) }
        for b in 0..<bins { w.int(Int(e[b] >> 16)) }
        for b in 0..<bins { for i in 0..<capacity { w.float(Self.value(e, runStart(b) + capacity + i)) } }
        for b in 0..<bins { for i in 0..<capacity { w.float(Self.value(e, runStart(b) + i)) } }
    }

    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        guard try r.int() == bins, try r.int() == capacity else {
            throw ScorerRestoreError("scorer checkpoint has other time-of-day bins than the configuration; the series will recalibrate")
        }
        spacing = try r.double()
        lastTimestamp = try r.double()
        let e = uniqueElements()
        for b in 0..<bins {
            let c = try r.int()
            guard c >= 0 && c <= capacity else {
                throw ScorerRestoreError("scorer checkpoint has an inconsistent time-of-day history; the series will recalibrate")
            }
            e[b] = UInt32(c)
        }
        for b in 0..<bins {
            let h = try r.int()
            guard h >= 0 && h < capacity else {
                throw ScorerRestoreError("scorer checkpoint has an inconsistent time-of-day history; the series will recalibrate")
            }
            e[b] |= UInt32(h) << 16
        }
        for b in 0..<bins { for i in 0..<capacity { e[runStart(b) + capacity + i] = try r.float().bitPattern } }
        for b in 0..<bins { for i in 0..<capacity { e[runStart(b) + i] = try r.float().bitPattern } }
    }
}
