// A bounded history of numbers that answers "how many past values are above / below x" in O(log bins),
// so calibration against thousands of past values never scans the history per point.
//
// Values are binned on a logarithmic grid (16 bins per octave, ~4 % relative width, magnitudes from 2^-60 to
// 2^68; signed histories mirror it around an exact-zero bin), and only the counts per bin are kept: no value is
// remembered one by one. Forgetting works as a jumping window of two generations: the newest generation counts
// the values since it started; when it holds 2/3 of the capacity, the next insert drops the older generation at
// once (the live counts become the newest generation's) and starts a new one. So a history of capacity h ranks
// against the last 2h/3 + 1 to 4h/3 values, h on average (all of them while fewer than 4h/3 have arrived), where
// a ring evicted the oldest value exactly at the price of remembering all h of them. (Generations of h/2, so
// never more than h values, scored the same on NAB's short files but lower on its long ones: tweets 61.4 against
// 62.6, where the ring scored 63.0.)
//
// Counts are stored only over the range of bins the values occupy (with a little slack), not over the whole
// grid: a series' residuals fill a few hundred of the 2049 magnitude bins. The range grows when a value falls
// outside it and shrinks to what is occupied when a generation is dropped. Magnitude histories cap it at 32
// octaves below their largest bin (smaller non-zero magnitudes are counted in the lowest kept bin: for an upper
// tail they are all "far below"); exact zeros keep their own bin. A two-level count (per bin, and per block of 64
// bins) gives prefix counts and order statistics: a query reads the block totals and one block.
//
// Magnitude histories (residuals) bin |x| directly: resolution is relative to the residual itself. Signed
// histories (values) bin (x − center)/scale, anchored on the series' own median and spread: a series at
// 50 ± 1 would otherwise fall into three bins. The first anchoring (after `firstAnchor` values) is exact: those
// values are kept until then. Later, when the level or spread has moved, the counts are re-binned: each bin's
// count moves to the bin of its representative value under the new anchor (within half an old bin of where the
// exact values would land; equal values stay together). Offsets within 2^-10 of a spread from the center count
// as the center itself.
// Memory: per occupied bin 2 bytes of live count and 2 of newest-generation count, plus 2 per 64 bins; a
// history of residuals or step changes occupies ~100-300 bins (0.4-1.2 KB), of values ~350 (~1.4 KB: its slots
// leave out the offsets the center clamp never fills).
//
// Layout: one copy-on-write allocation per history (block totals, then live counts, then the newest
// generation's counts, then while the history is unanchored the first values as Float offsets), so a point pays
// one uniqueness check whose reference count shares its cache line with the block totals every query reads.

import COmenSupport

/// Logarithmic binning of magnitudes and signed values.
enum LogBins {
    /// Bins for magnitudes: 0 holds [0, 2^-60), 1...2048 hold 16 sub-bins per octave, 2048 also holds >= 2^68.
    static let magnitudeCount = 2049
    /// Bins for signed values: magnitudes mirrored around an exact-zero bin.
    static let signedCount = 2 * magnitudeCount - 1
    static let minExponent = -60
    static let maxExponent = 67

    /// Bin of a magnitude (`m >= 0`; NaN lands in bin 0).
    @inline(__always)
    static func magnitudeBin(_ m: Double) -> Int {
        guard m >= 0x1p-60 else { return 0 }
        guard m < 0x1p68 else { return magnitudeCount - 1 }
        let bits = m.bitPattern
        let e = Int((bits >> 52) & 0x7FF) - 1023
        let sub = Int((bits >> 48) & 0xF)
        return 1 + (e - minExponent) * 16 + sub
    }

    /// A representative value (geometric middle) of a magnitude bin.
    @inline(__always)
    static func magnitudeValue(_ bin: Int) -> Double {
        guard bin > 0 else { return 0 }
        let e = (bin - 1) / 16 + minExponent
        let sub = (bin - 1) % 16
        return Double(sign: .plus, exponent: e, significand: 1 + (Double(sub) + 0.5) / 16)
    }

    @inline(__always)
    static func signedBin(_ v: Double) -> Int {
        let mid = magnitudeCount - 1
        return v < 0 ? mid - magnitudeBin(-v) : mid + magnitudeBin(v)
    }

    @inline(__always)
    static func signedValue(_ bin: Int) -> Double {
        let mid = magnitudeCount - 1
        return bin < mid ? -magnitudeValue(mid - bin) : magnitudeValue(bin - mid)
    }
}

