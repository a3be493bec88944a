// The small stateful pieces the scorer composes. Each is a value type with contiguous buffers, updated in
// place through `Scorer.score`, so a point costs a few dozen operations and no allocation.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Surprise helpers shared by the stages.
enum Surprise {
    static let log10e = 0.4342944819032518

    /// −log10 of the two-sided Gaussian tail probability of |z|, accurate far into the tail.
    static func gaussianTwoSided(_ z: Double) -> Double {
        let a = abs(z)
        guard a.isFinite else { return a.isNaN ? 0 : 300 }
        if a < 30 { return -log10(max(erfc(a / 2.0.squareRoot()), 1e-300)) }
        // erfc(x) ~ exp(-x^2) / (x sqrt(pi)) with x = a / sqrt 2.
        return (a * a / 2) * log10e + log10(a * (Double.pi / 2).squareRoot())
    }

    /// −log10 of the two-sided Student-t tail probability P(|T| ≥ |t|) with `dof` degrees of freedom, accurate far
    /// into the tail (to p = 1e-300): P = I_x(ν/2, 1/2), the regularised incomplete beta function at x = ν/(ν + t²).
    /// `logBeta` is ln B(ν/2, 1/2) (`StudentTail` keeps it). The tail falls as |t|^−ν, not as exp(−t²/2).
    static func studentTwoSided(_ t: Double, dof nu: Double, logBeta: Double) -> Double {
        let a = abs(t)
        guard a.isFinite else { return a.isNaN ? 0 : 300 }
        guard a > 0 else { return 0 }
        let t2 = a * a
        let x = nu / (nu + t2)
        let y = t2 / (nu + t2) // 1 − x, without the cancellation
        let pa = nu / 2, pb = 0.5
        // Whole degrees of freedom and a tail probability above ~1e-3: the finite series (Abramowitz & Stegun
        // 26.7.3-4) in θ = atan(t / √ν), a few multiplies instead of the continued fraction (1 − A loses at most
        // 3 of 16 digits there).
        if nu == nu.rounded(), nu <= 64, t2 <= 4 * nu {
            let theta = atan(a / nu.squareRoot())
            let c2 = x // cos²θ = ν / (ν + t²)
            let sinT = sin(theta)
            var term = 1.0, sum = 1.0
            let n = Int(nu)
            let within: Double
            if n % 2 == 1 {
                // A = (2/π)(θ + sinθ cosθ (1 + (2/3)cos²θ + (2·4)/(3·5)cos⁴θ + ...)), terms up to cos^(ν−3)θ.
                if n == 1 {
                    within = 2 / Double.pi * theta
                } else {
                    var j = 1
                    while 2 * j <= n - 3 {
                        term *= Double(2 * j) / Double(2 * j + 1) * c2
                        sum += term
                        j += 1
                    }
                    within = 2 / Double.pi * (theta + sinT * c2.squareRoot() * sum)
                }
            } else {
                // A = sinθ (1 + (1/2)cos²θ + (1·3)/(2·4)cos⁴θ + ...), terms up to cos^(ν−2)θ.
                var j = 1
                while 2 * j <= n - 2 {
                    term *= Double(2 * j - 1) / Double(2 * j) * c2
                    sum += term
                    j += 1
                }
                within = sinT * sum
            }
            let p = 1 - within
            if p > 1e-3 { return min(300, max(0, -log10(p))) }
        }
        let lnP: Double
        if x < (pa + 1) / (pa + pb + 2) {
            lnP = pa * log(x) + pb * log(y) - log(pa) - logBeta + log(betaFraction(pa, pb, x))
        } else {
            let q = exp(pb * log(y) + pa * log(x) - log(pb) - logBeta) * betaFraction(pb, pa, y)
            lnP = log1p(-min(q, 1))
        }
        return min(300, max(0, -lnP * log10e))
    }

    /// The continued fraction of the incomplete beta function (modified Lentz), converging fast for
    /// x < (a + 1) / (a + b + 2).
    static func betaFraction(_ a: Double, _ b: Double, _ x: Double) -> Double {
        let tiny = 1e-300
        let qab = a + b, qap = a + 1, qam = a - 1
        var c = 1.0
        var d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...200 {
            let m = Double(m), m2 = 2 * m
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let del = d * c
            h *= del
            if abs(del - 1) < 1e-13 { break }
        }
        return h
    }

