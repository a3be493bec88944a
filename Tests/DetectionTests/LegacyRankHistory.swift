// The ring-based rank history that scorer checkpoints up to version 5 stored, verbatim but for its name: the
// reference for the compact RankHistory's ranks and the writer of old checkpoints for the restore tests.

@testable import Detection

/// The rank history of scorer checkpoint versions 1-5 (a ring of every value plus counts over the whole grid),
/// kept as the reference the compact history is checked against and to write old-format checkpoints.
struct LegacyRankHistory: Sendable {
    /// Whether values keep their sign (value history) or are magnitudes (residual history).
    let signed: Bool
    let capacity: Int
    let binCount: Int
    /// Number of 64-bin blocks (the per-bin counts start at this index of the storage).
    let blocks: Int
    /// Index (in UInt16 elements) where the ring starts: bin indices (magnitudes) or Float offsets (values).
    private let ringStart: Int
    /// `blocks` per-block totals, `binCount` per-bin counts, then the ring, in one allocation. Copy-on-write: it is
    /// only written after `isKnownUniquelyReferenced`, so a copied history never shares a mutation.
    private var storage: FlatBuffer<UInt16>
    /// Affine anchor of signed histories: bins are taken over (x − center) / scale.
    private(set) var center = 0.0
    private(set) var scale = 1.0
    /// Inserts since the last anchoring (signed histories).
    private(set) var sinceAnchor = 0
    /// Points after which a signed history first anchors on its own median and spread.
    static let firstAnchor = 32
    private(set) var head = 0
    private(set) var count = 0

    init(signed: Bool, capacity: Int) {
        precondition(capacity > 0 && capacity <= Int(UInt16.max), "history capacity must be in 1...65535")
        self.signed = signed
        self.capacity = capacity
        binCount = signed ? LogBins.signedCount : LogBins.magnitudeCount
        blocks = (binCount + Self.blockSize - 1) / Self.blockSize
        // Float offsets are read at 4-byte alignment.
        ringStart = (blocks + binCount + 1) & ~1
        storage = FlatBuffer(count: ringStart + (signed ? 2 : 1) * capacity)
    }

    /// Bins per block of the first count level.
    static let blockSize = 64

    /// The storage unused histories share (never written: a write would copy it first).
    private static let empty = FlatBuffer<UInt16>(count: 0)

    /// An empty placeholder for stages that do not use this history (no allocation).
    init(unusedSigned signed: Bool) {
        self.signed = signed
        capacity = 0
        binCount = 0
        blocks = 0
        ringStart = 0
        storage = Self.empty
    }

    var isUsed: Bool { capacity > 0 }

    @inline(__always)
    private var elements: UnsafeMutablePointer<UInt16> { storage.elements }

    @inline(__always)
    private mutating func uniqueElements() -> UnsafeMutablePointer<UInt16> { storage.uniqueElements() }

    @inline(__always)
    private func offset(_ e: UnsafeMutablePointer<UInt16>, _ i: Int) -> Float {
        UnsafeRawPointer(e + ringStart).load(fromByteOffset: 4 * i, as: Float.self)
    }

    @inline(__always)
    private func setOffset(_ e: UnsafeMutablePointer<UInt16>, _ i: Int, _ v: Float) {
        UnsafeMutableRawPointer(e + ringStart).storeBytes(of: v, toByteOffset: 4 * i, as: Float.self)
    }

    @inline(__always)
    func bin(of x: Double) -> Int {
        signed ? LogBins.signedBin((x - center) / scale) : LogBins.magnitudeBin(abs(x))
    }

    @inline(__always)
    func value(ofBin b: Int) -> Double {
        signed ? center + scale * LogBins.signedValue(b) : LogBins.magnitudeValue(b)
    }

    @inline(__always)
    private func offsetBin(_ offset: Float) -> Int { LogBins.signedBin(Double(offset) / scale) }

