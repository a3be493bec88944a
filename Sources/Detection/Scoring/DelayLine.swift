// A slow drift, or a shift the model follows, is absorbed by a history that takes each value in at once: every
// new value is then only a little beyond the last, and a run of hundreds of records reads as hundreds of
// unremarkable ones. Ranking a value against the history as it stood `delay` points ago keeps the reference
// from moving with the change, so the drift is news while it is drifting, not only once it is a plateau.

/// The last `delay` values, released in order once they are `delay` points old.
struct DelayLine: Sendable {
    let delay: Int
    var ring: [Double]
    var head = 0
    var count = 0

    init(delay: Int) {
        self.delay = max(0, delay)
        ring = [Double](repeating: 0, count: self.delay)
    }

    /// Adds `v`; returns the value that is now `delay` points old (v itself when there is no delay), or nil while
    /// the line fills.
    @inline(__always)
    mutating func push(_ v: Double) -> Double? {
        guard delay > 0 else { return v }
        if count < delay {
            ring[(head + count) % delay] = v
            count += 1
            return nil
        }
        let out = ring[head]
        ring[head] = v
        head = head + 1 == delay ? 0 : head + 1
        return out
    }

    func encode(into w: inout ByteWriter) {
        w.int(delay); w.int(head); w.int(count)
        for v in ring { w.double(v) }
    }

    mutating func decode(from r: inout ByteReader) throws(ScorerRestoreError) {
        guard try r.int() == delay else {
            throw ScorerRestoreError("scorer checkpoint has a different value delay than the configuration; the series will recalibrate")
        }
        head = try r.int(); count = try r.int()
        guard head >= 0, head < max(delay, 1), count >= 0, count <= delay else {
            throw ScorerRestoreError("scorer checkpoint has an inconsistent value delay line; the series will recalibrate")
        }
        for i in ring.indices { ring[i] = try r.double() }
    }
}