/// Counts of the last 2/3 + 1 to 4/3 of `capacity` values per logarithmic bin, with prefix counts.
struct RankHistory: Sendable {
    /// Whether values keep their sign (value history) or are magnitudes (residual history).
    let signed: Bool
    let capacity: Int
    /// Values a generation takes before the next insert drops the older one (2/3 of the capacity; counts are
    /// 16-bit, so at most 32767).
    let generationSize: Int
    /// Bins of the whole grid (`LogBins.signedCount` or `LogBins.magnitudeCount`).
    let gridCount: Int
    /// Stored range of global bins, `lo...hi` (magnitude histories also store bin 0, as local slot 0); empty
    /// while `hi < lo`.
    private(set) var lo = 1
    private(set) var hi = 0
    /// Local slots stored (`hi − lo + 1`, plus the zero slot of magnitude histories).
    private(set) var span = 0
    /// Number of 64-slot blocks (the live counts start at this index of the storage).
    private(set) var blocks = 0
    /// `blocks` block totals, `span` live counts, `span` newest-generation counts, then (unanchored signed
    /// histories) `firstAnchor` Float offsets. Copy-on-write: written only after `isKnownUniquelyReferenced`.
    private var storage: FlatBuffer<UInt16>
    /// Affine anchor of signed histories: bins are taken over (x − center) / scale.
    private(set) var center = 0.0
    private(set) var scale = 1.0
    /// Inserts since the last anchoring (signed histories).
    private(set) var sinceAnchor = 0
    /// Whether a signed history has anchored on its own values (it keeps them until then).
    private(set) var anchored = false
    /// Points after which a signed history first anchors on its own median and spread.
    static let firstAnchor = 32
    /// Values remembered (both generations) and in the newest generation.
    private(set) var count = 0
    private(set) var newest = 0

    /// Bins per block of the first count level.
    static let blockSize = 64
    /// Bins kept beyond the occupied ones when a generation is dropped.
    static let slack = 8
    /// Bins added beyond a value that falls outside the stored range, and around a re-anchored history's values
    /// (two octaves: a history that is still filling re-lays its storage out a few times, not at every new
    /// extreme; with 8, re-layouts cost `omen bench detect` ~3 % per point).
    static let growth = 32
    /// Widest range of non-zero bins a magnitude history keeps (32 octaves).
    static let magnitudeSpan = 512
    /// Offsets below 2^-10 spreads (magnitude bin of 2^-10) count as the center once a history is anchored.
    static let centerBins = 1 + (-10 - LogBins.minExponent) * 16
    /// Below this an anchored scale is the collapse of earlier builds (1e-300 and what re-anchoring made of it),
    /// not a spread (`anchorScale` gives less only to values below ~1e-240): such a history is dropped on restore.
    static let collapsedScale = 1e-250
    /// First field of the encoding (older encodings start with the capacity, which is positive).
    static let formatTag = -2

    init(signed: Bool, capacity: Int) {
        precondition(capacity > 0 && capacity <= Int(UInt16.max), "history capacity must be in 1...65535")
        self.signed = signed
        self.capacity = capacity
        generationSize = max(1, min(2 * capacity / 3, Int(UInt16.max) / 2))
        gridCount = signed ? LogBins.signedCount : LogBins.magnitudeCount
        storage = Self.empty
    }

    /// The storage unused and empty histories share (never written: a write would copy it first).
    private static let empty = FlatBuffer<UInt16>(count: 0)

    /// An empty placeholder for stages that do not use this history (no allocation).
    init(unusedSigned signed: Bool) {
        self.signed = signed
        capacity = 0
        generationSize = 1
        gridCount = 0
        storage = Self.empty
    }

    var isUsed: Bool { capacity > 0 }

    /// Bytes of the history's allocation (for tests and capacity planning).
    var storageBytes: Int { 2 * storage.count }

    @inline(__always)
    private var elements: UnsafeMutablePointer<UInt16> { storage.elements }

    /// Whether the Float offsets of the first values are kept (signed, not yet anchored).
    private var keepsFirstValues: Bool { signed && !anchored && capacity >= Self.firstAnchor }

    // MARK: bins

    @inline(__always)
    private var mid: Int { LogBins.magnitudeCount - 1 }

    /// The lowest non-zero bin a magnitude history stores (smaller magnitudes are counted there).
    @inline(__always)
    private var floorBin: Int { hi < lo ? 1 : max(1, hi - Self.magnitudeSpan + 1) }

    /// The bin a signed offset (in units of `scale`) is counted in.
    @inline(__always)
    private func signedBin(offset o: Double) -> Int {
        let b = LogBins.signedBin(o)
        return anchored && abs(b - mid) < Self.centerBins ? mid : b
    }

    /// The bin `x` is (or would be) counted in.
    @inline(__always)
    func bin(of x: Double) -> Int {
        if signed { return signedBin(offset: (x - center) / scale) }
        let b = LogBins.magnitudeBin(abs(x))
        return b == 0 ? 0 : max(b, floorBin)
    }

    @inline(__always)
    func value(ofBin b: Int) -> Double {
        signed ? center + scale * LogBins.signedValue(b) : LogBins.magnitudeValue(b)
    }