    /// Remembers `x`, forgetting the oldest value when full. Returns the bin `x` went into and the bin of the
    /// value forgotten (-1 if none) for magnitude histories; signed histories, which may re-anchor, return (-1, -1).
    @discardableResult
    mutating func insert(_ x: Double) -> (inserted: Int, evicted: Int) {
        let e = uniqueElements()
        var result = (inserted: -1, evicted: -1)
        if signed {
            if count == capacity { add(e, offsetBin(offset(e, head)), -1) } else { count += 1 }
            let off = Float(x - center)
            setOffset(e, head, off)
            add(e, offsetBin(off), 1)
        } else {
            let b = bin(of: x)
            if count == capacity {
                let old = Int(e[ringStart + head])
                add(e, old, -1)
                result.evicted = old
            } else {
                count += 1
            }
            e[ringStart + head] = UInt16(truncatingIfNeeded: b)
            add(e, b, 1)
            result.inserted = b
        }
        head += 1
        if head == capacity { head = 0 }
        if signed {
            sinceAnchor += 1
            if count == Self.firstAnchor && sinceAnchor == count {
                reanchor()
            } else if sinceAnchor & 255 == 0 && hasDrifted() {
                reanchor()
            }
        }
        return result
    }

    /// Whether the level or spread moved enough (a unit or a factor of two) that bins should be re-anchored;
    /// checked from three order statistics, so the full re-sort runs only when it pays.
    func hasDrifted() -> Bool {
        guard count >= Self.firstAnchor else { return false }
        let q1 = value(ofBin: bin(ofRank: max(1, count / 4)))
        let q2 = value(ofBin: bin(ofRank: max(1, count / 2)))
        let q3 = value(ofBin: bin(ofRank: max(1, (3 * count) / 4)))
        let spread = (q3 - q1) / 1.349
        return abs(q2 - center) > scale || spread > 2 * scale || spread < 0.5 * scale
    }

    /// Re-centres a signed history on its median with its interquartile spread as the unit, and rebins.
    /// A constant history gets a spread of a billionth of its level (never zero), so a change is still ordered.
    mutating func reanchor() {
        sinceAnchor = 0
        guard count > 0 else { return }
        let e = uniqueElements()
        let start = (head - count + capacity) % capacity
        var vs = [Double](repeating: 0, count: count)
        for j in 0..<count { vs[j] = center + Double(offset(e, (start + j) % capacity)) }
        var sorted = vs
        sorted.sort()
        let median = sorted[count / 2]
        let iqr = sorted[(3 * count) / 4] - sorted[count / 4]
        let newScale = max(iqr / 1.349, 1e-9 * max(abs(median), 1e-300), 1e-300)
        center = median
        scale = newScale
        for j in 0..<count { setOffset(e, (start + j) % capacity, Float(vs[j] - median)) }
        rebuildTree()
    }

    @inline(__always)
    private func add(_ c: UnsafeMutablePointer<UInt16>, _ bin: Int, _ delta: Int) {
        if delta > 0 {
            c[bin >> 6] &+= 1
            c[blocks + bin] &+= 1
        } else {
            c[bin >> 6] &-= 1
            c[blocks + bin] &-= 1
        }
    }

    /// Σ c[from..<to] (a short run of counts; integer sums vectorise).
    @inline(__always)
    private static func sum(_ c: UnsafeMutablePointer<UInt16>, _ from: Int, _ to: Int) -> Int {
        var s: UInt32 = 0
        for i in from..<to { s &+= UInt32(c[i]) }
        return Int(s)
    }

    /// Whether the four bin counts c[i..<i+4] are all zero (one 8-byte load).
    @inline(__always)
    private static func emptyQuad(_ c: UnsafeMutablePointer<UInt16>, _ i: Int) -> Bool {
        UnsafeRawPointer(c + i).loadUnaligned(as: UInt64.self) == 0
    }

    /// Values in bins 0...bin.
    @inline(__always)
    func countAtOrBelow(bin: Int) -> Int {
        guard bin >= 0 else { return 0 }
        let b = min(bin, binCount - 1)
        let c = elements
        // Each level is summed from whichever end is nearer: at most half the blocks and half a block.
        let block = b >> 6
        let below = 2 * block <= blocks ? Self.sum(c, 0, block) : count - Self.sum(c, block, blocks)
        let start = block << 6, end = min(start + Self.blockSize, binCount)
        let within = 2 * (b + 1 - start) <= end - start
            ? Self.sum(c, blocks + start, blocks + b + 1)
            : Int(c[block]) - Self.sum(c, blocks + b + 1, blocks + end)
        return below + within
    }