    /// −log10 of the one-sided upper Gaussian tail probability of z.
    static func gaussianUpper(_ z: Double) -> Double {
        guard z.isFinite else { return z > 0 ? 300 : 0 }
        if z < 30 { return -log10(max(0.5 * erfc(z / 2.0.squareRoot()), 1e-300)) }
        return gaussianTwoSided(z) + log10(2.0)
    }
}

/// How the Gaussian head's z becomes a surprise: a Gaussian tail, or a Student-t tail with `dof` degrees of freedom.
struct StudentTail: Sendable, Equatable {
    /// Degrees of freedom; 0 = the Gaussian tail.
    let dof: Double
    /// ln B(dof/2, 1/2).
    let logBeta: Double

    init(dof: Int) {
        self.dof = Double(max(0, dof))
        logBeta = dof > 0 ? Self.logGamma(self.dof / 2) + Self.logGamma(0.5) - Self.logGamma(self.dof / 2 + 0.5) : 0
    }

    /// ln Γ(x) for x > 0, through lgamma_r (lgamma writes the process-wide `signgam`: a data race between shards
    /// creating series at once).
    static func logGamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return lgamma_r(x, &sign)
    }

    @inline(__always)
    func twoSided(_ z: Double) -> Double {
        dof > 0 ? Surprise.studentTwoSided(z, dof: dof, logBeta: logBeta) : Surprise.gaussianTwoSided(z)
    }
}

/// Exponentially weighted scale of residuals and values, for the v1 residual stage and fallbacks.
struct SpreadTracker: Sendable {
    var n = 0
    /// Mean |residual|.
    var meanAbs = 0.0
    /// Mean |value|, for the floor that keeps a constant stretch from giving a zero spread.
    var meanAbsValue = 0.0
    /// Effective memory in points.
    let memory: Int

    init(memory: Int) { self.memory = max(1, memory) }

    /// The spread, floored at a millionth of the series' typical magnitude (and 1e-12 absolute):
    /// after a constant stretch a tiny change is then large but finite, never a division by zero.
    @inline(__always)
    var spread: Double { max(meanAbs, 1e-6 * meanAbsValue, 1e-12) }

    /// While learning there is no residual: only the value's magnitude is tracked.
    @inline(__always)
    mutating func update(value: Double) {
        let a = 1 / Double(min(n + 1, memory))
        meanAbsValue += a * (abs(value) - meanAbsValue)
    }

    @inline(__always)
    mutating func update(residual: Double, value: Double) {
        n += 1
        let a = 1 / Double(min(n, memory))
        meanAbs += a * (abs(residual) - meanAbs)
        meanAbsValue += a * (abs(value) - meanAbsValue)
    }

    func encode(into w: inout ByteWriter) { w.int(n); w.double(meanAbs); w.double(meanAbsValue) }
    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        n = try r.int(); meanAbs = try r.double(); meanAbsValue = try r.double()
    }
}

/// Keeps a score only when it beats every raw score of the previous `window` points (onsets, not repeats).
/// A sliding maximum over a monotonic deque: amortised O(1) per point.
struct OnsetFilter: Sendable {
    let window: Int
    /// Deque of (point index, score) with decreasing scores, stored in a ring of `window + 1` slots.
    var indices: [Int32]
    var values: [Float]
    var front = 0
    var size = 0
    var t: Int32 = 0

    init(window: Int) {
        self.window = max(0, window)
        let cap = self.window > 0 ? self.window + 1 : 0
        indices = [Int32](repeating: 0, count: cap)
        values = [Float](repeating: 0, count: cap)
    }

    /// Max of the previous `window` scores (before this point is added), or -infinity.
    @inline(__always)
    mutating func previousMax() -> Float {
        let cap = indices.count
        while size > 0 && Int(t) - Int(indices[front]) > window {
            front = front + 1 == cap ? 0 : front + 1
            size -= 1
        }
        return size > 0 ? values[front] : -.infinity
    }