    // Signed histories index their slots by a compact bin: once anchored, the bins of offsets below `centerBins`
    // (which the center clamp never fills) are left out, so the occupied range of a series' values is one short
    // run across the center (their `lo` and `hi` are compact bins; magnitude histories' are grid bins).

    /// Bins left out on each side of the center of an anchored signed history.
    private static let gap = centerBins - 1

    /// The compact bin of a signed grid bin (the center for the bins of the clamp).
    @inline(__always)
    private func compact(_ b: Int) -> Int {
        guard anchored else { return b }
        if b <= mid - Self.centerBins { return b }
        if b >= mid + Self.centerBins { return b - 2 * Self.gap }
        return mid - Self.gap
    }

    /// The grid bin of a compact bin.
    @inline(__always)
    private static func expand(_ c: Int, anchored: Bool) -> Int {
        let mid = LogBins.magnitudeCount - 1
        guard anchored else { return c }
        if c <= mid - centerBins { return c }
        if c == mid - gap { return mid }
        return c + 2 * gap
    }

    /// The compact bin of the highest bin a value can be counted in that is at most grid bin `b`.
    @inline(__always)
    private func compactAtOrBelow(_ b: Int) -> Int {
        guard anchored else { return b }
        if b <= mid - Self.centerBins { return b }
        if b < mid { return mid - Self.centerBins }
        if b < mid + Self.centerBins { return mid - Self.gap }
        return b - 2 * Self.gap
    }

    /// The highest compact bin of a signed history.
    private var compactMax: Int { compact(gridCount - 1) }

    /// Local slot of a stored global bin.
    @inline(__always)
    private func slot(_ b: Int) -> Int { signed ? compact(b) - lo : (b == 0 ? 0 : b - lo + 1) }

    /// Global bin of a local slot.
    @inline(__always)
    private func globalBin(_ i: Int) -> Int {
        signed ? Self.expand(lo + i, anchored: anchored) : (i == 0 ? 0 : lo + i - 1)
    }

    /// The highest local slot whose bin is at most `b` (-1: none).
    @inline(__always)
    private func slotAtOrBelow(_ b: Int) -> Int {
        if b < 0 || span == 0 { return -1 }
        if signed {
            let c = compactAtOrBelow(b)
            return c < lo ? -1 : min(c - lo, span - 1)
        }
        return b < lo ? 0 : min(b - lo + 1, span - 1)
    }

    /// The local slot of `b` if it is stored, else -1.
    @inline(__always)
    private func storedSlot(_ b: Int) -> Int {
        guard span > 0 else { return -1 }
        if signed {
            let c = compact(b)
            return c >= lo && c <= hi ? c - lo : -1
        }
        if b == 0 { return 0 }
        return b >= lo && b <= hi ? slot(b) : -1
    }

    // MARK: prefetch

    /// Starts loading the cache lines that ranking and inserting `x` will touch: the reference count and block
    /// totals, `x`'s block of live counts and its newest-generation count. Issued together, their misses overlap
    /// instead of following one another through the point's dependent code.
    @inline(__always)
    func prefetch(forValue x: Double) {
        prefetch(bin: bin(of: x))
    }

    /// As `prefetch(forValue:)` when the value is not known yet but its likely bin is (e.g. the tail's).
    @inline(__always)
    func prefetch(bin: Int) {
        guard span > 0 else { return }
        let e = elements
        omen_prefetch_write(storage.headerAddress)
        omen_prefetch_range(e, 2 * blocks)
        if bin >= 0 {
            let i = min(max(slotAtOrBelow(bin), 0), span - 1)
            let first = blocks + (i & ~(Self.blockSize - 1))
            omen_prefetch_range(e + first, 2 * min(Self.blockSize, blocks + span - first))
            omen_prefetch_write(e + blocks + span + i)
        }
    }

    // MARK: insert

    /// Remembers `x`, dropping the older generation first when the newest is full. Magnitude histories return the
    /// bin `x` went into and, as the evicted bin, `Int.max` when values left or moved (a generation was dropped,
    /// small magnitudes were merged into the lowest kept bin), else -1; signed histories, which may re-anchor,
    /// return (-1, -1).
    @discardableResult
    mutating func insert(_ x: Double) -> (inserted: Int, evicted: Int) {
        guard signed else { return insertMagnitude(bin: LogBins.magnitudeBin(abs(x))) }
        insertOffset(Float(x - center))
        sinceAnchor += 1
        if count == Self.firstAnchor && sinceAnchor == count {
            reanchor()
        } else if sinceAnchor & 255 == 0 && hasDrifted() {
            reanchor()
        }
        return (-1, -1)
    }

