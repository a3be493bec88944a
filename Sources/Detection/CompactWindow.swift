// The rolling window a series trains on, stored compactly: values as Float32, timestamps as the millisecond
// step from the previous point, the "inside an episode" flags as bits — 8.1 bytes per point where a ring of
// (Double, Double, Bool) took 24. At the default 2000 points: 16 KB instead of 48.
//
// Timestamps: the oldest point's time is kept in whole milliseconds and each point stores its step from the one
// before it, so a time is the oldest plus a running sum (the window is only ever read front to back: training
// snapshots, re-priming, checkpoints). A step below 2^31 ms (24.8 days) is exact to the millisecond; a longer
// gap is stored in whole seconds (top bit set), so that one point's time is rounded to the second (the next
// step is taken from the rounded time, so the points after it are exact again). Timestamps finer
// than a millisecond are rounded to one: the calendar features a model sees change by less than 1e-7.
//
// Storage grows with the points up to the capacity (a learning series with 300 points holds about 400, not 2000).
// The three columns share one heap block (`WindowStorage`): an append touches one cold object header and one
// uniqueness check instead of three.

import COmenSupport

/// A fixed-capacity ring of (timestamp, value, excluded) points: Float32 values, delta-coded timestamps, bit flags.
struct CompactWindow: Sendable, Equatable {
    static func == (a: CompactWindow, b: CompactWindow) -> Bool {
        guard a.capacity == b.capacity, a.count == b.count, a.head == b.head,
              a.oldestMilliseconds == b.oldestMilliseconds, a.newestMilliseconds == b.newestMilliseconds else { return false }
        for i in 0..<a.count where a.storage.values[i] != b.storage.values[i] || a.storage.steps[i] != b.storage.steps[i]
            || a.flag(i) != b.flag(i) { return false }
        return true
    }

    let capacity: Int
    private(set) var count = 0
    /// Slot of the oldest point once the ring is full (0 until then).
    private var head = 0
    /// Per slot: the value (Float bits), the step (encoded, see `decodeStep`) from the previous point to the point
    /// in this slot (the oldest's is unused), the flag bit.
    private var storage = WindowStorage.empty
    /// Time of the oldest and of the newest point, in milliseconds.
    private(set) var oldestMilliseconds: Int64 = 0
    private(set) var newestMilliseconds: Int64 = 0

    init(capacity: Int) {
        precondition(capacity > 0, "a window needs a positive capacity")
        self.capacity = capacity
    }

    /// Marks a step stored in whole seconds.
    static let secondsFlag: UInt32 = 0x8000_0000

    @inline(__always)
    static func decodeStep(_ s: UInt32) -> Int64 {
        s & secondsFlag == 0 ? Int64(s) : Int64(s & ~secondsFlag) * 1000
    }

    @inline(__always)
    static func encodeStep(_ ms: Int64) -> UInt32 {
        if ms < Int64(secondsFlag) { return UInt32(max(0, ms)) }
        return secondsFlag | UInt32(min(ms / 1000, Int64(secondsFlag - 1)))
    }

    @inline(__always)
    static func milliseconds(_ timestamp: Double) -> Int64 {
        let ms = (timestamp * 1000).rounded()
        return ms.isFinite ? Int64(max(min(ms, 9e15), -9e15)) : 0
    }

    /// Appends a point (timestamps must not decrease), forgetting the oldest when full.
    mutating func append(timestamp: Double, value: Double, excluded: Bool) {
        let ms = Self.milliseconds(timestamp)
        let step = count == 0 ? 0 : Self.encodeStep(ms - newestMilliseconds)
        let slot: Int
        if count < capacity {
            slot = count
            if count == storage.room {
                // Grow by half, never past the capacity (a full window holds exactly `capacity`; a learning
                // series' 300 points fit in 406 slots).
                storage = storage.grown(to: min(capacity, max(16, count + count / 2)), keeping: count)
            } else if !storage.isUnique() {
                storage = storage.grown(to: storage.room, keeping: count)
            }
            storage.values[slot] = Float(value).bitPattern
            storage.steps[slot] = step
            count += 1
            if count == 1 {
                oldestMilliseconds = ms
                newestMilliseconds = ms
                setFlag(slot, excluded)
                return
            }
        } else {
            if !storage.isUnique() { storage = storage.grown(to: storage.room, keeping: count) }
            slot = head
            head += 1
            if head == capacity { head = 0 }
            // The point after the forgotten one becomes the oldest.
            oldestMilliseconds += Self.decodeStep(storage.steps[head])
            storage.values[slot] = Float(value).bitPattern
            storage.steps[slot] = step
        }
        setFlag(slot, excluded)
        newestMilliseconds += Self.decodeStep(step)
        if capacity == 1 { oldestMilliseconds = newestMilliseconds }
    }