    /// The onsets of the window (points that were kept as onsets), oldest first, each more surprising than every
    /// later one (a later onset at least as surprising removes it), at most `Self.onsetCapacity`: when full, the
    /// newest replaces the least surprising. A regular onset beats every point of the window, earlier onsets
    /// included, so the list is its one entry plus the less surprising new extremes that came after it: short.
    var onsetIndices: [Int32] = []
    var onsetValues: [Float] = []
    static let onsetCapacity = 16

    /// The most surprising onset among the last `span` points (before this point is added), or -infinity.
    func recentOnsetMax(span: Int) -> Float {
        for (i, index) in onsetIndices.enumerated() where Int(t) - Int(index) <= span { return onsetValues[i] }
        return -.infinity
    }

    /// Remembers that the point just pushed was an onset with surprise `s`.
    mutating func recordOnset(_ s: Float) {
        let index = t &- 1
        // Out of the window: never read again.
        while let first = onsetIndices.first, Int(index) - Int(first) > window {
            onsetIndices.removeFirst(); onsetValues.removeFirst()
        }
        while let last = onsetValues.last, last <= s { onsetIndices.removeLast(); onsetValues.removeLast() }
        if onsetIndices.count == Self.onsetCapacity { onsetIndices.removeLast(); onsetValues.removeLast() }
        onsetIndices.append(index)
        onsetValues.append(s)
    }

    func encodeOnsets(into w: inout ByteWriter) {
        w.int(onsetIndices.count)
        for (i, v) in zip(onsetIndices, onsetValues) { w.int(Int(i)); w.float(v) }
    }

    mutating func decodeOnsets(from r: inout ByteReader) throws(ScorerRestoreError) {
        let n = try r.int()
        guard n >= 0, n <= Self.onsetCapacity else {
            throw ScorerRestoreError("scorer checkpoint has \(n) remembered onsets; the series will recalibrate")
        }
        var indices: [Int32] = [], values: [Float] = []
        for _ in 0..<n {
            let i = try r.int(), v = try r.float()
            // An entry older than the window may have gone below 0 when the clock was rebased (never read again).
            guard i >= -(1 << 30), i < Int(t), v.isFinite, values.last.map({ $0 > v }) ?? true else {
                throw ScorerRestoreError("scorer checkpoint has inconsistent remembered onsets; the series will recalibrate")
            }
            indices.append(Int32(i)); values.append(v)
        }
        onsetIndices = indices; onsetValues = values
    }

    @inline(__always)
    mutating func push(_ s: Float) {
        let cap = indices.count
        while size > 0 {
            let back = (front + size - 1) % cap
            if values[back] <= s { size -= 1 } else { break }
        }
        let slot = (front + size) % cap
        indices[slot] = t
        values[slot] = s
        size += 1
        t &+= 1
        if t > 1 << 30 { rebase() }
    }

    /// Keeps indices small on very long streams.
    private mutating func rebase() {
        let shift = t - Int32(window) - 1
        // Wrapping: slots outside the live range hold stale indices that are never read.
        for i in indices.indices { indices[i] &-= shift }
        for i in onsetIndices.indices { onsetIndices[i] &-= shift }
        t -= shift
    }

    func encode(into w: inout ByteWriter) {
        w.int(window); w.int(front); w.int(size); w.int(Int(t))
        for i in indices { w.int(Int(i)) }
        for v in values { w.float(v) }
    }

    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        guard try r.int() == window else {
            throw ScorerRestoreError("scorer checkpoint has a different onset window than the configuration; the series will recalibrate")
        }
        front = try r.int(); size = try r.int()
        let clock = try r.int()
        // The clock stays below 2^30 (push rebases it there); a larger or negative one is a damaged blob, which
        // would overflow the index arithmetic (found by fuzzing the checkpoint decoder).
        guard clock >= 0, clock <= 1 << 30 else {
            throw ScorerRestoreError("scorer checkpoint has an onset clock out of range; the series will recalibrate")
        }
        t = Int32(clock)
        guard front >= 0, size >= 0, size <= indices.count, front < max(indices.count, 1) else {
            throw ScorerRestoreError("scorer checkpoint has an inconsistent onset window; the series will recalibrate")
        }
        for i in indices.indices { indices[i] = Int32(truncatingIfNeeded: try r.int()) }
        for i in values.indices { values[i] = try r.float() }
    }
}