    /// Counts a signed value by its offset from the center (kept as is too while the history is unanchored).
    private mutating func insertOffset(_ off: Float) {
        if newest == generationSize { dropOlderGeneration() }
        if keepsFirstValues && count < Self.firstAnchor { setFirstValue(count, off) }
        add(signedBin(offset: Double(off) / scale))
    }

    /// Counts a magnitude by its grid bin.
    private mutating func insertMagnitude(bin raw: Int) -> (inserted: Int, evicted: Int) {
        var evicted = -1
        if newest == generationSize {
            dropOlderGeneration()
            evicted = .max
        }
        var b = raw
        if b > 0 {
            b = max(b, floorBin)
            if b < lo || b > hi {
                if include(b) { evicted = .max }
                b = max(b, floorBin)
            }
        }
        add(b)
        return (b, evicted)
    }

    /// Counts one value in global bin `b` (the range grows to take it).
    @inline(__always)
    private mutating func add(_ b: Int, newestToo: Bool = true) {
        if storedSlot(b) < 0 {
            if !signed && b == 0 { relayout(lo: lo, hi: hi) } else { include(b) }
        }
        let e = storage.uniqueElements()
        let i = slot(b)
        e[i >> 6] &+= 1
        e[blocks + i] &+= 1
        count += 1
        if newestToo {
            e[blocks + span + i] &+= 1
            newest += 1
        }
    }

    /// Grows the stored range to hold global bin `b`; returns whether counts were merged (a magnitude history
    /// whose range reached `magnitudeSpan` moves its smallest bins into the lowest one it keeps).
    @discardableResult
    private mutating func include(_ b: Int) -> Bool {
        let c = signed ? compact(b) : b
        if hi < lo { return relayout(lo: c - Self.growth, hi: c + Self.growth) }
        return c < lo ? relayout(lo: c - Self.growth, hi: hi) : relayout(lo: lo, hi: c + Self.growth)
    }

    /// The newest generation becomes the only one (the older one's counts are dropped at once), and the stored
    /// range shrinks to what it occupies.
    private mutating func dropOlderGeneration() {
        // A magnitude history at its widest counts smaller magnitudes in its lowest bin; while that bin still holds
        // values, it stays the lowest (new small values keep tying with the ones counted there before).
        let capped = !signed && hi >= lo && lo > 1 && lo == hi - Self.magnitudeSpan + 1
        let e = storage.uniqueElements()
        for j in 0..<blocks { e[j] = 0 }
        var first = -1, last = -1
        for i in 0..<span {
            let c = e[blocks + span + i]
            e[blocks + i] = c
            e[blocks + span + i] = 0
            e[i >> 6] &+= c
            if c != 0 && (signed || i > 0) {
                if first < 0 { first = i }
                last = i
            }
        }
        count = newest
        newest = 0
        if first < 0 {
            relayout(lo: 1, hi: 0)
        } else if signed {
            relayout(lo: lo + first - Self.slack, hi: lo + last + Self.slack)
        } else if capped && globalBin(first) == lo {
            relayout(lo: lo, hi: max(globalBin(last) + Self.slack, lo + Self.magnitudeSpan - 1))
        } else {
            relayout(lo: globalBin(first) - Self.slack, hi: globalBin(last) + Self.slack)
        }
    }

    /// Moves the counts into storage over bins `newLo...newHi` (compact bins for signed histories; clamped to the
    /// grid and, for magnitude
    /// histories, to `magnitudeSpan` bins below the top: counts below move into the lowest kept bin). An empty
    /// range (`newHi < newLo`) keeps only the zero slot of magnitude histories. Returns whether any count moved
    /// to another bin.
    @discardableResult
    private mutating func relayout(lo newLo: Int, hi newHi: Int) -> Bool {
        var l = newLo, h = newHi
        if h >= l {
            l = max(l, signed ? 0 : 1)
            h = min(h, signed ? compactMax : gridCount - 1)
            if !signed { l = max(l, h - Self.magnitudeSpan + 1) }
        }
        let empty = h < l
        let newSpan = signed ? (empty ? 0 : h - l + 1) : (empty ? 1 : h - l + 2)
        let newBlocks = (newSpan + Self.blockSize - 1) / Self.blockSize
        let firstValues = keepsFirstValues ? 2 * Self.firstAnchor : 0
        var next = FlatBuffer<UInt16>(count: newBlocks + 2 * newSpan + firstValues)
        let to = next.uniqueElements()
        let from = elements
        let oldSpan = span, oldBlocks = blocks
        var moved = false
        for i in 0..<oldSpan {
            let live = from[oldBlocks + i], gen = from[oldBlocks + oldSpan + i]
            guard live != 0 || gen != 0 else { continue }
            let b = signed ? lo + i : globalBin(i)
            let j: Int
            if !signed && b == 0 {
                j = 0
            } else {
                let kept = empty ? (signed ? b : 0) : min(max(b, l), h)
                if kept != b { moved = true }
                j = signed ? kept - l : (empty ? 0 : kept - l + 1)
            }
            to[newBlocks + j] &+= live
            to[newBlocks + newSpan + j] &+= gen
            to[j >> 6] &+= live
        }
        if firstValues > 0 && storage.count >= oldBlocks + 2 * oldSpan + firstValues {
            (to + newBlocks + 2 * newSpan).update(from: from + oldBlocks + 2 * oldSpan, count: firstValues)
        }
        storage = next
        lo = empty ? 1 : l
        hi = empty ? 0 : h
        span = newSpan
        blocks = newBlocks
        return moved
    }

