// Series keys are interned on the ingest thread. A steady stream repeats the same keys millions of times; building
// a String per record costs an allocation and a validation, and every later dictionary lookup hashes and compares
// its bytes again. Interned, a key seen before costs one hash of its bytes and one comparison, yields a String
// that shares storage with the first one (so equality is an identity check), and carries a dense id that the
// shards use to index their series without hashing at all.
import Detection
import Foundation

/// The series keys one ingest thread has seen, each with a dense id and its routing hash. Not thread-safe: one
/// table belongs to one thread (every parser of that thread may share it).
public final class SeriesKeyTable: @unchecked Sendable {
    /// Keys beyond this many are not interned (their points carry `Point.noSeriesID` and take the slow path), so
    /// a flood of one-off keys cannot grow the table without bound.
    public let maxKeys: Int
    /// Interned keys by id.
    public private(set) var keys: [String] = []
    /// `stableHash` of each key by id: the shard a key is routed to, computed once per key.
    public private(set) var routes: [UInt64] = []
    /// Lookup hash of each key by id (kept so growing the index needs no rehash of the bytes).
    private var hashes: [UInt64] = []
    /// Open-addressing index: an id, or -1 for an empty slot; its size is a power of two, at most half full.
    private var index: [Int32]
    /// Per-process seed, so colliding keys cannot be precomputed offline.
    private let seed: UInt64

    /// An empty table that interns up to `maxKeys` keys.
    public init(maxKeys: Int = 1 << 22) {
        self.maxKeys = max(0, min(maxKeys, Int(Int32.max)))
        index = [Int32](repeating: -1, count: 1024)
        seed = UInt64.random(in: .min ... .max)
    }

    /// Number of interned keys.
    public var count: Int { keys.count }

    /// The interned key for `n` bytes at `p` (already validated as UTF-8 by the caller) and its id; a new key
    /// gets the next id, or `Point.noSeriesID` when the table is full.
    public func intern(_ p: UnsafePointer<UInt8>, _ n: Int) -> (key: String, id: UInt32) {
        let h = lookupHash(p, n)
        let mask = index.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(index[slot])
            if e < 0 { break }
            if hashes[e] == h && Self.equal(keys[e], p, n) { return (keys[e], UInt32(e)) }
            slot = (slot + 1) & mask
        }
        let key = String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
        guard keys.count < maxKeys else { return (key, Point.noSeriesID) }
        let id = keys.count
        keys.append(key)
        hashes.append(h)
        routes.append(stableHash(p, n))
        index[slot] = Int32(id)
        if keys.count * 2 > index.count { grow() }
        return (key, UInt32(id))
    }

    private func grow() {
        let size = index.count * 2
        let mask = size - 1
        var fresh = [Int32](repeating: -1, count: size)
        for (id, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h) & mask
            while fresh[slot] >= 0 { slot = (slot + 1) & mask }
            fresh[slot] = Int32(id)
        }
        index = fresh
    }

    @inline(__always)
    private static func equal(_ key: String, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var key = key
        return key.withUTF8 { stored in
            guard stored.count == n, let base = stored.baseAddress else { return stored.count == n }
            return memcmp(base, p, n) == 0
        }
    }

    /// A multiply-xorshift hash, 8 bytes per round: several times faster than byte-wise FNV on typical keys.
    @inline(__always)
    private func lookupHash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        let raw = UnsafeRawPointer(p)
        var h = seed ^ (UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
        var i = 0
        while i + 8 <= n {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        return h ^ (h >> 29)
    }
}

/// Which of `count` shards owns a series: the one routing rule. Ingest routes by the key table's cached hash,
/// the restore at start and the benchmarks' preload by the key; all three agree because all three ask this.
public struct ShardRouter: Sendable {
    /// Number of shards (at least 1).
    public let count: Int
    @usableFromInline let divisor: UInt64

    public init(count: Int) {
        self.count = max(1, count)
        divisor = UInt64(self.count)
    }

    /// The shard of a key whose `stableHash` is `hash`.
    @inlinable
    public func shard(forHash hash: UInt64) -> Int { Int(hash % divisor) }

    /// The shard of a key.
    public func shard(for key: String) -> Int { shard(forHash: stableHash(key)) }

    /// The shard of a parsed point: the hash `keys` cached when it interned the key, else the key's own.
    @inlinable
    public func shard(for point: Point, keys: SeriesKeyTable) -> Int {
        shard(forHash: point.seriesID == Point.noSeriesID ? stableHash(point.key) : keys.routes[Int(point.seriesID)])
    }
}

/// FNV-1a over a key's UTF-8 bytes, finished with MurmurHash3's 64-bit mixer: the shard a series belongs to.
/// Stable across processes and runs (Swift's `Hasher` is seeded per process), so restored series and live points
/// agree on their shard. The mixer matters: FNV-1a's low bit is only the parity of the bytes' low bits, so
/// `hash % shards` alone would split similar keys unevenly.
@inline(__always)
public func stableHash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for i in 0..<n {
        h ^= UInt64(p[i])
        h = h &* 0x100_0000_01b3
    }
    return fmix64(h)
}

@inline(__always)
func fmix64(_ x: UInt64) -> UInt64 {
    var h = x
    h ^= h >> 33
    h = h &* 0xff51_afd7_ed55_8ccd
    h ^= h >> 33
    h = h &* 0xc4ce_b9fe_1a85_ec53
    return h ^ (h >> 33)
}

/// `stableHash` of a key given as a String.
public func stableHash(_ key: String) -> UInt64 {
    var key = key
    return key.withUTF8 { bytes in
        guard let base = bytes.baseAddress else { return fmix64(0xcbf2_9ce4_8422_2325) }  // the empty key
        return stableHash(base, bytes.count)
    }
}
