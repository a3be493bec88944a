// Contextual evidence: how unusual is this value for this time of day, against the series' own past values
// at the same time of day? A one-step predictor follows a level that is normal at noon but appears at
// midnight (or a daily peak that does not come), and the value's surprise against all its history misses it
// too, because the level itself is common. Ranked per hour-of-day bin, it is rare.
//
// Each bin keeps its values sorted, in two generations (a jumping window, as the rank histories): the newest
// takes values until it holds `capacity / 2`; the next value drops the older generation and starts a new one.
// So a bin ranks against its last capacity/2 + 1 to capacity values, without a ring of arrival order.
// A value is kept as a 16-bit code: its offset from its generation's center (the median of the generation
// before; for a bin's first generation, the median of its first 16 values, kept as Float until then: coding them
// against the first value, an outlier perhaps, and re-coding them later broke ties among them) rounded to
// bfloat16 (8 bits of exponent, 8 of significand: within 0.4 % of the offset), mapped so that codes sort as the
// values do. Equal values get equal codes, so ties stay ties. A rank is a binary search per generation;
// the tail fit decodes the few most extreme values. When the newest generation becomes the older, it is thinned:
// its `tailSize` lowest and highest values stay exact (the tail fits and "beyond the most extreme" read only those),
// of the values between every other one is kept and stands for itself and the next, so a rank in the older
// generation is off by at most one value. 2 bytes per value kept: 9.8 KB per series at 24 x 250 with a tail of 10
// (a ring plus a sorted run of Float took 48 KB; two whole generations of codes 12.3 KB).
//
// Layout: one copy-on-write allocation; per bin a header (the two generations' counts and centers) followed by
// the older generation's sorted codes and the newest's, so a point touches one contiguous run.
// Beyond the most extreme remembered value an exponential tail fitted to the `tailSize` most extreme keeps
// new extremes ordered. A discrete series (counts, states, rounded readings) has a step: where the most extreme tie
// the gap to the next remembered value is the tail's scale, as in `Calibrator`, and where most of them tie the
// scale is at least the smallest gap between them (a mean excess of mostly zeros would make one step beyond the
// largest a p = 1e-8 event); a bin of one value gives the rank bound 1/(n+1), never a division by 0.

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
    /// Values a generation takes before the next one drops the older.
    let generationSize: Int
    /// Codes the older generation keeps: its `tailSize` lowest and highest exactly, and of the values between
    /// every other one (which stands for itself and the next). `generationSize` when there is nothing to thin.
    let olderSlots: Int
    let tailSize: Int
    var tailShape = TailShape.exponential
    /// Per bin: `header` UInt16 (older count, newest count, older center and newest center as Float bits), then
    /// `olderSlots` sorted codes of the older generation and `generationSize` of the newest. Copy-on-write: written
    /// only after `isKnownUniquelyReferenced`.
    private var storage: FlatBuffer<UInt16>
    /// Exponentially weighted spacing of timestamps (seconds); time of day is used while it is 1 s to 6 h.
    var spacing = Double.nan
    var lastTimestamp = Double.nan

    static let header = 6
    /// A bin's first values are kept as Float (two slots each) until this many have arrived; then they are coded
    /// against their median, so no value is coded against a center that is an outlier (the first value may be).
    static let rawValues = 16

    /// Whether bin header `h` is in its raw phase (its first generation, fewer than `rawValues` values; only when a
    /// generation has room for them as Float).
    @inline(__always)
    private func isRaw(_ h: UnsafeMutablePointer<UInt16>) -> Bool {
        generationSize >= 2 * Self.rawValues && h[0] == 0 && Int(h[1]) < Self.rawValues
    }
    /// First field of the encoding (older encodings start with the bin count, which is positive).
    static let formatTag = -2

    init(bins: Int, capacity: Int, tailSize: Int) {
        self.bins = max(1, bins)
        // Counts are 16-bit (65535 values per hour is far beyond any useful context history).
        self.capacity = min(max(2, capacity), Int(UInt16.max))
        generationSize = self.capacity / 2
        self.tailSize = max(2, tailSize)
        olderSlots = Self.thinnedCount(generationSize, edge: self.tailSize)
        storage = FlatBuffer(count: self.bins * (Self.header + olderSlots + generationSize))
    }

    /// The storage unused contexts share (never written).
    private static let empty = FlatBuffer<UInt16>(count: 0)

    /// A placeholder when the term is off (no allocation).
    init(unused: ()) {
        bins = 0
        capacity = 0
        generationSize = 0
        olderSlots = 0
        tailSize = 2
        storage = Self.empty
    }

    @inline(__always)
    private var elements: UnsafeMutablePointer<UInt16> { storage.elements }

    /// Start of bin `b`'s header (its older codes follow at `+ header`, its newest at `+ header + olderSlots`).
    @inline(__always)
    private func binStart(_ b: Int) -> Int { b * (Self.header + olderSlots + generationSize) }

    /// Codes kept of a generation of `g` values thinned with `edge` exact values at each end (`g` when fewer than
    /// 4 lie between them).
    static func thinnedCount(_ g: Int, edge: Int) -> Int {
        let interior = g - 2 * edge
        return interior < 4 ? g : 2 * edge + (interior + 1) / 2
    }

    /// Whether the older generation is thinned.
    @inline(__always)
    private var thins: Bool { olderSlots < generationSize }

    /// Values of the older generation (`n0` of them, as thinned into `olderSlots` codes) whose code is below the
    /// code at stored index `i` (the count a binary search over the stored codes found): a kept interior code stands
    /// for two values (the last for one when their number is odd).
    @inline(__always)
    private func olderValues(below i: Int, n0: Int) -> Int {
        guard thins && n0 > 0 else { return i }
        let edge = tailSize, interior = generationSize - 2 * edge, kept = (interior + 1) / 2
        if i <= edge { return i }
        if i <= edge + kept { return edge + min(2 * (i - edge), interior) }
        return i - kept + interior
    }

    /// Codes stored for the older generation when it holds `n0` values.
    @inline(__always)
    private func olderStored(_ n0: Int) -> Int { n0 == 0 ? 0 : olderSlots }

    @inline(__always)
    private static func center(_ h: UnsafeMutablePointer<UInt16>, _ generation: Int) -> Float {
        Float(bitPattern: UInt32(h[2 + 2 * generation]) | UInt32(h[3 + 2 * generation]) << 16)
    }

    @inline(__always)
    private static func setCenter(_ h: UnsafeMutablePointer<UInt16>, _ generation: Int, _ c: Float) {
        h[2 + 2 * generation] = UInt16(truncatingIfNeeded: c.bitPattern)
        h[3 + 2 * generation] = UInt16(truncatingIfNeeded: c.bitPattern >> 16)
    }

    /// The code of `x` against center `c`: the offset rounded to bfloat16 (to nearest, ties to even), mapped so
    /// that codes order as the offsets do (−0 is taken as +0).
    @inline(__always)
    static func code(_ x: Double, center c: Float) -> UInt16 {
        let f = Float(x - Double(c))
        let bits = f == 0 ? 0 : f.bitPattern
        // Finite offsets round at most to infinity's pattern; NaN cannot occur (x and c are finite).
        let h = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
        return h & 0x8000 != 0 ? ~h : h | 0x8000
    }

    /// The value a code stands for against center `c`.
    @inline(__always)
    static func value(_ code: UInt16, center c: Float) -> Double {
        let h = code & 0x8000 != 0 ? code & 0x7FFF : ~code
        return Double(c) + Double(Float(bitPattern: UInt32(h) << 16))
    }

    /// Values remembered per bin (for tests and inspection).
    var counts: [Int32] {
        let e = elements
        return (0..<bins).map { Int32(e[binStart($0)]) + Int32(e[binStart($0) + 1]) }
    }

    /// Whether the series' spacing makes a day hold several points (same rule as the calendar features).
    var applies: Bool { spacing >= 1 && spacing <= 6 * 3600 }

    @inline(__always)
    func bin(_ timestamp: Double) -> Int {
        let t = CivilCalendar.secondsIntoDay(timestamp)
        return min(bins - 1, max(0, Int(t / 86_400 * Double(bins))))
    }

    /// Values the bin of a point needs before its surprise counts: the points of `days` visits to a bin at the
    /// series' spacing (at least one a visit), but no more than a full bin keeps for good (`generationSize`: the
    /// bins of a series with points a minute apart hold two to four days of their hour, seconds apart less than
    /// one), and at least `minValues`.
    func valuesNeeded(days: Double, minValues: Int) -> Int {
        let perVisit = max(1, 86_400 / Double(bins) / spacing)
        let forDays = min((days * perVisit).rounded(.up), Double(generationSize))
        return max(minValues, forDays.isFinite ? Int(forDays) : generationSize)
    }

    /// Values remembered in the bin of `timestamp`.
    func count(at timestamp: Double) -> Int {
        let h = elements + binStart(bin(timestamp))
        return Int(h[0]) + Int(h[1])
    }

    /// Starts loading what ranking and inserting a value at `timestamp` will touch: the reference count and the
    /// bin's header and codes (the binary searches and the shift land anywhere in them).
    @inline(__always)
    func prefetch(at timestamp: Double) {
        guard capacity > 0, timestamp.isFinite else { return }
        let h = elements + binStart(bin(timestamp))
        omen_prefetch_write(storage.headerAddress)
        omen_prefetch_write(h)
        omen_prefetch_range(h, 2 * (Self.header + olderSlots + generationSize))
    }

    /// The tail fit of a bin's `k` largest (`largest`) or smallest values, merged from both generations: the
    /// k-th most extreme value and the tail's scale, the mean distance of the k − 1 beyond it, at least the smallest
    /// gap between distinct values among the k; where all k tie, the gap to the next remembered value (0 for a bin
    /// of one value). Passes over the merge, no buffer; only for a value beyond the bin's range (kept out of line).
    @inline(never)
    private func tail(_ h: UnsafeMutablePointer<UInt16>, _ k: Int, largest: Bool) -> (threshold: Double, meanExcess: Double) {
        // The older generation's `tailSize` most extreme values at each end are kept exactly, and k <= tailSize.
        let n0 = olderStored(Int(h[0])), n1 = Int(h[1])
        let c0 = Self.center(h, 0), c1 = Self.center(h, 1)
        let s0 = h + Self.header, s1 = s0 + olderSlots
        let step = largest ? -1 : 1
        func walk(_ body: (Int, Double) -> Void) {
            var i0 = largest ? n0 - 1 : 0, i1 = largest ? n1 - 1 : 0
            for j in 0..<k {
                let has0 = i0 >= 0 && i0 < n0, has1 = i1 >= 0 && i1 < n1
                let v0 = has0 ? Self.value(s0[i0], center: c0) : 0
                let v1 = has1 ? Self.value(s1[i1], center: c1) : 0
                if has0 && (!has1 || (largest ? v0 >= v1 : v0 <= v1)) {
                    body(j, v0)
                    i0 += step
                } else {
                    body(j, v1)
                    i1 += step
                }
            }
        }
        var threshold = 0.0
        walk { j, v in if j == k - 1 { threshold = v } }
        var excess = 0.0
        walk { j, v in if j < k - 1 { excess += largest ? v - threshold : threshold - v } }
        let me = excess / Double(k - 1)
        // A discrete series (counts, states, rounded readings) has a step. Gaps within the coding tolerance are one
        // value coded against the two generations' centers (each codes its offset to 8 significant bits).
        let tc0 = n0 > 0 ? c0 : c1, tc1 = n1 > 0 ? c1 : c0
        if me > 0 {
            // Mostly tied: the mean excess cannot be finer than the smallest gap between the tail's distinct values.
            var gap = Double.infinity, previous = Double.nan
            walk { _, v in
                let d = abs(v - previous)
                if d > Self.codingTolerance(v, tc0, tc1) { gap = min(gap, d) }
                previous = v
            }
            return (threshold, gap.isFinite ? max(me, gap) : me)
        }
        // All k tie: the gap to the next remembered value beyond the tolerance is the tail's scale.
        let tolerance = Self.codingTolerance(threshold, tc0, tc1)
        let next: Double
        if largest {
            let b = threshold - tolerance
            let i0 = Self.lowerBound(s0, n0, Self.code(b, center: c0)), i1 = Self.lowerBound(s1, n1, Self.code(b, center: c1))
            next = max(i0 > 0 ? Self.value(s0[i0 - 1], center: c0) : -.infinity,
                       i1 > 0 ? Self.value(s1[i1 - 1], center: c1) : -.infinity)
        } else {
            let b = threshold + tolerance
            let i0 = Self.upperBound(s0, n0, Self.code(b, center: c0)), i1 = Self.upperBound(s1, n1, Self.code(b, center: c1))
            next = min(i0 < n0 ? Self.value(s0[i0], center: c0) : .infinity,
                       i1 < n1 ? Self.value(s1[i1], center: c1) : .infinity)
        }
        return (threshold, next.isFinite ? abs(threshold - next) : 0)
    }

    /// Two-sided surprise −log10 p of `x` against the values remembered at this time of day.
    func surprise(_ x: Double, at timestamp: Double) -> Double {
        let h = elements + binStart(bin(timestamp))
        let n0 = Int(h[0]), n1 = Int(h[1])
        let n = n0 + n1
        guard n > 0 else { return 0 }
        if isRaw(h) { return rawSurprise(x, h) }
        let c0 = Self.center(h, 0), c1 = Self.center(h, 1)
        let s0 = h + Self.header, s1 = s0 + olderSlots
        let m0 = olderStored(n0)
        let k = min(tailSize, n)
        let nn = Double(n + 1)
        let maxValue = max(m0 > 0 ? Self.value(s0[m0 - 1], center: c0) : -.infinity,
                           n1 > 0 ? Self.value(s1[n1 - 1], center: c1) : -.infinity)
        let minValue = min(m0 > 0 ? Self.value(s0[0], center: c0) : .infinity,
                           n1 > 0 ? Self.value(s1[0], center: c1) : .infinity)
        var pu: Double, pl: Double
        if x > maxValue && k >= 2 {
            let (u, me) = tail(h, k, largest: true)
            pu = tailP(x - u, meanExcess: me, k: k, n: n)
        } else {
            let below = olderValues(below: Self.lowerBound(s0, m0, Self.code(x, center: c0)), n0: n0)
                + Self.lowerBound(s1, n1, Self.code(x, center: c1))
            pu = Double(n - below + 1) / nn
        }
        if x < minValue && k >= 2 {
            let (l, me) = tail(h, k, largest: false)
            pl = tailP(l - x, meanExcess: me, k: k, n: n)
        } else {
            let atOrBelow = olderValues(below: Self.upperBound(s0, m0, Self.code(x, center: c0)), n0: n0)
                + Self.upperBound(s1, n1, Self.code(x, center: c1))
            pl = Double(atOrBelow + 1) / nn
        }
        return Self.twoSided(pu, pl)
    }

    /// How far apart two codings of one value `x` may decode against the centers `c0` and `c1` of the generations
    /// that hold values (twice a bfloat16's relative half-step of the larger offset).
    @inline(__always)
    private static func codingTolerance(_ x: Double, _ c0: Float, _ c1: Float) -> Double {
        0x1p-7 * max(abs(x - Double(c0)), abs(x - Double(c1)))
    }

    /// Probability of a value `distance` beyond the k-th most extreme of `n` remembered values, whose k − 1 more
    /// extreme ones lie `meanExcess` beyond it on average; the rank bound 1/(n+1) when they have no spread.
    @inline(__always)
    private func tailP(_ distance: Double, meanExcess me: Double, k: Int, n: Int) -> Double {
        let nn = Double(n + 1)
        return me > 0 ? Double(k) / nn * tailShape.factor(distance / me, k: k) : 1 / nn
    }

    /// −log10 of the two-sided p from the two one-sided ones.
    @inline(__always)
    private static func twoSided(_ pu: Double, _ pl: Double) -> Double {
        -log10(max(min(1, 2 * min(pu, pl)), 1e-300))
    }

    /// Tracks the spacing of timestamps; called for every point.
    mutating func observe(timestamp: Double) {
        if lastTimestamp.isFinite && timestamp > lastTimestamp {
            let dt = timestamp - lastTimestamp
            spacing = spacing.isFinite ? spacing + (dt - spacing) / 32 : dt
        }
        lastTimestamp = timestamp
    }

    /// Remembers `x` in the bin of `timestamp`, dropping that bin's older generation when the newest is full.
    mutating func insert(_ x: Double, at timestamp: Double) {
        guard Float(x).isFinite, capacity > 0 else { return }
        insert(x, bin: bin(timestamp))
    }

    private mutating func insert(_ x: Double, bin b: Int) {
        let h = storage.uniqueElements() + binStart(b)
        let g = generationSize
        let s0 = h + Self.header, s1 = s0 + olderSlots
        if Int(h[1]) == g {
            if thins {
                // The newest generation becomes the older, thinned: its extremes exactly, every other value between.
                let edge = tailSize
                for i in 0..<edge { s0[i] = s1[i] }
                var j = edge
                var i = edge
                while i < g - edge { s0[j] = s1[i]; j += 1; i += 2 }
                for i in (g - edge)..<g { s0[j] = s1[i]; j += 1 }
            } else {
                s0.update(from: s1, count: g)
            }
            h[0] = UInt16(g)
            h[1] = 0
            Self.setCenter(h, 0, Self.center(h, 1))
        }
        var n1 = Int(h[1])
        if isRaw(h) {
            // A bin's first values are kept as they are, sorted, until there are enough to centre them.
            let v = Float(x)
            var m = n1
            while m > 0 && Self.rawValue(s1, m - 1) > v { Self.setRawValue(s1, m, Self.rawValue(s1, m - 1)); m -= 1 }
            Self.setRawValue(s1, m, v)
            h[1] += 1
            if Int(h[1]) == Self.rawValues { codeRawValues(h) }
            return
        }
        if n1 == 0 {
            // A new generation is centred on the median of the one before (or on its own first value). A median
            // beyond Float's range (a code for an offset that overflowed, or a corrupt checkpoint's) would leave a
            // center no checkpoint can hold: the value itself instead.
            let n0 = Int(h[0])
            let m0 = olderStored(n0)
            let median = n0 > 0 ? Float(Self.value(s0[m0 / 2], center: Self.center(h, 0))) : Float(x)
            Self.setCenter(h, 1, median.isFinite ? median : Float(x))
        }
        let code = Self.code(x, center: Self.center(h, 1))
        // The code goes after every code <= it (the place an insertion from the end would stop).
        let u = Self.upperBound(s1, n1, code)
        while n1 > u { s1[n1] = s1[n1 - 1]; n1 -= 1 }
        s1[u] = code
        h[1] += 1
    }

    /// Codes a bin's first `rawValues` values, kept as Float until now, against their median.
    private func codeRawValues(_ h: UnsafeMutablePointer<UInt16>) {
        let n = Int(h[1])
        let s = h + Self.header + olderSlots
        var raw = [Float](repeating: 0, count: n)
        for i in 0..<n { raw[i] = Self.rawValue(s, i) }
        let c = raw[n / 2]
        Self.setCenter(h, 1, c)
        for i in 0..<n { s[i] = Self.code(Double(raw[i]), center: c) }
    }

    /// The i-th Float of a run kept raw (two slots per value).
    @inline(__always)
    private static func rawValue(_ s: UnsafeMutablePointer<UInt16>, _ i: Int) -> Float {
        UnsafeRawPointer(s).loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
    }

    @inline(__always)
    private static func setRawValue(_ s: UnsafeMutablePointer<UInt16>, _ i: Int, _ v: Float) {
        UnsafeMutableRawPointer(s).storeBytes(of: v, toByteOffset: 4 * i, as: Float.self)
    }

    /// The surprise of `x` against a bin still in its raw phase (its values exactly, as the ring of Float ranked).
    private func rawSurprise(_ x: Double, _ h: UnsafeMutablePointer<UInt16>) -> Double {
        let n = Int(h[1])
        let s = h + Self.header + olderSlots
        // Read in place (sorted, at most `rawValues`): no array per point.
        func v(_ i: Int) -> Double { Double(Self.rawValue(s, i)) }
        let k = min(tailSize, n)
        let nn = Double(n + 1)
        /// `tail`'s fit on the exact values: the k-th most extreme and the tail's scale, by the same rules.
        func rawTail(largest: Bool) -> (threshold: Double, meanExcess: Double) {
            func e(_ j: Int) -> Double { v(largest ? n - 1 - j : j) } // the j-th most extreme
            let threshold = e(k - 1)
            var me = 0.0
            // Summed from the threshold's side for the largest, from the extreme for the smallest (as always).
            for j in stride(from: largest ? k - 2 : 0, through: largest ? 0 : k - 2, by: largest ? -1 : 1) {
                me += abs(e(j) - threshold)
            }
            me /= Double(k - 1)
            if me > 0 {
                var gap = Double.infinity
                for j in 0..<(k - 1) where e(j) != e(j + 1) { gap = min(gap, abs(e(j) - e(j + 1))) }
                return (threshold, gap.isFinite ? max(me, gap) : me)
            }
            let next = (k..<n).first { e($0) != threshold }
            return (threshold, next.map { abs(threshold - e($0)) } ?? 0)
        }
        var pu: Double, pl: Double
        if x > v(n - 1) && k >= 2 {
            let (u, me) = rawTail(largest: true)
            pu = tailP(x - u, meanExcess: me, k: k, n: n)
        } else {
            pu = Double(n - (0..<n).count(where: { v($0) < x }) + 1) / nn
        }
        if x < v(0) && k >= 2 {
            let (l, me) = rawTail(largest: false)
            pl = tailP(l - x, meanExcess: me, k: k, n: n)
        } else {
            pl = Double((0..<n).count(where: { v($0) <= x }) + 1) / nn
        }
        return Self.twoSided(pu, pl)
    }

    /// First index of the sorted codes `s[0..<n]` that is >= c.
    @inline(__always)
    static func lowerBound(_ s: UnsafeMutablePointer<UInt16>, _ n: Int, _ c: UInt16) -> Int {
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if s[mid] < c { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// First index of the sorted codes `s[0..<n]` that is > c.
    @inline(__always)
    static func upperBound(_ s: UnsafeMutablePointer<UInt16>, _ n: Int, _ c: UInt16) -> Int {
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if s[mid] <= c { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The values of bin `b`, older generation first, each in ascending order (for tests).
    func values(inBin b: Int) -> [Double] {
        let h = elements + binStart(b)
        let s0 = h + Self.header, s1 = s0 + olderSlots
        if isRaw(h) { return (0..<Int(h[1])).map { Double(Self.rawValue(s1, $0)) } }
        let n0 = Int(h[0])
        var older: [Double] = []
        for i in 0..<olderStored(n0) {
            // A kept interior code stands for as many values as the next index adds.
            let v = Self.value(s0[i], center: Self.center(h, 0))
            for _ in 0..<(olderValues(below: i + 1, n0: n0) - olderValues(below: i, n0: n0)) { older.append(v) }
        }
        return older + (0..<Int(h[1])).map { Self.value(s1[$0], center: Self.center(h, 1)) }
    }

    /// A varint small enough for a count, a bin or a code (larger is a corrupt checkpoint).
    private static func readSmall(_ r: inout ByteReader) throws(ScorerRestoreError) -> Int {
        let v = try r.varint()
        guard v <= 0x10_0000 else {
            throw ScorerRestoreError("scorer checkpoint has an out-of-range history count; the series will recalibrate")
        }
        return Int(v)
    }

    private static let inconsistent = ScorerRestoreError("scorer checkpoint has an inconsistent time-of-day history; the series will recalibrate")

    /// Per bin the two generations' counts and centers, then their codes as steps from the previous code (sorted
    /// codes: mostly one byte each), or a bin's raw first values as Float.
    func encode(into w: inout ByteWriter) {
        w.int(Self.formatTag)
        w.int(bins)
        w.int(capacity)
        w.double(spacing)
        w.double(lastTimestamp)
        let e = elements
        for b in 0..<bins {
            let h = e + binStart(b)
            for gen in 0..<2 {
                let n = Int(h[gen])
                w.varint(UInt64(n))
                w.float(Self.center(h, gen))
                let s = h + Self.header + gen * olderSlots
                if gen == 1 && isRaw(h) {
                    for i in 0..<n { w.float(Self.rawValue(s, i)) }
                    continue
                }
                var previous = 0
                for i in 0..<(gen == 0 ? olderStored(n) : n) {
                    w.varint(UInt64(Int(s[i]) - previous))
                    previous = Int(s[i])
                }
            }
        }
    }

    /// Reads `encode(into:)`, or the encoding of checkpoint versions 3 to 5 (a ring and a sorted run of Float per
    /// bin), whose values are inserted again in arrival order.
    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        let first = try r.int()
        let isCompact = first == Self.formatTag
        let storedBins = isCompact ? try r.int() : first
        let storedCapacity = try r.int()
        guard storedBins == bins, storedCapacity == capacity else {
            throw ScorerRestoreError("scorer checkpoint has other time-of-day bins than the configuration; the series will recalibrate")
        }
        spacing = try r.double()
        lastTimestamp = try r.double()
        storage = FlatBuffer(count: bins * (Self.header + olderSlots + generationSize))
        guard isCompact else { return try decodeRing(from: &r) }
        let e = storage.uniqueElements()
        for b in 0..<bins {
            let h = e + binStart(b)
            for gen in 0..<2 {
                let n = try Self.readSmall(&r)
                guard n <= generationSize, gen == 1 || n == 0 || n == generationSize else { throw Self.inconsistent }
                let c = try r.float()
                guard c.isFinite else { throw Self.inconsistent }
                h[gen] = UInt16(n)
                Self.setCenter(h, gen, c)
                let s = h + Self.header + gen * olderSlots
                if gen == 1 && isRaw(h) {
                    var previous = -Float.infinity
                    for i in 0..<n {
                        let v = try r.float()
                        guard v.isFinite, v >= previous else { throw Self.inconsistent }
                        Self.setRawValue(s, i, v)
                        previous = v
                    }
                    continue
                }
                var code = 0
                for i in 0..<(gen == 0 ? olderStored(n) : n) {
                    code += try Self.readSmall(&r)
                    guard code <= Int(UInt16.max) else { throw Self.inconsistent }
                    s[i] = UInt16(code)
                }
            }
        }
    }

    /// The ring encoding of versions 3 to 5 (after the spacing): counts, heads, rings, sorted runs.
    private mutating func decodeRing(from r: inout ByteReader) throws(ScorerRestoreError) {
        var ns: [Int] = [], heads: [Int] = []
        for _ in 0..<bins {
            let c = try r.int()
            guard c >= 0 && c <= capacity else { throw Self.inconsistent }
            ns.append(c)
        }
        for _ in 0..<bins {
            let h = try r.int()
            guard h >= 0 && h < capacity else { throw Self.inconsistent }
            heads.append(h)
        }
        var rings: [Float] = []
        rings.reserveCapacity(bins * capacity)
        for _ in 0..<(bins * capacity) { rings.append(try r.float()) }
        for _ in 0..<(bins * capacity) { _ = try r.float() } // the sorted runs: the rings hold the same values
        for b in 0..<bins {
            let start = (heads[b] - ns[b] + capacity) % capacity
            for j in 0..<ns[b] {
                let v = rings[b * capacity + (start + j) % capacity]
                if v.isFinite { insert(Double(v), bin: b) }
            }
        }
    }
}
