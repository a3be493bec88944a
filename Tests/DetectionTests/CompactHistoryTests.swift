import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import Detection

/// The compact scorer histories: counts per bin in two generations (rank histories) and sorted 16-bit codes in two
/// generations (time of day), checked against brute-force references over the values a jumping window keeps, and
/// checkpoints of the ring format (versions 1-5) restored into them.
struct CompactHistoryTests {
    /// The values a two-generation jumping window keeps: the newest generation takes `generationSize` values
    /// (2h/3 for a rank history of capacity h, h/2 for a time-of-day bin), the next insert drops the older one.
    struct JumpingWindow {
        let generationSize: Int
        var older: [Double] = []
        var newest: [Double] = []
        init(generationSize: Int) { self.generationSize = generationSize }
        mutating func insert(_ x: Double) {
            if newest.count == generationSize {
                older = newest
                newest = []
            }
            newest.append(x)
        }
        var values: [Double] { older + newest }
    }

    /// Magnitude histories count exactly what the jumping window keeps: prefix counts and order statistics equal
    /// a brute-force count of the kept values' bins (zeros, a bulk and sparse far extremes, within 32 octaves).
    @Test func magnitudeRanksMatchBruteForce() {
        var h = RankHistory(signed: false, capacity: 400)
        #expect(h.generationSize == 266)
        var window = JumpingWindow(generationSize: h.generationSize)
        var noise = Noise(seed: 21)
        for i in 0..<3_000 {
            let x = i % 11 == 0 ? 0 : (i % 97 == 0 ? abs(noise.gaussian()) * 1e3 : abs(noise.gaussian()))
            h.insert(x)
            window.insert(x)
            #expect(h.count == window.values.count)
            guard i % 37 == 0 else { continue }
            let bins = window.values.map { LogBins.magnitudeBin($0) }.sorted()
            for k in [1, 2, bins.count / 3, bins.count / 2, bins.count - 1, bins.count] where k >= 1 && k <= bins.count {
                #expect(h.bin(ofRank: k) == bins[k - 1], "rank \(k) after point \(i)")
            }
            for b in [0, bins[bins.count / 4], bins[bins.count / 2] + 1, bins[bins.count - 1], bins[bins.count - 1] - 3] {
                #expect(h.countAtOrBelow(bin: b) == bins.filter { $0 <= b }.count, "bin \(b) after point \(i)")
            }
        }
    }

    /// The older generation leaves at once when the newest is full (2h/3 values), and nothing else leaves: a
    /// history of capacity h ranks against the last 2h/3 + 1 to 4h/3 values, h on average.
    @Test func generationsDropAtOnce() {
        var h = RankHistory(signed: false, capacity: 9)
        #expect(h.generationSize == 6)
        for i in 1...6 { h.insert(Double(i)) }
        #expect(h.count == 6)
        h.insert(7) // the first generation moves to the older slot: nothing leaves
        for i in 8...12 { h.insert(Double(i)) }
        #expect(h.count == 12)
        #expect(h.countAtOrBelow(bin: h.bin(of: 6)) == 6)
        h.insert(13) // the newest generation (7...12) was full: 1...6 leave at once
        #expect(h.count == 7)
        #expect(h.countAtOrBelow(bin: h.bin(of: 6)) == 0)
        #expect(h.countAtOrBelow(bin: h.bin(of: 13)) == 7)
        for i in 14...18 { h.insert(Double(i)) }
        #expect(h.count == 12)
        h.insert(19)
        #expect(h.count == 7)
        #expect(h.countAtOrBelow(bin: h.bin(of: 12)) == 0)
    }

