// A sustained shift inside the range: each point's value ranked against the series' history (its PIT u, uniform
// when nothing changes), the mean of u − 1/2 over the last hour of points, and that mean ranked two-sided against
// the series' own earlier means. One point of a level shift, a halving or a regime of higher values is only
// moderately surprising on its own; an hour of them all ranking high (or low) is not, however autocorrelated the
// series normally is, because the mean is calibrated against the series' own means.

import COmenSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sustained-shift evidence of one series (`ScoringConfig.shiftWeight`).
struct ShiftTracker: Sendable {
    /// Most points the mean covers (an hour of points, at most this many: a series faster than one every 15 s
    /// averages its last 240).
    static let maxWindow = 240
    /// Earlier means a mean is ranked against before it counts.
    static let minMeans = 200
    /// The last points' u − 1/2, as codes of 1/254 (a ring of `maxWindow`).
    private var codes: [Int8]
    private var head = 0
    /// Consecutive points with a u in the ring (a point without one, before the value history has `minHistory`
    /// values, starts the run again).
    private(set) var filled = 0
    /// The sum of the last `length` codes (kept as they come and go; recomputed when the window's length changes).
    private var sum = 0
    private var length = 0
    /// The series' earlier means.
    var means: RankHistory
    /// The last mean ranked (where the next one will most likely land: `prefetch`).
    private var lastMean = 0.0

    init(capacity: Int) {
        codes = [Int8](repeating: 0, count: Self.maxWindow)
        means = RankHistory(signed: true, capacity: capacity)
    }

    init(unused: ()) {
        codes = []
        means = RankHistory(unusedSigned: true)
    }

    var isUsed: Bool { means.isUsed }

    /// Starts loading what the next `observe` touches: the ring's slot and the means' bins near the last mean (a
    /// hint, no effect on results; with thousands of series both are cold).
    @inline(__always)
    func prefetch() {
        guard isUsed else { return }
        codes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { omen_prefetch_range(base, Self.maxWindow) }
        }
        means.prefetch(forValue: lastMean)
    }

    /// Takes the point's u (nil: no value history yet) and returns the surprise (−log10 p) of the mean of the last
    /// `window` points' u − 1/2 among the earlier means: 0 until the window is full and `minMeans` means exist.
    mutating func observe(pit u: Double?, window: Int) -> Double {
        guard let u else {
            filled = 0
            sum = 0
            length = 0
            return 0
        }
        let code = Int8(clamping: Int(((u - 0.5) * 254).rounded()))
        let w = min(max(window, 2), Self.maxWindow)
        if w == length {
            // The code leaving the window (read before this one may overwrite it: at w = maxWindow it is the same slot).
            if filled >= w { sum -= Int(codes[head >= w ? head - w : head - w + Self.maxWindow]) }
            sum += Int(code)
        }
        codes[head] = code
        head = head + 1 == Self.maxWindow ? 0 : head + 1
        filled = min(filled + 1, Self.maxWindow)
        if w != length {
            length = w
            sum = 0
            var i = head
            for _ in 0..<min(filled, w) {
                i = i == 0 ? Self.maxWindow - 1 : i - 1
                sum += Int(codes[i])
            }
        }
        guard filled >= w else { return 0 }
        let mean = Double(sum) / (254 * Double(w))
        let n = means.count
        var s = 0.0
        if n >= Self.minMeans {
            let b = means.bin(of: mean)
            let below = means.countAtOrBelow(bin: b - 1), atOrBelow = means.countAtOrBelow(bin: b)
            let atMost = Double(atOrBelow) / Double(n), atLeast = Double(n - below) / Double(n)
            let p = max(2 * min(atMost, atLeast), 1 / Double(n + 1))
            s = -log10(min(p, 1))
        }
        _ = means.insert(mean)
        lastMean = mean
        return s
    }

    func encode(into w: inout ByteWriter) {
        w.int(head)
        w.int(filled)
        for c in codes { w.u8(UInt8(bitPattern: c)) }
        means.encode(into: &w)
    }

    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        let h = try r.int(), f = try r.int()
        guard (0..<Self.maxWindow).contains(h), (0...Self.maxWindow).contains(f) else {
            throw ScorerRestoreError("scorer checkpoint has an inconsistent shift window; the series will recalibrate")
        }
        head = h
        filled = f
        for i in 0..<Self.maxWindow { codes[i] = Int8(bitPattern: try r.u8()) }
        length = 0 // the sum is counted again at the next point
        try means.decode(from: &r)
    }
}