    /// Starts loading what the next `append` writes: the block's header (its uniqueness check) and the slot's
    /// value, step and flag word (a hint only). `mutating` only so that the window is passed by address: a
    /// non-mutating call on a class's stored window copies it first (a retain of the block's cold header).
    @inline(__always)
    mutating func prefetchAppend() {
        let slot = count < capacity ? count : head
        guard slot < storage.room else { return }
        storage.prefetch(slot: slot)
    }

    /// (After the uniqueness check of the append that calls it.)
    @inline(__always)
    private func setFlag(_ slot: Int, _ on: Bool) {
        let bit = UInt32(1) << UInt32(slot & 31)
        if on { storage.flags[slot >> 5] |= bit } else { storage.flags[slot >> 5] &= ~bit }
    }

    @inline(__always)
    private func flag(_ slot: Int) -> Bool { storage.flags[slot >> 5] >> UInt32(slot & 31) & 1 != 0 }
    @inline(__always)
    private func value(_ slot: Int) -> Float { Float(bitPattern: storage.values[slot]) }

    @inline(__always)
    private func slot(_ i: Int) -> Int {
        let j = head + i
        return j < capacity ? j : j - capacity
    }

    /// The points `from..<count` (0 = oldest), oldest first, as `body(timestamp, value, excluded)`.
    func forEach(from: Int = 0, _ body: (Double, Double, Bool) -> Void) {
        var ms = oldestMilliseconds
        for i in 0..<count {
            let s = slot(i)
            if i > 0 { ms += Self.decodeStep(storage.steps[s]) }
            if i >= from { body(Double(ms) / 1000, Double(value(s)), flag(s)) }
        }
    }

    /// Timestamps, values and exclusion flags (1 = inside an episode), oldest first (training snapshots).
    func arrays() -> (timestamps: [Double], values: [Double], excluded: [UInt8]) {
        var ts: [Double] = [], vs: [Double] = [], ex: [UInt8] = []
        ts.reserveCapacity(count)
        vs.reserveCapacity(count)
        ex.reserveCapacity(count)
        forEach { t, v, e in
            ts.append(t)
            vs.append(v)
            ex.append(e ? 1 : 0)
        }
        return (ts, vs, ex)
    }

    /// Bytes held (for capacity planning and tests).
    var residentBytes: Int { 4 * storage.words }

    // MARK: - Checkpoint form

    /// Values as Float32, steps as (step, run length) varint pairs (a regular series needs a few bytes for all
    /// of them), flags as bits.
    func encode(into w: inout ByteWriter) {
        w.int(count)
        w.u64(UInt64(bitPattern: oldestMilliseconds))
        var i = 0
        var ordered = [UInt32]()
        ordered.reserveCapacity(count)
        for j in 0..<count { ordered.append(storage.steps[slot(j)]) }
        // Runs of equal steps (the oldest's step is written as 0).
        if !ordered.isEmpty { ordered[0] = 0 }
        var runs = ByteWriter()
        var runCount = 0
        while i < ordered.count {
            var n = 1
            while i + n < ordered.count && ordered[i + n] == ordered[i] { n += 1 }
            runs.varint(UInt64(ordered[i]))
            runs.varint(UInt64(n))
            runCount += 1
            i += n
        }
        w.int(runCount)
        w.blob(runs.bytes)
        var bits = [UInt8](repeating: 0, count: (count + 7) / 8)
        for j in 0..<count {
            if flag(slot(j)) { bits[j >> 3] |= 1 << UInt8(j & 7) }
        }
        w.blob(bits)
        for j in 0..<count { w.float(value(slot(j))) }
    }