    /// A magnitude history spanning more than 32 octaves keeps the largest 32: smaller values are counted in its
    /// lowest kept bin (ranked as tied there), its memory stays bounded, and the top ranks stay exact.
    @Test func magnitudeRangeIsCapped() {
        var h = RankHistory(signed: false, capacity: 6_000)
        var noise = Noise(seed: 3)
        var xs: [Double] = []
        for i in 0..<5_000 {
            let x = i % 500 == 0 ? 1e6 * (1 + noise.uniform()) : 1e-9 * abs(noise.gaussian())
            h.insert(x)
            xs.append(x)
        }
        #expect(h.storageBytes <= 2 * (2 * (RankHistory.magnitudeSpan + 1) + 9))
        let top = xs.map { LogBins.magnitudeBin($0) }.sorted(by: >)
        for k in 1...10 { #expect(h.bin(ofRank: h.count - k + 1) == top[k - 1]) }
        #expect(h.bin(of: 1e-9) == h.bin(of: 1e-12)) // both below the kept range: tied in its lowest bin
        #expect(h.countAtOrBelow(bin: h.bin(of: 1e-9)) == h.count - 10)
        // After generations were dropped (at 4,001 and 8,001), the small values still tie in the same lowest bin.
        for i in 5_000..<9_000 { h.insert(i % 500 == 0 ? 1e6 : 1e-9 * abs(noise.gaussian())) }
        #expect(h.count == 5_000)
        #expect(h.countAtOrBelow(bin: h.bin(of: 1e-9)) == h.count - 10)
    }

    /// Signed histories re-anchor a drifting level by re-binning their counts (each bin's count moves whole to the
    /// bin of its representative value). Compared with a brute-force count of the kept values binned afresh under
    /// the current anchor (what re-binning a ring of the values would give), ranks in the tails, where surprise is
    /// decided, stay within 3 % of the count; in the middle (p near 1 on both sides) within 10 %. Against the count
    /// at or below the value itself the bins' own resolution adds about 1 %.
    @Test func signedRanksStayCloseToBruteForce() {
        var h = RankHistory(signed: true, capacity: 2_000)
        var window = JumpingWindow(generationSize: h.generationSize)
        var noise = Noise(seed: 31)
        var level = 100.0
        var centers = Set<Double>()
        for i in 0..<20_000 {
            level += 0.05 * noise.gaussian() + (i > 10_000 ? 0.01 : 0)
            let x = level + (i % 300 == 0 ? 40 : 1) * noise.gaussian()
            h.insert(x)
            window.insert(x)
            centers.insert(h.center)
            guard i % 500 == 499 else { continue }
            let sorted = window.values.sorted()
            #expect(h.count == sorted.count)
            let bins = sorted.map { h.bin(of: $0) }
            for q in [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
                let x = sorted[Int(q * Double(sorted.count))]
                let b = h.bin(of: x)
                let counted = h.countAtOrBelow(bin: b)
                let rebinned = bins.filter { $0 <= b }.count
                let truth = sorted.filter { $0 <= x }.count
                let percent = q < 0.2 || q > 0.8 ? 3 : 10
                #expect(abs(counted - rebinned) <= percent * sorted.count / 100 + 2, "q \(q) after point \(i): \(counted) vs \(rebinned)")
                #expect(abs(counted - truth) <= (percent + 1) * sorted.count / 100 + 2, "q \(q) after point \(i): \(counted) vs \(truth)")
            }
        }
        #expect(centers.count > 5) // it did re-anchor
    }

    /// The first anchoring is taken from the values themselves, as the ring did: a series at 50 ± 1 is centred on
    /// its exact median and spread over many bins.
    @Test func firstAnchorIsExact() {
        var h = RankHistory(signed: true, capacity: 6_000)
        var ref = LegacyRankHistory(signed: true, capacity: 6_000)
        var noise = Noise(seed: 2)
        for _ in 0..<RankHistory.firstAnchor {
            let x = 50 + noise.gaussian()
            h.insert(x)
            ref.insert(x)
        }
        #expect(h.center == ref.center && h.scale == ref.scale)
        #expect(h.binCounts.count >= 20)
        for _ in 0..<200 {
            let x = 50 + noise.gaussian()
            h.insert(x)
            ref.insert(x)
        }
        for q in [48.0, 49.5, 50.0, 50.7, 52.5] {
            #expect(h.countAtOrBelow(bin: h.bin(of: q)) == ref.countAtOrBelow(bin: ref.bin(of: q)))
        }
    }

    /// A history whose quartiles tie at exactly 0 (a counter that starts idle, a count through an outage) is
    /// anchored on the mean absolute deviation, or on the unit while it is constant, so its non-zero values keep
    /// their order. Anchored at a scale of 1e-300 (before), every non-zero value fell into the grid's last bin, and
    /// every re-anchoring after that kept the collapse (the bins' values were ~1e-280): 1, 4 and 1,000 tied for
    /// good, and the tail fitted to those bins called an ordinary value p = 1e-300 (`Twitter_volume_CVS`: score
    /// 0.95 on a 2).
    @Test func mostlyZeroHistoryKeepsItsOrder() {
        var c = Calibrator(signed: true, capacity: 6_000, tailSize: 10)
        c.tailShape = .predictive
        var noise = Noise(seed: 5)
        // Idle for a while (the first anchoring sees only zeros), then counts of about 4 ± 2.
        for _ in 0..<100 { c.insert(0) }
        for _ in 0..<3_000 { c.insert(Double(max(0, Int((4 + 2 * noise.gaussian()).rounded())))) }
        let h = c.history
        #expect(abs(h.center - 4) < 1)
        #expect(h.scale > 0.5 && h.scale < 5, "scale \(h.scale)")
        #expect(h.bin(of: 1) < h.bin(of: 4) && h.bin(of: 4) < h.bin(of: 9) && h.bin(of: 9) < h.bin(of: 1_000))
        // Values the history holds hundreds of times are not news; one far beyond everything is.
        for x in [2.0, 4, 6] { #expect(c.twoSidedSurprise(x) < 1, "\(x): \(c.twoSidedSurprise(x))") }
        #expect(c.twoSidedSurprise(1_000) > 4 && c.twoSidedSurprise(1_000) < 300)
        // A constant history at exactly 0 anchors on the unit, so a later change is ordered, not clamped.
        var z = RankHistory(signed: true, capacity: 500)
        for _ in 0..<100 { z.insert(0) }
        #expect(z.scale == 1)
        #expect(z.bin(of: 3) < z.bin(of: 300) && z.bin(of: 300) < z.bin(of: 3e6))
        // A constant history at a non-zero level keeps a billionth of its level.
        var k = RankHistory(signed: true, capacity: 500)
        for _ in 0..<100 { k.insert(42) }
        #expect(abs(k.scale - 42e-9) < 1e-15)
    }

    /// A checkpoint of a value history anchored on the collapsed scale of earlier builds (1e-300) is read to its
    /// end and the history dropped, so it fills again instead of keeping values it can never order; the rest of
    /// the checkpoint restores.
    @Test func collapsedAnchorIsDropped() throws {
        var h = RankHistory(signed: true, capacity: 500)
        for i in 0..<100 { h.insert(Double(i % 7)) }
        var w = ByteWriter()
        h.encode(into: &w)
        w.u8(42) // what follows the history in a checkpoint
        #expect(try restoredHistory(Array(w.bytes.dropLast()), signed: true, capacity: 500).scale == h.scale)
        // The scale is the sixth field (after the format tag, capacity, count, newest count and center).
        var bytes = w.bytes
        let at = 5 * 8
        #expect(Array(bytes[at..<(at + 8)]) == withUnsafeBytes(of: h.scale.bitPattern.littleEndian, Array.init))
        for (i, b) in withUnsafeBytes(of: (1e-300).bitPattern.littleEndian, Array.init).enumerated() { bytes[at + i] = b }
        var dropped = RankHistory(signed: true, capacity: 500)
        var r = ByteReader(bytes)
        try dropped.decode(from: &r)
        #expect(try r.u8() == 42 && r.isAtEnd)
        #expect(dropped.count == 0 && !dropped.anchored)
        for i in 0..<100 { dropped.insert(Double(i % 7)) }
        #expect(dropped.scale == h.scale && dropped.bin(of: 1) < dropped.bin(of: 5))
    }

    /// A compact checkpoint restores the same history: it encodes to the same bytes and goes on exactly as the
    /// original (same ranks, same re-anchorings, same dropped generations).
    @Test(arguments: [false, true])
    func compactCheckpointContinuesIdentically(signed: Bool) throws {
        var a = RankHistory(signed: signed, capacity: 500)
        var noise = Noise(seed: 12)
        func next(_ i: Int) -> Double {
            let x = (i % 50 == 0 ? 30 : 1) * noise.gaussian() + Double(i) / 100
            return signed ? x : abs(x)
        }
        for i in 0..<(signed ? 20 : 777) { a.insert(next(i)) } // a signed one still unanchored
        for round in 0..<2 {
            var w = ByteWriter()
            a.encode(into: &w)
            var b = try restoredHistory(w.bytes, signed: signed, capacity: 500)
            var w2 = ByteWriter()
            b.encode(into: &w2)
            #expect(w2.bytes == w.bytes, "round \(round)")
            for i in 0..<1_300 {
                let x = next(i)
                #expect(a.insert(x) == b.insert(x))
                #expect(a.count == b.count && a.center == b.center)
            }
            #expect(a.binCounts.map(\.live) == b.binCounts.map(\.live))
        }
    }

    /// A history decoded from `bytes`, which it must read to the end.
    func restoredHistory(_ bytes: [UInt8], signed: Bool, capacity: Int) throws -> RankHistory {
        var h = RankHistory(signed: signed, capacity: capacity)
        var r = ByteReader(bytes)
        try h.decode(from: &r)
        #expect(r.isAtEnd)
        return h
    }

    /// A ring checkpoint (versions 1-5) restores: its values are counted again in arrival order, so the restored
    /// history ranks as the ring did (exactly for magnitudes; for values, but for offsets within 2^-10 spreads of
    /// the center, which now count as the center).
    @Test(arguments: [false, true], [20, 250, 1_000])
    func ringCheckpointRestores(signed: Bool, points: Int) throws {
        var ring = LegacyRankHistory(signed: signed, capacity: 300)
        var noise = Noise(seed: UInt64(points))
        for i in 0..<points {
            let x = 7 + (i % 40 == 0 ? 20 : 1) * noise.gaussian()
            ring.insert(signed ? x : abs(x))
        }
        var w = ByteWriter()
        ring.encode(into: &w)
        let h = try restoredHistory(w.bytes, signed: signed, capacity: 300)
        #expect(h.count == ring.count)
        #expect(h.center == ring.center && h.scale == ring.scale)
        for q in stride(from: -20.0, through: 30, by: 0.7) {
            let x = signed ? q : abs(q)
            #expect(abs(h.countAtOrBelow(bin: h.bin(of: x)) - ring.countAtOrBelow(bin: ring.bin(of: x))) <= (signed ? 1 : 0))
        }
        // A ring of another length is refused, as before.
        var other = RankHistory(signed: signed, capacity: 400)
        var r2 = ByteReader(w.bytes)
        #expect(throws: ScorerRestoreError.self) { try other.decode(from: &r2) }
    }

    /// Corrupt compact encodings are refused, never trusted.
    @Test func corruptCompactCheckpointsAreRejected() {
        var h = RankHistory(signed: false, capacity: 300)
        for i in 0..<500 { h.insert(Double(i % 37)) }
        var w = ByteWriter()
        h.encode(into: &w)
        let bytes = w.bytes
        for cut in [9, 30, bytes.count - 1] {
            var b = RankHistory(signed: false, capacity: 300)
            var r = ByteReader(Array(bytes.prefix(cut)))
            #expect(throws: ScorerRestoreError.self) { try b.decode(from: &r) }
        }
        var wrongCount = bytes
        wrongCount[16] ^= 1 // the live count no longer matches the bins' counts
        var b = RankHistory(signed: false, capacity: 300)
        var r = ByteReader(wrongCount)
        #expect(throws: ScorerRestoreError.self) { try b.decode(from: &r) }
    }

    // MARK: time of day

    /// A bin's generations hold what a jumping window of capacity/2 + 1 to capacity values keeps: the newest
    /// generation each value within 0.4 % of its offset from its generation's center (a median of the bin, within a
    /// few spreads of today's), the older one thinned (its 5 lowest and highest exact, every other value between);
    /// ranks between distinct values equal a brute-force count, or exceed it by the one value thinning may move.
    @Test func timeOfDayMatchesAJumpingWindow() {
        var c = TimeOfDayContext(bins: 4, capacity: 40, tailSize: 5)
        #expect(c.olderSlots == 15)
        var windows = [JumpingWindow](repeating: JumpingWindow(generationSize: 20), count: 4)
        var noise = Noise(seed: 11)
        for i in 0..<900 {
            let t = Double(i) * 21_600 + 60 // cycles through the four 6-hour bins
            let b = c.bin(t)
            let x: Double = i > 100 && i % 13 == 0 ? (i % 2 == 0 ? 0.0 : -0.0) : 1_000 + Double(b) * 10 + (noise.gaussian() * 2).rounded(.towardZero) + noise.uniform()
            c.observe(timestamp: t)
            c.insert(x, at: t)
            windows[b].insert(Double(Float(x)))
            let kept = windows[b].values
            #expect(c.count(at: t) == kept.count)
            let stored = c.values(inBin: b)
            let median = kept.sorted()[kept.count / 2]
            func close(_ a: [Double], _ b: [Double]) -> Bool {
                a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 0.004 * (abs($1 - median) + 10) }
            }
            let older = windows[b].older.sorted(), newest = windows[b].newest.sorted()
            let storedOlder = Array(stored.prefix(older.count)), storedNewest = Array(stored.suffix(newest.count))
            let ok = close(storedNewest, newest) && close(Array(storedOlder.prefix(5)), Array(older.prefix(5)))
                && close(Array(storedOlder.suffix(5)), Array(older.suffix(5)))
                // Thinned: each kept value stands for itself and the next, so it is at most the value it replaces.
                && zip(storedOlder, older).allSatisfy { $0 <= $1 + 0.004 * (abs($1 - median) + 10) }
            #expect(ok, "after point \(i)")
            if !ok { return }
            guard i % 7 == 0 else { continue }
            let sorted = kept.sorted()
            for j in 1..<sorted.count where sorted[j] - sorted[j - 1] > 0.02 * (abs(sorted[j] - median) + 1) {
                let probe = (sorted[j] + sorted[j - 1]) / 2
                let n = Double(sorted.count)
                func surprise(below: Int) -> Double {
                    let b = Double(below)
                    return -log10(min(1, 2 * min((n - b + 1) / (n + 1), (b + 1) / (n + 1))))
                }
                let s = c.surprise(probe, at: t)
                #expect(abs(s - surprise(below: j)) < 1e-9 || abs(s - surprise(below: j + 1)) < 1e-9,
                        "probe \(probe) after point \(i)")
            }
        }
    }

