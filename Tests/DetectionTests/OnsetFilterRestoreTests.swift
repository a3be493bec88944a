import Testing

@testable import Detection

@Suite struct OnsetFilterRestoreTests {
    /// A damaged checkpoint whose onset clock is out of range (negative, or past the 2^30 the filter rebases at)
    /// is refused, so the series recalibrates instead of trapping on an overflow at its next point (found by
    /// `make fuzz FUZZ_TARGET=checkpoint`).
    @Test func clockOutOfRangeRefused() {
        for clock in [-1, 1 << 31, Int(Int32.max), (1 << 30) + 1] {
            var w = ByteWriter()
            w.int(4); w.int(0); w.int(1); w.int(clock)
            for _ in 0..<5 { w.int(Int(Int32.min)) }
            for _ in 0..<5 { w.float(1) }
            var r = ByteReader(w.bytes)
            var filter = OnsetFilter(window: 4)
            #expect(throws: ScorerRestoreError.self) { try filter.decode(from: &r) }
        }
    }

    /// Stale slots outside the live range may hold any index: a rebase leaves them wrapped, never traps.
    @Test func rebaseWithStaleSlots() {
        var filter = OnsetFilter(window: 4)
        for i in filter.indices.indices { filter.indices[i] = .min }
        filter.t = 1 << 30
        filter.push(1)
        filter.push(2)
        #expect(filter.t <= 6)
        #expect(filter.previousMax() == 2)
    }
}