    private func firstValue(_ i: Int) -> Float {
        UnsafeRawPointer(elements + blocks + 2 * span).load(fromByteOffset: 4 * i, as: Float.self)
    }

    private mutating func setFirstValue(_ i: Int, _ v: Float) {
        if storage.count < blocks + 2 * span + 2 * Self.firstAnchor { relayout(lo: lo, hi: hi) }
        let e = storage.uniqueElements()
        UnsafeMutableRawPointer(e + blocks + 2 * span).storeBytes(of: v, toByteOffset: 4 * i, as: Float.self)
    }

    // MARK: anchoring (signed histories)

    /// Whether the level or spread moved enough (a unit or a factor of two) that bins should be re-anchored;
    /// checked from three order statistics, so the re-binning runs only when it pays.
    func hasDrifted() -> Bool {
        guard count >= Self.firstAnchor else { return false }
        let q1 = value(ofBin: bin(ofRank: max(1, count / 4)))
        let q2 = value(ofBin: bin(ofRank: max(1, count / 2)))
        let q3 = value(ofBin: bin(ofRank: max(1, (3 * count) / 4)))
        let spread = Self.anchorScale(median: q2, iqr: q3 - q1) { meanAbsoluteDeviation(from: q2) }
        return abs(q2 - center) > scale || spread > 2 * scale || spread < 0.5 * scale
    }

    /// The unit a signed history's offsets are binned in: the interquartile range as a standard deviation (/1.349).
    /// Where the quartiles tie (more than half the values at one level: a count that is mostly 0, a metric quantised
    /// to a few levels), the mean absolute deviation from the median as one (×1.2533). A constant history gets a
    /// billionth of its level, and one constant at exactly 0 the unit 1, so that a later change lands well inside
    /// the grid (offsets 2^-60 ... 2^68). Without the middle step a history of mostly zeros was anchored at a scale
    /// of 1e-300: every non-zero value fell into the grid's last bin, so 1 and 1,000 tied and the tail fitted to
    /// that bin called any of them p = 1e-300.
    static func anchorScale(median: Double, iqr: Double, meanAbsoluteDeviation: () -> Double) -> Double {
        let floor = 1e-9 * abs(median)
        let quartiles = iqr / 1.349
        if quartiles > floor { return quartiles }
        let deviation = 1.2533 * meanAbsoluteDeviation()
        if deviation > floor && deviation.isFinite { return deviation }
        return floor > 0 ? floor : 1
    }

    /// Mean |value − m| over the remembered values (bins' representative values once anchored).
    func meanAbsoluteDeviation(from m: Double) -> Double {
        guard count > 0 else { return 0 }
        return binCounts.reduce(0) { $0 + Double($1.live) * abs(value(ofBin: $1.bin) - m) } / Double(count)
    }

    /// Re-centres a signed history on its median with its interquartile spread as the unit, and rebins. The first
    /// time, from the values themselves; later, from the bins' representative values (`anchorScale`).
    mutating func reanchor() {
        sinceAnchor = 0
        guard count > 0 else { return }
        if keepsFirstValues && count <= Self.firstAnchor {
            var vs = [Double](repeating: 0, count: count)
            for j in 0..<count { vs[j] = center + Double(firstValue(j)) }
            var sorted = vs
            sorted.sort()
            let median = sorted[count / 2]
            let iqr = sorted[(3 * count) / 4] - sorted[count / 4]
            center = median
            scale = Self.anchorScale(median: median, iqr: iqr) {
                vs.reduce(0) { $0 + abs($1 - median) } / Double(vs.count)
            }
            anchored = true
            // Counted afresh from the exact offsets (the storage of first values is dropped with the old layout).
            let n = count, older = count - newest
            storage = Self.empty
            lo = 1; hi = 0; span = 0; blocks = 0
            count = 0; newest = 0
            var bins = [Int](repeating: 0, count: n)
            var bl = Int.max, bh = Int.min
            for j in 0..<n {
                let b = signedBin(offset: Double(Float(vs[j] - median)) / scale)
                bins[j] = b
                bl = min(bl, b); bh = max(bh, b)
            }
            relayout(lo: compact(bl) - Self.growth, hi: compact(bh) + Self.growth)
            for j in 0..<n { add(bins[j], newestToo: j >= older) }
            return
        }
        let median = value(ofBin: bin(ofRank: min(count, count / 2 + 1)))
        let iqr = value(ofBin: bin(ofRank: min(count, (3 * count) / 4 + 1)))
            - value(ofBin: bin(ofRank: min(count, count / 4 + 1)))
        let newScale = Self.anchorScale(median: median, iqr: iqr) { meanAbsoluteDeviation(from: median) }
        rebin(center: median, scale: newScale)
    }