    /// The bin of the k-th smallest remembered value (k in 1...count).
    func bin(ofRank k: Int) -> Int {
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
            var bin = min(first + Self.blockSize, binCount) - 1
            while bin > first && Int(c[blocks + bin]) < remaining {
                remaining -= Int(c[blocks + bin])
                bin -= 1
            }
            return bin
        }
        var remaining = k
        var block = 0
        while block < blocks - 1 && Int(c[block]) < remaining {
            remaining -= Int(c[block])
            block += 1
        }
        var bin = block << 6
        let last = min(bin + Self.blockSize, binCount) - 1
        while bin < last && Int(c[blocks + bin]) < remaining {
            remaining -= Int(c[blocks + bin])
            bin += 1
        }
        return bin // 0-based bin index of the k-th value
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
                var bin = min(first + Self.blockSize, binCount) - 1
                while filled < k && bin >= first {
                    if bin - 3 >= first && Self.emptyQuad(c, blocks + bin - 3) {
                        bin -= 4
                        continue
                    }
                    var n = Int(c[blocks + bin])
                    while n > 0 && filled < k { out[filled] = bin; filled += 1; n -= 1 }
                    bin -= 1
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
                var bin = block << 6
                let end = min(bin + Self.blockSize, binCount)
                while filled < k && bin < end {
                    if bin + 4 <= end && Self.emptyQuad(c, blocks + bin) {
                        bin += 4
                        continue
                    }
                    var n = Int(c[blocks + bin])
                    while n > 0 && filled < k { out[filled] = bin; filled += 1; n -= 1 }
                    bin += 1
                }
            }
            block += 1
        }
    }

    /// Whether every remembered value shares `x`'s bin (the history has never varied and `x` does not either):
    /// a single count read.
    @inline(__always)
    func allShareBin(of x: Double) -> Bool {
        count > 0 && Int(elements[blocks + bin(of: x)]) == count
    }

    /// Rebuilds the counts from the ring (after a checkpoint restore or a re-anchoring).
    mutating func rebuildTree() {
        let e = uniqueElements()
        e.update(repeating: 0, count: blocks + binCount)
        let start = (head - count + capacity) % max(capacity, 1)
        for j in 0..<count {
            let i = (start + j) % capacity
            add(e, signed ? offsetBin(offset(e, i)) : Int(e[ringStart + i]), 1)
        }
    }

    func encode(into w: inout ByteWriter) {
        w.int(capacity)
        w.int(head)
        w.int(count)
        w.double(center)
        w.double(scale)
        w.int(sinceAnchor)
        let e = elements
        if signed {
            for i in 0..<capacity { w.float(offset(e, i)) }
        } else {
            for i in 0..<capacity { w.u16(e[ringStart + i]) }
        }
    }

    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        let cap = try r.int()
        guard cap == capacity else {
            throw ScorerRestoreError("scorer checkpoint has a history of \(cap) values but the configuration asks for \(capacity); the series will recalibrate")
        }
        head = try r.int()
        count = try r.int()
        guard head >= 0, head < max(capacity, 1), count >= 0, count <= capacity else {
            throw ScorerRestoreError("scorer checkpoint has an inconsistent history ring; the series will recalibrate")
        }
        center = try r.double()
        scale = try r.double()
        sinceAnchor = try r.int()
        guard center.isFinite, scale.isFinite, scale > 0 else {
            throw ScorerRestoreError("scorer checkpoint has an invalid value anchor; the series will recalibrate")
        }
        let e = uniqueElements()
        if signed {
            for i in 0..<capacity { setOffset(e, i, try r.float()) }
        } else {
            for i in 0..<capacity {
                let b = try r.u16()
                guard Int(b) < binCount else {
                    throw ScorerRestoreError("scorer checkpoint has a history bin out of range; the series will recalibrate")
                }
                e[ringStart + i] = b
            }
        }
        rebuildTree()
    }
}
