extension ByteWriter {
    /// An unsigned LEB128 varint: 7 bits per byte, low bits first (1 byte below 128, 3 below 2^21).
    public mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            u8(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        u8(UInt8(v))
    }
}

extension ByteReader {
    /// Reads `ByteWriter.varint`; more than ten bytes is an error.
    public mutating func varint() throws(CheckpointError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while shift < 64 {
            let b = try u8()
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
        throw CheckpointError("checkpoint has a malformed varint")
    }
}