    /// Moves every bin's counts to the bin its representative value falls in under a new anchor. A bin's values
    /// move together: spreading them over the new bins their interval overlaps ranked closer to the values on
    /// average but split runs of equal values (quantised series: 'ties count against surprise' no longer held),
    /// and cost 15 NAB points on the tweet counts.
    private mutating func rebin(center newCenter: Double, scale newScale: Double) {
        let old = storage
        let oldLo = lo, oldSpan = span, oldBlocks = blocks
        let oldCenter = center, oldScale = scale, oldAnchored = anchored
        center = newCenter
        scale = newScale
        anchored = true
        let from = old.elements
        func newBin(_ i: Int) -> Int {
            signedBin(offset: (oldCenter + oldScale * LogBins.signedValue(Self.expand(oldLo + i, anchored: oldAnchored)) - newCenter) / newScale)
        }
        var bl = Int.max, bh = Int.min
        for i in 0..<oldSpan where from[oldBlocks + i] != 0 {
            let b = newBin(i)
            bl = min(bl, b)
            bh = max(bh, b)
        }
        storage = Self.empty
        lo = 1; hi = 0; span = 0; blocks = 0
        guard bl <= bh else { return }
        relayout(lo: compact(bl) - Self.growth, hi: compact(bh) + Self.growth)
        let to = storage.uniqueElements()
        for i in 0..<oldSpan where from[oldBlocks + i] != 0 {
            let j = slot(newBin(i))
            let live = from[oldBlocks + i]
            to[blocks + j] &+= live
            to[blocks + span + j] &+= from[oldBlocks + oldSpan + i]
            to[j >> 6] &+= live
        }
        withExtendedLifetime(old) {}
    }

    // MARK: queries

    /// Σ c[from..<to] (a short run of counts; integer sums vectorise).
    @inline(__always)
    private static func sum(_ c: UnsafeMutablePointer<UInt16>, _ from: Int, _ to: Int) -> Int {
        var s: UInt32 = 0
        for i in from..<to { s &+= UInt32(c[i]) }
        return Int(s)
    }

    /// Whether the four counts c[i..<i+4] are all zero (one 8-byte load).
    @inline(__always)
    private static func emptyQuad(_ c: UnsafeMutablePointer<UInt16>, _ i: Int) -> Bool {
        UnsafeRawPointer(c + i).loadUnaligned(as: UInt64.self) == 0
    }

    /// Values in bins 0...bin.
    @inline(__always)
    func countAtOrBelow(bin: Int) -> Int {
        let i = slotAtOrBelow(bin)
        guard i >= 0 else { return 0 }
        if i == span - 1 { return count }
        let c = elements
        // Each level is summed from whichever end is nearer: at most half the blocks and half a block.
        let block = i >> 6
        let below = 2 * block <= blocks ? Self.sum(c, 0, block) : count - Self.sum(c, block, blocks)
        let start = block << 6, end = min(start + Self.blockSize, span)
        let within = 2 * (i + 1 - start) <= end - start
            ? Self.sum(c, blocks + start, blocks + i + 1)
            : Int(c[block]) - Self.sum(c, blocks + i + 1, blocks + end)
        return below + within
    }

    /// The bin of the k-th smallest remembered value (k in 1...count).
    func bin(ofRank k: Int) -> Int {
        guard span > 0 else { return signed ? mid : 0 }
        let c = elements
        if 2 * k > count {
            // High ranks (the tails' order statistics) are found from the top, scanning fewer blocks.
            var remaining = count - k + 1
            var block = blocks - 1
            while block > 0 && Int(c[block]) < remaining {
                remaining -= Int(c[block])
                block -= 1
            }
            let first = block << 6
            var i = min(first + Self.blockSize, span) - 1
            while i > first && Int(c[blocks + i]) < remaining {
                remaining -= Int(c[blocks + i])
                i -= 1
            }
            return globalBin(i)
        }
        var remaining = k
        var block = 0
        while block < blocks - 1 && Int(c[block]) < remaining {
            remaining -= Int(c[block])
            block += 1
        }
        var i = block << 6
        let last = min(i + Self.blockSize, span) - 1
        while i < last && Int(c[blocks + i]) < remaining {
            remaining -= Int(c[blocks + i])
            i += 1
        }
        return globalBin(i)
    }