    /// A bin keeps its first 16 values as they are (ranked exactly) and then codes them against their median: an
    /// outlier first value (a counter's first reading, a spike) costs the others no precision, and repeats of a
    /// value keep tying (coding them against the outlier and re-coding them later did not: they scored as new
    /// minima).
    @Test func timeOfDayFirstValuesAreCodedAgainstTheirMedian() {
        var c = TimeOfDayContext(bins: 1, capacity: 250, tailSize: 10)
        c.insert(6_000_000, at: 0)
        for i in 1..<15 { c.insert(i % 3 == 0 ? 50 : 42, at: 0) }
        #expect(c.values(inBin: 0) == [Double](repeating: 42, count: 10) + [50, 50, 50, 50, 6_000_000])
        // 10 of 15 values are below 46, 5 above: p = 2 * 6/16.
        #expect(abs(c.surprise(46, at: 0) + log10(0.75)) < 1e-12)
        for _ in 15..<40 { c.insert(42, at: 0) }
        let values = c.values(inBin: 0)
        #expect(values.count == 40)
        #expect(values.filter { $0 == 42 }.count == 35 && values.filter { $0 == 50 }.count == 4)
        #expect(abs(values.last! - 6_000_000) <= 0.004 * 6_000_000)
        #expect(c.surprise(42, at: 0) < 0.01) // ties with the 35 past 42s
        // Below every past value: the 10 smallest tie at 42, so the gap up to 50 is the tail's scale (a discrete
        // tail, `timeOfDayDiscreteTailHasAScale`): 20 lies 2.75 scales beyond, p = 2 · 10/41 · e^-2.75.
        #expect(abs(c.surprise(20, at: 0) + log10(2 * 10 / 41 * exp(-22.0 / 8))) < 0.05)
    }