/// Runs of exactly repeated values (a frozen sensor). A run is news when it becomes longer than every earlier run
/// of the series, and again each time its evidence squares (its surprise doubles), not at every point: before,
/// every point of a record run scored higher than the last and each was an onset, a false alarm per point.
/// Repeats follow a two-state Markov chain fitted to the series' recent steps: a run starts with probability
/// q01 (a repeat after a change) and goes on with q11 (a repeat after a repeat), so reaching length L has
/// probability q01 · q11^(L−1). An idle or quantised series whose repeats come in long stretches has q11 near 1
/// and is not surprised by another long stretch; a noisy series that never repeated is, within two points. Until
/// the series has shown repeats after repeats, q11's prior is q01 (no persistence: two repeats in a row are as
/// rare as two independent ones). The chain is read as it stood when the run began; a run that began before the
/// series had shown `minSteps` steps is never judged.
///
/// The chain's four transition counts decay by 1 − 1/`memory` a step, so they weigh the last `memory` steps or so
/// (the scorer's history length). Earlier builds kept a ring of one bit per step for the last `memory` steps and
/// counted its transitions exactly: a separate 750-byte array per series, read twice and written once per point.
///
/// The same transitions are also counted by hour of the day (UTC; 24 bins, each bin's counts shrunk toward the
/// series' chain by `hourPrior` pseudo-steps), and a run is judged by the more lenient of the two chains at every
/// step: its start by the larger of q01 and its hour's q01, each further repeat by the larger of q11 and the q11 of
/// the hour it falls in. Repeats that come with the hour are then no news (an error counter's zeros through a quiet
/// night, a CPU pinned at 100 % every afternoon: one chain for the whole day made each night's longest run of
/// zeros a frozen page at 0.8), and no run is ever more surprising than the series-wide chain alone makes it.
struct FrozenTracker: Sendable {
    /// Steps the counts remember (their decay's time constant); 0 turns the tracker off.
    let memory: Int
    let decay: Double
    /// Transitions between consecutive steps, decayed: after a repeat (how many, and how many of those were
    /// repeats again), and after a change.
    var afterRepeat = 0.0, repeatAfterRepeat = 0.0, afterChange = 0.0, repeatAfterChange = 0.0
    /// Whether the last step was an exact repeat, and how many steps have been seen (capped at 2^30).
    var lastWasRepeat = false
    var steps = 0
    var run = 0
    /// Longest run of repeats that has ended.
    var maxRun = 0
    var last = Double.nan
    /// Surprise of the point last observed: nonzero only where the run has just become the longest, or its
    /// surprise has doubled since it last counted.
    private(set) var surprise = 0.0
    /// The surprise the current run last counted with (0 outside a run).
    var fired = 0.0
    /// q01 and q11 as they stood when the current run began: the run is judged by the series before it, so that
    /// its own repeats do not teach the chain that repeats persist (a stuck sensor would explain itself away).
    var runQ01 = 1.0, runQ11 = 1.0

    /// The transitions by hour: four decayed counts a bin (after a repeat, repeats among them, after a change,
    /// repeats among them), each bin brought up to date lazily: its counts stand as of step `hourStep[b]`. Empty
    /// while the tracker is off.
    var hourCounts: [Float]
    var hourStep: [Int32]
    /// Each hour's q11 (at least the series' q11) as it stood when the current run began; empty when the run is
    /// judged by the series-wide chain alone (a run begun before `minSteps`, or restored from an older checkpoint).
    /// Worked out lazily: an hour's entry only when the run reaches that hour or before the hour's counts change
    /// (bit b of `runHourReady`), from the counts as they stood at step `runStart`, so a run's start costs one hour's
    /// `pow`, not 24; the values are those the run's start would have found.
    var runHourQ11: [Double] = []
    var runHourReady: UInt32 = 0
    var runStart = 0
    /// −log10 P(the current run so far) under the hourly chains (used while `runHourQ11` is set).
    var runSurprise = 0.0
    static let hours = 24
    /// Pseudo-steps of the series' chain that each hour's counts are shrunk toward.
    static let hourPrior = 5.0

    /// Steps the series must have shown before a run for the run to be judged (the scorer's `minHistory`).
    let minSteps: Int