    /// Writes the bins of the `k` largest remembered values into `out[0..<k]`, largest first (a bin repeats once
    /// per value in it): one scan down from the top block, skipping empty blocks and runs of four empty bins,
    /// where k separate order statistics would each walk the whole structure. `k` must be at most `count`.
    func largestBins(_ k: Int, into out: UnsafeMutablePointer<Int>) {
        let c = elements
        var filled = 0
        var block = blocks - 1
        while filled < k && block >= 0 {
            if c[block] != 0 {
                let first = block << 6
                var i = min(first + Self.blockSize, span) - 1
                while filled < k && i >= first {
                    if i - 3 >= first && Self.emptyQuad(c, blocks + i - 3) {
                        i -= 4
                        continue
                    }
                    var n = Int(c[blocks + i])
                    let b = globalBin(i)
                    while n > 0 && filled < k { out[filled] = b; filled += 1; n -= 1 }
                    i -= 1
                }
            }
            block -= 1
        }
    }

    /// Writes the bins of the `k` smallest remembered values into `out[0..<k]`, smallest first.
    func smallestBins(_ k: Int, into out: UnsafeMutablePointer<Int>) {
        let c = elements
        var filled = 0
        var block = 0
        while filled < k && block < blocks {
            if c[block] != 0 {
                var i = block << 6
                let end = min(i + Self.blockSize, span)
                while filled < k && i < end {
                    if i + 4 <= end && Self.emptyQuad(c, blocks + i) {
                        i += 4
                        continue
                    }
                    var n = Int(c[blocks + i])
                    let b = globalBin(i)
                    while n > 0 && filled < k { out[filled] = b; filled += 1; n -= 1 }
                    i += 1
                }
            }
            block += 1
        }
    }

    /// Whether every remembered value shares `x`'s bin (the history has never varied and `x` does not either):
    /// a single count read.
    @inline(__always)
    func allShareBin(of x: Double) -> Bool {
        guard count > 0 else { return false }
        let i = storedSlot(bin(of: x))
        return i >= 0 && Int(elements[blocks + i]) == count
    }

    /// Live and newest-generation counts per stored bin (the encoding, `meanAbsoluteDeviation`, tests).
    var binCounts: [(bin: Int, live: Int, newest: Int)] {
        let e = elements
        return (0..<span).compactMap { i in
            let live = Int(e[blocks + i]), gen = Int(e[blocks + span + i])
            return live == 0 && gen == 0 ? nil : (globalBin(i), live, gen)
        }
    }

    // MARK: checkpoints

    /// A varint small enough for a count, a bin or a code (larger is a corrupt checkpoint).
    private static func readSmall(_ r: inout ByteReader) throws(ScorerRestoreError) -> Int {
        let v = try r.varint()
        guard v <= 0x10_0000 else {
            throw ScorerRestoreError("scorer checkpoint has an out-of-range history count; the series will recalibrate")
        }
        return Int(v)
    }

    /// The compact encoding: the anchor, the stored range, the first values while unanchored, then per occupied bin (ascending, the
    /// bin as a step from the previous one) the older generation's count and the newest's, all as varints.
    func encode(into w: inout ByteWriter) {
        w.int(Self.formatTag)
        w.int(capacity)
        w.int(count)
        w.int(newest)
        w.double(center)
        w.double(scale)
        w.int(sinceAnchor)
        w.bool(anchored)
        w.int(lo)
        w.int(hi)
        let firsts = keepsFirstValues ? min(count, Self.firstAnchor) : 0
        w.int(firsts)
        for j in 0..<firsts { w.float(firstValue(j)) }
        let bins = binCounts
        w.int(bins.count)
        var previous = -1
        for c in bins {
            w.varint(UInt64(c.bin - previous))
            w.varint(UInt64(c.live - c.newest))
            w.varint(UInt64(c.newest))
            previous = c.bin
        }
    }

