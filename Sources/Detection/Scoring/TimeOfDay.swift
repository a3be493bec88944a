// Contextual evidence: how unusual is this value for this time of day, against the series' own past values
// at the same time of day? A one-step predictor follows a level that is normal at noon but appears at
// midnight (or a daily peak that does not come), and the value's surprise against all its history misses it
// too, because the level itself is common. Ranked per hour-of-day bin, it is rare.
//
// Each bin keeps the last `capacity` values that fell in it (a ring, plus the same values kept sorted, as
// Float: 8 bytes per value), so a rank is a binary search and an insert moves at most `capacity` floats.
// Beyond the most extreme remembered value an exponential tail fitted to the `tailSize` most extreme keeps
// new extremes ordered; a bin with no spread in its tail gives the rank bound 1/(n+1), never a division by 0.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per time-of-day bin value histories and the spacing check that says whether time of day means anything.
struct TimeOfDayContext: Sendable {
    let bins: Int
    let capacity: Int
    let tailSize: Int
    /// Values per bin, `capacity` slots per bin, in arrival order.
    var ring: [Float]
    /// The same values, sorted ascending within each bin's first `counts[b]` slots.
    var sorted: [Float]
    var counts: [Int32]
    var heads: [Int32]
    /// Exponentially weighted spacing of timestamps (seconds); time of day is used while it is 1 s to 6 h.
    var spacing = Double.nan
    var lastTimestamp = Double.nan

    init(bins: Int, capacity: Int, tailSize: Int) {
        self.bins = max(1, bins)
        self.capacity = max(1, capacity)
        self.tailSize = max(2, tailSize)
        ring = [Float](repeating: 0, count: self.bins * self.capacity)
        sorted = ring
        counts = [Int32](repeating: 0, count: self.bins)
        heads = counts
    }

    /// A placeholder when the term is off (no allocation).
    init(unused: ()) {
        bins = 0
        capacity = 0
        tailSize = 2
        ring = []
        sorted = []
        counts = []
        heads = []
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
    func count(at timestamp: Double) -> Int { Int(counts[bin(timestamp)]) }

    /// Two-sided surprise −log10 p of `x` against the values remembered at this time of day.
    func surprise(_ x: Double, at timestamp: Double) -> Double {
        let b = bin(timestamp)
        let n = Int(counts[b])
        guard n > 0 else { return 0 }
        return sorted.withUnsafeBufferPointer { all in
            let base = b * capacity
            let s = UnsafeBufferPointer(rebasing: all[base..<(base + n)])
            let k = min(tailSize, n)
            let nn = Double(n + 1)
            var pu: Double, pl: Double
            if x > Double(s[n - 1]) && k >= 2 {
                let u = Double(s[n - k])
                var me = 0.0
                for i in (n - k + 1)..<n { me += Double(s[i]) - u }
                me /= Double(k - 1)
                pu = me > 0 ? Double(k) / nn * exp(-(x - u) / me) : 1 / nn
            } else {
                pu = Double(n - Self.lowerBound(s, x) + 1) / nn
            }
            if x < Double(s[0]) && k >= 2 {
                let l = Double(s[k - 1])
                var me = 0.0
                for i in 0..<(k - 1) { me += l - Double(s[i]) }
                me /= Double(k - 1)
                pl = me > 0 ? Double(k) / nn * exp(-(l - x) / me) : 1 / nn
            } else {
                pl = Double(Self.upperBound(s, x) + 1) / nn
            }
            return -log10(max(min(1, 2 * min(pu, pl)), 1e-300))
        }
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
        let b = bin(timestamp)
        let base = b * capacity
        let v = Float(x)
        guard v.isFinite else { return }
        var n = Int(counts[b])
        let head = Int(heads[b])
        if n == capacity {
            let old = ring[base + head]
            // Remove one copy of the oldest value from the sorted run.
            var i = sorted.withUnsafeBufferPointer { Self.lowerBound(UnsafeBufferPointer(rebasing: $0[base..<(base + n)]), Double(old)) }
            i = min(i, n - 1)
            for j in i..<(n - 1) { sorted[base + j] = sorted[base + j + 1] }
            n -= 1
        }
        ring[base + head] = v
        heads[b] = Int32((head + 1) % capacity)
        var j = n
        while j > 0 && sorted[base + j - 1] > v {
            sorted[base + j] = sorted[base + j - 1]
            j -= 1
        }
        sorted[base + j] = v
        counts[b] = Int32(n + 1)
    }

    /// First index whose value is >= x.
    @inline(__always)
    static func lowerBound(_ s: UnsafeBufferPointer<Float>, _ x: Double) -> Int {
        var lo = 0, hi = s.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Double(s[mid]) < x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// First index whose value is > x.
    @inline(__always)
    static func upperBound(_ s: UnsafeBufferPointer<Float>, _ x: Double) -> Int {
        var lo = 0, hi = s.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Double(s[mid]) <= x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func encode(into w: inout ByteWriter) {
        w.int(bins)
        w.int(capacity)
        w.double(spacing)
        w.double(lastTimestamp)
        for c in counts { w.int(Int(c)) }
        for h in heads { w.int(Int(h)) }
        for v in ring { w.float(v) }
        for v in sorted { w.float(v) }
    }

    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        guard try r.int() == bins, try r.int() == capacity else {
            throw ScorerRestoreError("scorer checkpoint has other time-of-day bins than the configuration; the series will recalibrate")
        }
        spacing = try r.double()
        lastTimestamp = try r.double()
        for b in 0..<bins {
            let c = try r.int()
            guard c >= 0 && c <= capacity else {
                throw ScorerRestoreError("scorer checkpoint has an inconsistent time-of-day history; the series will recalibrate")
            }
            counts[b] = Int32(c)
        }
        for b in 0..<bins {
            let h = try r.int()
            guard h >= 0 && h < capacity else {
                throw ScorerRestoreError("scorer checkpoint has an inconsistent time-of-day history; the series will recalibrate")
            }
            heads[b] = Int32(h)
        }
        for i in ring.indices { ring[i] = try r.float() }
        for i in sorted.indices { sorted[i] = try r.float() }
    }
}