    init(memory: Int, minSteps: Int = 50) {
        self.memory = max(0, memory)
        decay = 1 - 1 / Double(max(self.memory, 1))
        self.minSteps = minSteps
        hourCounts = self.memory > 0 ? [Float](repeating: 0, count: 4 * Self.hours) : []
        hourStep = self.memory > 0 ? [Int32](repeating: 0, count: Self.hours) : []
    }

    /// The hour of the day (UTC) of `timestamp`, 0-23.
    static func hour(_ timestamp: Double) -> Int {
        guard timestamp.isFinite else { return 0 }
        return min(hours - 1, max(0, Int(CivilCalendar.secondsIntoDay(timestamp) / 3_600)))
    }

    /// How much an hour's counts have decayed between their last update and step `at` (now by default).
    private func hourDecay(_ b: Int, at step: Int? = nil) -> Double {
        let gap = (step ?? steps) - Int(hourStep[b])
        return gap <= 0 ? 1 : gap == 1 ? decay : pow(decay, Double(gap))
    }

    /// Hour `b`'s q11 as it stood at the run's start (its counts have not changed since, or it is ready).
    private func hourQ11AtRunStart(_ b: Int) -> Double {
        if runHourReady & (1 << UInt32(b)) != 0 { return runHourQ11[b] }
        let f = hourDecay(b, at: runStart), i = 4 * b, k = Self.hourPrior
        let q11 = (Double(hourCounts[i + 1]) * f + k * runQ11) / (Double(hourCounts[i]) * f + k)
        return max(q11, runQ11)
    }

    /// Hour `b`'s q11 for the current run, worked out and kept the first time it is asked for (every later step of
    /// the run in that hour reads it without writing it again).
    private mutating func readyRunQ11(hour b: Int) -> Double {
        let bit: UInt32 = 1 << UInt32(b)
        if runHourReady & bit != 0 { return runHourQ11[b] }
        let q = hourQ11AtRunStart(b)
        runHourQ11[b] = q
        runHourReady |= bit
        return q
    }

    /// Counts one step, a repeat or not, in the series' counts and in its hour's (none: an old checkpoint's ring
    /// of bits, whose steps have no time): the counts decay, and the transition from the previous step is added.
    private mutating func count(step isRepeat: Bool, hour: Int?) {
        if steps > 0 {
            afterRepeat *= decay; repeatAfterRepeat *= decay; afterChange *= decay; repeatAfterChange *= decay
            if lastWasRepeat {
                afterRepeat += 1
                if isRepeat { repeatAfterRepeat += 1 }
            } else {
                afterChange += 1
                if isRepeat { repeatAfterChange += 1 }
            }
            if let h = hour, !hourStep.isEmpty {
                // A run in progress reads this hour as it stood at its start: settle that before the counts move.
                if run > 0 && !runHourQ11.isEmpty { _ = readyRunQ11(hour: h) }
                let f = Float(hourDecay(h)), i = 4 * h
                for k in i..<(i + 4) { hourCounts[k] *= f }
                hourStep[h] = Int32(steps)
                hourCounts[lastWasRepeat ? i : i + 2] += 1
                if isRepeat { hourCounts[lastWasRepeat ? i + 1 : i + 3] += 1 }
            }
        }
        lastWasRepeat = isRepeat
        steps = min(steps + 1, 1 << 30)
    }

    /// At a run's start: each hour's chain as it stands now (worked out lazily, `hourQ11AtRunStart`), shrunk toward the
    /// series' (`runQ01`, `runQ11`) and never stricter than it; the run's start is judged by its own hour's q01.
    private mutating func snapshotHours(startingIn h: Int) {
        guard !hourStep.isEmpty else { runHourQ11.removeAll(); return }
        let k = Self.hourPrior
        if runHourQ11.count != Self.hours { runHourQ11 = [Double](repeating: 1, count: Self.hours) }
        runStart = steps
        runHourReady = 0
        let i = 4 * h, f = hourDecay(h)
        let q01 = (Double(hourCounts[i + 3]) * f + k * runQ01) / (Double(hourCounts[i + 2]) * f + k)
        runQ01 = max(q01, runQ01)
        runSurprise = -log10(runQ01)
    }