    /// Beyond the largest value the tail is fitted to the decoded extremes of both generations.
    @Test func timeOfDayTailUsesBothGenerations() {
        var c = TimeOfDayContext(bins: 1, capacity: 20, tailSize: 4)
        for i in 0..<15 { c.insert(Double(i), at: 0) } // older: 0...9, newest: 10...14
        #expect(c.count(at: 0) == 15)
        // The 4 largest are 11...14: threshold 11, mean excess 2; 17 is 3 mean excesses beyond, p = 4/16 e^-3.
        let p = 4.0 / 16 * exp(-3)
        #expect(abs(c.surprise(17, at: 0) + log10(2 * p)) < 1e-9)
        let q = 4.0 / 16 * exp(-2) // the 4 smallest are 0...3: threshold 3, mean excess 2
        #expect(abs(c.surprise(-1, at: 0) + log10(2 * q)) < 1e-9)
    }

    /// Where a bin's most extreme values tie (a discrete series: 56, the reading most hours show, among 50s), the
    /// gap to the next remembered value is the tail's scale, as in `Calibrator`: 500 is far out and 57 one step
    /// beyond, where both once got the rank bound 1/(n+1). In the raw phase (12 values, exact) and coded (200
    /// values in two generations, whose two codings of 56 must still tie); and where most of the tail ties, its
    /// scale is at least the values' step.
    @Test func timeOfDayDiscreteTailHasAScale() {
        for count in [12, 200] {
            var c = TimeOfDayContext(bins: 1, capacity: 250, tailSize: 4)
            for i in 0..<count { c.insert(i % 3 == 0 ? 50 : 56, at: 0) }
            let n = Double(c.count(at: 0))
            #expect(Int(n) == count)
            func expected(_ x: Double) -> Double { -log10(2 * 4 / (n + 1) * exp(-(x - 56) / 6)) }
            let far = c.surprise(500, at: 0), near = c.surprise(57, at: 0)
            #expect(abs(far - expected(500)) < 0.5, "500 after 50s and 56s, \(count) values: \(far)")
            #expect(abs(near - expected(57)) < 0.01, "57: \(near)")
            #expect(near < -log10(2 / (n + 1)), "one step beyond the tie is less than the rank bound")
            // The lower tail: the 4 smallest (50) tie, the next value up is 56.
            #expect(abs(c.surprise(44, at: 0) + log10(2 * 4 / (n + 1) * exp(-1))) < 0.05)
        }
        // Mostly tied: the 4 largest are 57, 56, 56, 56 (mean excess 1/3), but the values' step is 1, so 59 lies 3
        // steps beyond 56: p = 4/(n+1) e^-3, where the mean excess made it e^-9.
        for count in [12, 200] {
            var c = TimeOfDayContext(bins: 1, capacity: 250, tailSize: 4)
            for i in 0..<count { c.insert(i == 5 ? 57 : i % 3 == 0 ? 50 : 56, at: 0) }
            let n = Double(count)
            #expect(abs(c.surprise(59, at: 0) + log10(2 * 4 / (n + 1) * exp(-3))) < 0.02, "\(count) values")
            // A tail of distinct values is not touched: each excess is at least the smallest gap.
            var d = TimeOfDayContext(bins: 1, capacity: 250, tailSize: 4)
            for i in 0..<count { d.insert(Double((i * 37) % count) * 0.25, at: 0) }
            let top = (0..<count).map { Double(($0 * 37) % count) * 0.25 }.sorted().suffix(4)
            let me = (top.reduce(0, +) - 4 * top.first!) / 3
            #expect(abs(d.surprise(60, at: 0) + log10(2 * 4 / (n + 1) * exp(-(60 - top.first!) / me))) < 0.05,
                    "\(count) distinct values")
        }
        // A bin of one value keeps the rank bound (no scale to borrow).
        var flat = TimeOfDayContext(bins: 1, capacity: 250, tailSize: 4)
        for _ in 0..<12 { flat.insert(7, at: 0) }
        #expect(abs(flat.surprise(500, at: 0) + log10(2.0 / 13)) < 1e-9)
    }

    /// A ring checkpoint of the time-of-day bins (versions 3-5) restores: each bin's values are inserted again in
    /// arrival order.
    @Test func timeOfDayRingCheckpointRestores() throws {
        var ref = ScoringStorageTests.ReferenceContext(bins: 4, capacity: 8)
        var arrivals = [[Double]](repeating: [], count: 4)
        var noise = Noise(seed: 5)
        for i in 0..<70 {
            let b = i % 4
            let x = Double(Float(20 + noise.gaussian()))
            ref.insert(x, bin: b)
            arrivals[b].append(x)
        }
        let blob = ref.encode(spacing: 300, last: 1e9)
        var c = TimeOfDayContext(bins: 4, capacity: 8, tailSize: 3)
        var r = ByteReader(blob)
        try c.decode(from: &r)
        #expect(r.isAtEnd)
        #expect(c.spacing == 300 && c.lastTimestamp == 1e9)
        for b in 0..<4 {
            let last = Array(arrivals[b].suffix(8))
            #expect(c.counts[b] == 8)
            let stored = c.values(inBin: b)
            #expect(zip(stored.prefix(4), last.prefix(4).sorted()).allSatisfy { abs($0 - $1) <= 0.004 * abs($1 - 20) + 0.05 })
            #expect(zip(stored.suffix(4), last.suffix(4).sorted()).allSatisfy { abs($0 - $1) <= 0.004 * abs($1 - 20) + 0.05 })
        }
        var other = TimeOfDayContext(bins: 4, capacity: 10, tailSize: 3)
        var r2 = ByteReader(blob)
        #expect(throws: ScorerRestoreError.self) { try other.decode(from: &r2) }
    }

    /// Codes order as the values do (both signs, zero, tiny and huge offsets) and decode to within 0.4 %.
    @Test func timeOfDayCodesAreMonotone() {
        let c: Float = 3.5
        let xs: [Double] = [-1e30, -1e6, -3, -2.5, 3.4999, 3.5, 3.5001, 4, 1e6, 1e30]
        let codes = xs.map { TimeOfDayContext.code($0, center: c) }
        #expect(codes == codes.sorted())
        #expect(Set(codes).count == codes.count)
        for x in xs { #expect(abs(TimeOfDayContext.value(TimeOfDayContext.code(x, center: c), center: c) - x) <= 0.004 * abs(x - 3.5)) }
        #expect(TimeOfDayContext.code(3.5, center: c) == TimeOfDayContext.code(-0.0 + 3.5, center: c))
    }

    // MARK: scorer checkpoints

    /// Mutated and truncated scorer checkpoints never crash the decoders: each is refused or restores into a
    /// scorer that scores and whose own checkpoint reads back.
    @Test func mutatedScorerCheckpointsAreRefusedOrSound() throws {
        var config = perPointConfig()
        config.history = 300
        config.contextHistory = 80 // time-of-day bins with a raw phase
        var a = Scorer(config: config)
        var noise = Noise(seed: 41)
        for t in 0..<1_500 {
            let v = (t % 97 == 0 ? 30 : 1) * noise.gaussian() + Double(t % 288) / 20
            _ = a.score(ScoreInput(timestamp: Double(t) * 300, value: v, predicted: t < 200 ? nil : v + noise.gaussian(),
                                   predictedSpread: 1))
        }
        let blob = a.checkpoint()
        var restored = 0
        for round in 0..<3_000 {
            var bytes = blob
            let flips = 1 + Int(noise.next() % 4)
            for _ in 0..<flips {
                let i = Int(noise.next() % UInt64(bytes.count))
                bytes[i] = round % 3 == 0 ? UInt8(truncatingIfNeeded: noise.next()) : bytes[i] ^ UInt8(1 << (noise.next() % 8))
            }
            if round % 10 == 0 { bytes = Array(bytes.prefix(Int(noise.next() % UInt64(bytes.count)))) }
            guard var b = try? Scorer(config: config, checkpoint: bytes) else { continue }
            restored += 1
            for t in 0..<20 {
                _ = b.score(ScoreInput(timestamp: Double(1_500 + t) * 300, value: noise.gaussian(), predicted: 0, predictedSpread: 1))
            }
            #expect((try? Scorer(config: config, checkpoint: b.checkpoint())) != nil, "round \(round)")
        }
        #expect(restored > 0)
    }

    /// A version-5 scorer checkpoint (ring histories) restores into the compact histories: the value history,
    /// spliced in as the ring wrote it, counts the same values, and the scorer goes on scoring.
    @Test func versionFiveScorerCheckpointRestores() throws {
        var config = perPointConfig()
        config.history = 300
        config.contextWeight = 0
        config.changeWeight = 0
        var a = Scorer(config: config)
        var ring = LegacyRankHistory(signed: true, capacity: 300)
        var noise = Noise(seed: 9)
        for t in 0..<250 {
            let v = 10 + noise.gaussian()
            _ = a.score(ScoreInput(timestamp: Double(t) * 60, value: v, predicted: t < 100 ? nil : 10, predictedSpread: 1))
            ring.insert(v)
        }
        let blob = a.checkpoint()
        var compact = ByteWriter()
        a.values.history.encode(into: &compact)
        var legacy = ByteWriter()
        ring.encode(into: &legacy)
        // version, stage tag, points, band, then the value history.
        let at = 1 + 1 + 8 + 8
        #expect(Array(blob[at..<(at + compact.bytes.count)]) == compact.bytes)
        // Version 5 ends before version 7's last byte (whether the last point lay beyond the remembered values) and
        // version 8's 24 (the frozen run's last surprise and chain), and version 10's onsets.
        var old = Array(blob[..<at]) + legacy.bytes
            + Array(blob[(at + compact.bytes.count)...].dropLast(25 + onsetTrailer(a)))
        old[0] = 5
        var b = try Scorer(config: config, checkpoint: old)
        #expect(b.values.count == 250 && b.values.history.center == ring.center)
        #expect(b.values.history.binCounts.map(\.live) == a.values.history.binCounts.map(\.live))
        for t in 250..<400 {
            let input = ScoreInput(timestamp: Double(t) * 60, value: 10 + noise.gaussian(), predicted: 10, predictedSpread: 1)
            #expect(a.score(input) == b.score(input))
        }
    }
}