    /// Reads `encode(into:)`, or the encoding of versions up to 5 (a ring of every value), whose values are
    /// counted again in arrival order: the same values, split into generations as if they had just arrived.
    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        let first = try r.int()
        guard first == Self.formatTag else { return try decodeRing(capacity: first, from: &r) }
        let cap = try r.int()
        guard cap == capacity else {
            throw ScorerRestoreError("scorer checkpoint has a history of \(cap) values but the configuration asks for \(capacity); the series will recalibrate")
        }
        let n = try r.int()
        let g = try r.int()
        let c = try r.double()
        let s = try r.double()
        let since = try r.int()
        let isAnchored = try r.bool()
        let storedLo = try r.int()
        let storedHi = try r.int()
        func inconsistent() -> ScorerRestoreError {
            ScorerRestoreError("scorer checkpoint has an inconsistent history; the series will recalibrate")
        }
        guard g >= 0, g <= generationSize, n >= g, n - g <= generationSize, since >= 0 else { throw inconsistent() }
        guard c.isFinite, s.isFinite, s > 0 else {
            throw ScorerRestoreError("scorer checkpoint has an invalid value anchor; the series will recalibrate")
        }
        // Builds before `anchorScale` anchored a history whose quartiles tied at 0 on a scale of 1e-300 (later
        // ~1e-280), and such a history never recovers: its non-zero values all sit in the grid's last bin. It is
        // read to its end and then dropped: the history fills again, the rest of the series' state is kept.
        let collapsed = signed && isAnchored && s < Self.collapsedScale
        storage = Self.empty
        lo = 1; hi = 0; span = 0; blocks = 0
        count = 0; newest = 0
        center = c
        scale = s
        sinceAnchor = since
        anchored = signed && isAnchored
        let firsts = try r.int()
        guard firsts == (keepsFirstValues ? min(n, Self.firstAnchor) : 0) else { throw inconsistent() }
        var firstValues: [Float] = []
        for _ in 0..<firsts { firstValues.append(try r.float()) }
        let occupied = try r.int()
        guard occupied >= 0, occupied <= gridCount else { throw inconsistent() }
        var bins: [(bin: Int, older: Int, newest: Int)] = []
        var b = -1, olderTotal = 0, newestTotal = 0
        for _ in 0..<occupied {
            let step = try Self.readSmall(&r)
            b += step
            let older = try Self.readSmall(&r), gen = try Self.readSmall(&r)
            guard step > 0, b < gridCount, older + gen > 0 else { throw inconsistent() }
            olderTotal += older
            newestTotal += gen
            bins.append((b, older, gen))
        }
        guard olderTotal == n - g, newestTotal == g else { throw inconsistent() }
        // The stored range as it was (with its slack), so the restored history clamps and grows exactly as the
        // original would have.
        if storedHi >= storedLo {
            guard storedLo >= (signed ? 0 : 1), storedHi <= (signed ? compactMax : gridCount - 1),
                  signed || storedHi - storedLo < Self.magnitudeSpan,
                  bins.allSatisfy({ b in
                      let c = signed ? compact(b.bin) : b.bin
                      return (!signed && b.bin == 0) || (c >= storedLo && c <= storedHi)
                  })
            else { throw inconsistent() }
            relayout(lo: storedLo, hi: storedHi)
        } else {
            guard bins.allSatisfy({ !signed && $0.bin == 0 }) else { throw inconsistent() }
            if !bins.isEmpty { relayout(lo: 1, hi: 0) }
        }
        for entry in bins {
            for _ in 0..<entry.older { add(entry.bin, newestToo: false) }
            for _ in 0..<entry.newest { add(entry.bin) }
        }
        for (j, v) in firstValues.enumerated() { setFirstValue(j, v) }
        if collapsed { self = RankHistory(signed: signed, capacity: capacity) }
    }

    /// Reads the ring encoding of checkpoint versions up to 5 (capacity already read).
    private mutating func decodeRing(capacity cap: Int, from r: inout ByteReader) throws(ScorerRestoreError) {
        guard cap == capacity else {
            throw ScorerRestoreError("scorer checkpoint has a history of \(cap) values but the configuration asks for \(capacity); the series will recalibrate")
        }
        let head = try r.int()
        let n = try r.int()
        guard head >= 0, head < max(capacity, 1), n >= 0, n <= capacity else {
            throw ScorerRestoreError("scorer checkpoint has an inconsistent history ring; the series will recalibrate")
        }
        let c = try r.double()
        let s = try r.double()
        let since = try r.int()
        guard c.isFinite, s.isFinite, s > 0 else {
            throw ScorerRestoreError("scorer checkpoint has an invalid value anchor; the series will recalibrate")
        }
        var offsets: [Float] = []
        var ring: [Int] = []
        if signed {
            for _ in 0..<capacity { offsets.append(try r.float()) }
        } else {
            for _ in 0..<capacity {
                let b = try r.u16()
                guard Int(b) < gridCount else {
                    throw ScorerRestoreError("scorer checkpoint has a history bin out of range; the series will recalibrate")
                }
                ring.append(Int(b))
            }
        }
        storage = Self.empty
        lo = 1; hi = 0; span = 0; blocks = 0
        count = 0; newest = 0
        center = c
        scale = s
        // The ring format anchored once `firstAnchor` values had arrived (and never with a shorter ring).
        anchored = signed && capacity >= Self.firstAnchor && n >= Self.firstAnchor
        let start = (head - n + capacity) % capacity
        for j in 0..<n {
            let i = (start + j) % capacity
            if signed { insertOffset(offsets[i]) } else { _ = insertMagnitude(bin: ring[i]) }
        }
        sinceAnchor = since
    }
}