    mutating func observe(_ v: Double, at timestamp: Double) {
        guard memory > 0 else { return }
        let h = Self.hour(timestamp)
        let isRepeat = v == last
        if !isRepeat { maxRun = max(maxRun, run) }
        run = isRepeat ? run + 1 : 0
        last = v
        surprise = 0
        if run == 0 { fired = 0 }
        if run == 1 {
            if afterChange + afterRepeat >= Double(minSteps) {
                runQ01 = (repeatAfterChange + 1) / (afterChange + 2)
                runQ11 = (repeatAfterRepeat + 2 * runQ01) / (afterRepeat + 2)
                snapshotHours(startingIn: h)
            } else {
                // Too little of the series before the run to judge it by (a series that has only ever been one
                // value, a run at its start): it never counts.
                runQ01 = 1; runQ11 = 1
                runHourQ11.removeAll()
            }
        }
        if run >= 2 && !runHourQ11.isEmpty { runSurprise -= log10(readyRunQ11(hour: h)) }
        // −log10 P(a run reaches `run`), once the run is the longest.
        if run > maxRun {
            let s = runHourQ11.isEmpty ? -log10(runQ01) - Double(run - 1) * log10(runQ11) : runSurprise
            if run == maxRun + 1 || s >= 2 * fired {
                surprise = s
                fired = s
            }
        }
        count(step: isRepeat, hour: h)
    }

    /// The hourly chains and the current run's view of them (the scorer's checkpoint version 13 appends them).
    func encodeHours(into w: inout ByteWriter) {
        w.floats(hourCounts)
        w.int(hourStep.count)
        for s in hourStep { w.int(Int(s)) }
        w.doubles(runHourQ11.indices.map { hourQ11AtRunStart($0) })
        w.double(runSurprise)
    }

    mutating func decodeHours(from r: inout ByteReader) throws(ScorerRestoreError) {
        let counts = try r.floats()
        let n = try r.int()
        guard n == 0 || n == Self.hours else {
            throw ScorerRestoreError("scorer checkpoint has \(n) hourly frozen-run bins; the series will recalibrate")
        }
        var stamps = [Int32]()
        for _ in 0..<n {
            let s = try r.int()
            guard s >= 0, s <= (memory > 0 ? steps : 1 << 30) else {
                throw ScorerRestoreError("scorer checkpoint has an hourly frozen-run bin from step \(s); the series will recalibrate")
            }
            stamps.append(Int32(s))
        }
        let q11 = try r.doubles()
        let surprise = try r.double()
        // Each pair (transitions, repeats among them) holds no more repeats than transitions.
        guard counts.count == 4 * n, counts.allSatisfy({ $0.isFinite && $0 >= 0 }),
              stride(from: 0, to: counts.count, by: 2).allSatisfy({ counts[$0 + 1] <= counts[$0] }),
              q11.isEmpty || q11.count == Self.hours, q11.allSatisfy({ $0 > 0 && $0 <= 1 }),
              surprise.isFinite, surprise >= 0
        else {
            throw ScorerRestoreError("scorer checkpoint has inconsistent hourly frozen-run chains; the series will recalibrate")
        }
        // A tracker that is off keeps nothing; one whose checkpoint had no hours starts them empty.
        guard memory > 0, n == Self.hours else { return }
        hourCounts = counts; hourStep = stamps; runHourQ11 = q11; runSurprise = surprise
        runHourReady = q11.isEmpty ? 0 : (1 << UInt32(Self.hours)) - 1
    }

    /// The section starts with −1, which no earlier build's ring (its capacity first) could: `decode` reads either.
    func encode(into w: inout ByteWriter) {
        w.int(-1)
        w.int(run); w.int(maxRun); w.double(last); w.bool(lastWasRepeat); w.int(steps)
        w.double(afterRepeat); w.double(repeatAfterRepeat); w.double(afterChange); w.double(repeatAfterChange)
    }

