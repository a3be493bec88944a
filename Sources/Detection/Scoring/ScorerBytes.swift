// Little-endian byte encoding for scorer checkpoints: fixed widths, no Foundation, so a blob written on one
// machine restores on another and a truncated blob is detected instead of read past its end.

/// Appends fixed-width little-endian fields.
struct ScorerByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    mutating func u64(_ v: UInt64) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    mutating func int(_ v: Int) { u64(UInt64(bitPattern: Int64(v))) }
    mutating func double(_ v: Double) { u64(v.bitPattern) }
    mutating func float(_ v: Float) { u64(UInt64(v.bitPattern)) }
}

/// Reads what `ScorerByteWriter` wrote, failing with a user-facing error on truncation.
struct ScorerByteReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    private mutating func need(_ n: Int) throws(ScorerRestoreError) {
        guard offset + n <= bytes.count else {
            throw ScorerRestoreError("scorer checkpoint is truncated (\(bytes.count) bytes); the series will recalibrate")
        }
    }

    mutating func u8() throws(ScorerRestoreError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(ScorerRestoreError) -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    mutating func u64() throws(ScorerRestoreError) -> UInt64 {
        try need(8)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }

    mutating func int() throws(ScorerRestoreError) -> Int { Int(Int64(bitPattern: try u64())) }
    mutating func double() throws(ScorerRestoreError) -> Double { Double(bitPattern: try u64()) }
    mutating func float() throws(ScorerRestoreError) -> Float { Float(bitPattern: UInt32(truncatingIfNeeded: try u64())) }
}