    /// Reads `encode(into:)`; when the configured capacity is smaller than the stored count, the newest points
    /// that fit are kept.
    static func decode(from r: inout ByteReader, capacity: Int) throws(CheckpointError) -> CompactWindow {
        let n = try r.int()
        let oldest = Int64(bitPattern: try r.u64())
        guard n >= 0, n <= 100_000_000 else { throw CheckpointError("checkpoint window has \(n) points") }
        let runCount = try r.int()
        var runs = ByteReader(try r.blob())
        var ordered = [UInt32]()
        ordered.reserveCapacity(min(n, 1 << 16)) // a corrupt count must not reserve gigabytes
        for _ in 0..<max(0, runCount) {
            let step = try runs.varint(), length = try runs.varint()
            // Compared as UInt64 before any conversion: a huge varint length must be refused, not trap in Int(_:).
            guard step <= UInt64(UInt32.max), length >= 1, length <= UInt64(n - ordered.count) else {
                throw CheckpointError("checkpoint window steps are inconsistent")
            }
            ordered.append(contentsOf: repeatElement(UInt32(step), count: Int(length)))
        }
        let bits = try r.blob()
        guard ordered.count == n, bits.count == (n + 7) / 8 else { throw CheckpointError("checkpoint window is inconsistent") }
        var window = CompactWindow(capacity: capacity)
        var ms = oldest
        for j in 0..<n {
            if j > 0 { ms += decodeStep(ordered[j]) }
            let v = try r.float()
            if j >= n - capacity {
                window.append(timestamp: Double(ms) / 1000, value: Double(v), excluded: bits[j >> 3] >> UInt8(j & 7) & 1 != 0)
            }
        }
        return window
    }
}

/// The block a window's three columns share, one allocation with its object header: `room` slots of values (Float
/// bits), then `room` steps, then the flag bits in 32-bit words. A window replaces it (copying what it keeps) when it
/// grows or when another window shares it (`isUnique`).
struct WindowStorage: @unchecked Sendable {
    // Unchecked: a window writes only a block it holds uniquely (`isUnique()` first), so two windows never see
    // each other's writes, whatever threads they live on.
    private var block: ManagedBuffer<Void, UInt32>
    /// The block's elements and slot count, kept beside the reference: reading them through the block would
    /// touch its cold header first (and retain it, an atomic write that stalls the point; 3% of
    /// `omen bench detect`) before a prefetch of the slot could be issued. Valid while `block` is held.
    let values: UnsafeMutablePointer<UInt32>
    /// Slots.
    let room: Int

    /// The block empty windows share (never written: a first append grows it).
    static let empty = WindowStorage(room: 0)

    init(room: Int) {
        let words = 2 * room + (room + 31) / 32
        block = ManagedBuffer<Void, UInt32>.create(minimumCapacity: words) { _ in }
        values = block.withUnsafeMutablePointerToElements { $0 }
        values.initialize(repeating: 0, count: words)
        self.room = room
    }

    /// Whether no other window shares the block.
    @inline(__always)
    mutating func isUnique() -> Bool { isKnownUniquelyReferenced(&block) }

    /// 32-bit words the columns take.
    var words: Int { 2 * room + (room + 31) / 32 }
    @inline(__always)
    var steps: UnsafeMutablePointer<UInt32> { values + room }
    @inline(__always)
    var flags: UnsafeMutablePointer<UInt32> { values + 2 * room }

    /// Prefetches the header and slot `slot`'s value, step and flag word.
    @inline(__always)
    func prefetch(slot: Int) {
        omen_prefetch_write(UnsafeRawPointer(Unmanaged.passUnretained(block).toOpaque()))  // for `isUnique`
        omen_prefetch_write(values + slot)
        omen_prefetch_write(steps + slot)
        omen_prefetch_write(flags + (slot >> 5))
    }

    /// A new block of `room` slots holding the first `kept` slots of this one.
    func grown(to room: Int, keeping kept: Int) -> WindowStorage {
        let next = WindowStorage(room: room)
        next.values.update(from: values, count: kept)
        next.steps.update(from: steps, count: kept)
        next.flags.update(from: flags, count: (kept + 31) / 32)
        return next
    }
}