    /// Reads this build's section or an earlier build's ring of bits (whose transitions are counted again, oldest
    /// first, with this tracker's decay). A ring of another length, or none (written with the tracker off),
    /// restores what it holds rather than failing the whole scorer. A tracker that is off keeps nothing.
    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        let first = try r.int()
        var restored = self
        if first == -1 {
            restored.run = try r.int(); restored.maxRun = try r.int(); restored.last = try r.double()
            restored.lastWasRepeat = try r.bool(); restored.steps = try r.int()
            restored.afterRepeat = try r.double(); restored.repeatAfterRepeat = try r.double()
            restored.afterChange = try r.double(); restored.repeatAfterChange = try r.double()
            let counts = [restored.afterRepeat, restored.repeatAfterRepeat, restored.afterChange, restored.repeatAfterChange]
            guard restored.run >= 0, restored.maxRun >= 0, restored.steps >= 0, restored.steps <= 1 << 30,
                  counts.allSatisfy({ $0.isFinite && $0 >= 0 }),
                  restored.repeatAfterRepeat <= restored.afterRepeat, restored.repeatAfterChange <= restored.afterChange
            else {
                throw ScorerRestoreError("scorer checkpoint has an inconsistent frozen-run tracker; the series will recalibrate")
            }
        } else {
            // The ring: capacity, head, count, the repeats' count (unused), run, longest run, last value, bits.
            let capacity = first
            let head = try r.int(), count = try r.int()
            _ = try r.int()
            restored.run = try r.int(); restored.maxRun = try r.int(); restored.last = try r.double()
            guard capacity >= 0, capacity <= 1 << 20, capacity == 0 || (head >= 0 && head < capacity),
                  count >= 0, count <= capacity, restored.run >= 0, restored.maxRun >= 0 else {
                throw ScorerRestoreError("scorer checkpoint has an inconsistent frozen-run tracker; the series will recalibrate")
            }
            var bits = [UInt64](repeating: 0, count: (capacity + 63) / 64)
            for i in bits.indices { bits[i] = try r.u64() }
            func bit(_ i: Int) -> Bool { bits[i >> 6] & (UInt64(1) << UInt64(i & 63)) != 0 }
            // Counted again from nothing, oldest step first, as `observe` counted them.
            restored.afterRepeat = 0; restored.repeatAfterRepeat = 0; restored.afterChange = 0
            restored.repeatAfterChange = 0; restored.lastWasRepeat = false; restored.steps = 0
            var i = (head - count + capacity) % max(capacity, 1)
            for _ in 0..<count {
                restored.count(step: bit(i), hour: nil)
                i = (i + 1) % capacity
            }
        }
        if memory > 0 { self = restored }
    }
}

/// HTM-style anomaly likelihood: is the recent average of raw anomaly scores unusually high compared with
/// the long-run distribution of that average?
struct LikelihoodState: Sendable {
    let shortWindow: Int
    var recent: [Double]
    var head = 0
    var filled = 0
    var recentSum = 0.0
    var n = 0
    var mean = 0.0
    var variance = 0.0
    let memory: Int

    init(shortWindow: Int, memory: Int) {
        self.shortWindow = max(1, shortWindow)
        self.memory = max(2, memory)
        recent = [Double](repeating: 0, count: self.shortWindow)
    }

    /// Surprise of the short average of `raw` (in [0, 1]) against its long-run mean and spread.
    /// The variance is floored (as HTM does) so a perfectly steady series does not make every blip certain.
    mutating func surprise(raw: Double) -> Double {
        if filled == shortWindow { recentSum -= recent[head] } else { filled += 1 }
        recent[head] = raw
        recentSum += raw
        head = head + 1 == shortWindow ? 0 : head + 1
        let avg = recentSum / Double(filled)
        let s: Double
        if n >= shortWindow {
            let z = (avg - mean) / max(variance, 1.5e-5).squareRoot()
            s = Surprise.gaussianUpper(z)
        } else {
            s = 0
        }
        n += 1
        let a = 1 / Double(min(n, memory))
        let d = avg - mean
        mean += a * d
        variance = (1 - a) * (variance + a * d * d)
        return s
    }

    func encode(into w: inout ByteWriter) {
        w.int(shortWindow); w.int(head); w.int(filled); w.double(recentSum); w.int(n); w.double(mean); w.double(variance)
        for v in recent { w.double(v) }
    }

    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        guard try r.int() == shortWindow else {
            throw ScorerRestoreError("scorer checkpoint has a different likelihood window than the configuration; the series will recalibrate")
        }
        head = try r.int(); filled = try r.int(); recentSum = try r.double(); n = try r.int()
        mean = try r.double(); variance = try r.double()
        for i in recent.indices { recent[i] = try r.double() }
    }
}

