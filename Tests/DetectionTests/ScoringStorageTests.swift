import Testing
@testable import Detection

/// The scorer histories' storage (one copy-on-write allocation each, the skipped refits) must behave exactly like
/// plain arrays.
struct ScoringStorageTests {
    /// The time-of-day layout of scorer checkpoints versions 3-5 (a ring and a sorted run of Float per bin):
    /// writes the old format for `CompactHistoryTests.timeOfDayRingCheckpointRestores`.
    struct ReferenceContext {
        let bins: Int, capacity: Int
        var ring: [Float], sorted: [Float], counts: [Int32], heads: [Int32]

        init(bins: Int, capacity: Int) {
            self.bins = bins
            self.capacity = capacity
            ring = [Float](repeating: 0, count: bins * capacity)
            sorted = ring
            counts = [Int32](repeating: 0, count: bins)
            heads = counts
        }

        mutating func insert(_ x: Double, bin b: Int) {
            let base = b * capacity
            let v = Float(x)
            guard v.isFinite else { return }
            var n = Int(counts[b])
            let head = Int(heads[b])
            if n == capacity {
                let old = ring[base + head]
                var i = 0
                while i < n && sorted[base + i] < old { i += 1 }
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

        func encode(spacing: Double, last: Double) -> [UInt8] {
            var w = ByteWriter()
            w.int(bins)
            w.int(capacity)
            w.double(spacing)
            w.double(last)
            for c in counts { w.int(Int(c)) }
            for h in heads { w.int(Int(h)) }
            for v in ring { w.float(v) }
            for v in sorted { w.float(v) }
            return w.bytes
        }
    }

    /// A copied history or context is independent: inserting into the copy leaves the original as it was.
    @Test func copiesDoNotShareStorage() {
        var h = RankHistory(signed: false, capacity: 50)
        for i in 0..<80 { h.insert(Double(i % 17) + 0.5) }
        var w0 = ByteWriter()
        h.encode(into: &w0)
        let below = h.countAtOrBelow(bin: h.bin(of: 8))
        var copy = h
        for _ in 0..<30 { copy.insert(1e6) }
        var w1 = ByteWriter()
        h.encode(into: &w1)
        #expect(w1.bytes == w0.bytes)
        #expect(h.countAtOrBelow(bin: h.bin(of: 8)) == below)
        #expect(copy.countAtOrBelow(bin: copy.bin(of: 8)) < below)

        var c = TimeOfDayContext(bins: 24, capacity: 10, tailSize: 3)
        c.insert(5, at: 3_600)
        var d = c
        d.insert(6, at: 3_600)
        #expect(c.count(at: 3_600) == 1)
        #expect(d.count(at: 3_600) == 2)
    }

    /// The k largest and smallest bins (read skipping empty runs) match a sorted copy of the remembered values.
    @Test func extremeBinsMatchSortedHistory() {
        var h = RankHistory(signed: false, capacity: 400)
        var noise = Noise(seed: 5)
        var all: [Double] = []
        for i in 0..<1_500 {
            // Sparse extremes far above the bulk, so the top scan crosses empty blocks and runs of empty bins.
            let x = i % 97 == 0 ? abs(noise.gaussian()) * 1e4 : abs(noise.gaussian())
            h.insert(x)
            all.append(x)
        }
        #expect(h.count == 436) // the jumping window (generations of 266) keeps 1,065...1,500
        let kept = all.suffix(h.count).map { h.bin(of: $0) }.sorted()
        let k = 25
        let out = UnsafeMutablePointer<Int>.allocate(capacity: k)
        defer { out.deallocate() }
        h.largestBins(k, into: out)
        #expect(Array(UnsafeBufferPointer(start: out, count: k)) == Array(kept.suffix(k).reversed()))
        h.smallestBins(k, into: out)
        #expect(Array(UnsafeBufferPointer(start: out, count: k)) == Array(kept.prefix(k)))
    }

    /// A calibrator that skips refits while no value reaches or leaves its tail has, after every insert, the
    /// same tail fit as a full refit.
    @Test func skippedRefitsEqualAFullRefit() {
        var c = Calibrator(signed: false, capacity: 300, tailSize: 10, refreshEvery: 1)
        var noise = Noise(seed: 8)
        for i in 0..<2_000 {
            let x = i % 50 == 0 ? abs(noise.gaussian()) * 20 : abs(noise.gaussian())
            c.insert(x)
            var full = c
            full.refreshTails()
            #expect(c.upper.bin == full.upper.bin && c.upper.threshold == full.upper.threshold
                && c.upper.meanExcess == full.upper.meanExcess, "after point \(i)")
            if c.upper.bin != full.upper.bin || c.upper.meanExcess != full.upper.meanExcess { return }
        }
    }
}