/// Telemanom-style dynamic threshold: errors are smoothed (EWMA), and every `refresh` points a threshold
/// ε = μ + zσ over the last `window` smoothed errors is chosen by Telemanom's criterion (the z whose
/// exceedances, removed, shrink mean and spread the most per anomalous point and sequence).
struct DynamicThreshold: Sendable {
    let window: Int
    let refresh: Int
    let alpha: Double
    var errors: [Float]
    var head = 0
    var count = 0
    var smoothed = 0.0
    var started = false
    var sinceRefresh = 0
    var mean = 0.0
    var sigma = 0.0
    var epsilon = Double.infinity

    init(window: Int, smoothing: Int, refresh: Int) {
        self.window = max(10, window)
        self.refresh = max(1, refresh)
        alpha = 2 / (Double(max(1, smoothing)) + 1)
        errors = [Float](repeating: 0, count: self.window)
    }

    /// Surprise of the smoothed error: 3 × (e − μ)/(ε − μ), so reaching ε reads like p = 1e-3.
    mutating func surprise(error: Double) -> Double {
        let e = abs(error)
        smoothed = started ? smoothed + alpha * (e - smoothed) : e
        started = true
        let s: Double
        if epsilon.isFinite {
            let gap = epsilon - mean
            if gap > 0 {
                s = max(0, 3 * (smoothed - mean) / gap)
            } else {
                // All smoothed errors were equal: anything above them gets the rank bound 1/(n+1), as calibration does.
                s = smoothed > mean * (1 + 1e-9) + 1e-300 ? log10(Double(count) + 1) : 0
            }
        } else {
            s = 0
        }
        errors[head] = Float(smoothed)
        head = head + 1 == window ? 0 : head + 1
        count = min(count + 1, window)
        sinceRefresh += 1
        if sinceRefresh >= refresh && count >= min(window, 100) { chooseThreshold() }
        return s
    }

    mutating func chooseThreshold() {
        sinceRefresh = 0
        let n = count
        let start = (head - n + window) % window
        var sum = 0.0, sum2 = 0.0
        for j in 0..<n { let v = Double(errors[(start + j) % window]); sum += v; sum2 += v * v }
        mean = sum / Double(n)
        sigma = max(0, sum2 / Double(n) - mean * mean).squareRoot()
        guard sigma > 0 else { epsilon = mean; return }
        var best = -Double.infinity
        var bestEps = mean + 12 * sigma
        var z = 2.5
        while z <= 12 {
            let eps = mean + z * sigma
            var bs = 0.0, bs2 = 0.0, bn = 0.0, above = 0.0, seqs = 0.0
            var inSeq = false
            for j in 0..<n {
                let v = Double(errors[(start + j) % window])
                if v < eps {
                    bs += v; bs2 += v * v; bn += 1; inSeq = false
                } else {
                    above += 1
                    if !inSeq { seqs += 1; inSeq = true }
                }
            }
            if above > 0 && bn > 0 {
                let bm = bs / bn
                let bsd = max(0, bs2 / bn - bm * bm).squareRoot()
                let score = ((mean - bm) / mean + (sigma - bsd) / sigma) / (above + seqs * seqs)
                if score > best { best = score; bestEps = eps }
            }
            z += 0.5
        }
        epsilon = bestEps
    }

    func encode(into w: inout ByteWriter) {
        w.int(window); w.int(head); w.int(count); w.double(smoothed); w.u8(started ? 1 : 0); w.int(sinceRefresh)
        w.double(mean); w.double(sigma); w.double(epsilon)
        for v in errors { w.float(v) }
    }

    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        guard try r.int() == window else {
            throw ScorerRestoreError("scorer checkpoint has a different dynamic-threshold window than the configuration; the series will recalibrate")
        }
        head = try r.int(); count = try r.int(); smoothed = try r.double(); started = try r.u8() != 0
        sinceRefresh = try r.int(); mean = try r.double(); sigma = try r.double(); epsilon = try r.double()
        guard head >= 0, head < window, count >= 0, count <= window else {
            throw ScorerRestoreError("scorer checkpoint has an inconsistent error window; the series will recalibrate")
        }
        for i in errors.indices { errors[i] = try r.float() }
    }
}
