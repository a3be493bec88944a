/// Why a detector checkpoint could not be restored.
public struct CheckpointError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Little-endian writer for checkpoint blobs.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func int(_ v: Int) { u64(UInt64(bitPattern: Int64(v))) }
    public mutating func double(_ v: Double) { u64(v.bitPattern) }
    public mutating func float(_ v: Float) { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }

    /// A length-prefixed byte string.
    public mutating func blob(_ v: [UInt8]) {
        int(v.count)
        bytes.append(contentsOf: v)
    }

    public mutating func string(_ v: String) { blob(Array(v.utf8)) }

    public mutating func floats(_ v: [Float]) {
        int(v.count)
        for x in v { float(x) }
    }

    public mutating func doubles(_ v: [Double]) {
        int(v.count)
        for x in v { double(x) }
    }
}

/// Little-endian reader for checkpoint blobs; every read checks the length.
public struct ByteReader: Sendable {
    private let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { offset == bytes.count }

    /// Bytes not read yet.
    public var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int) throws(CheckpointError) -> ArraySlice<UInt8> {
        guard n >= 0, offset + n <= bytes.count else {
            throw CheckpointError("checkpoint is truncated at byte \(offset) (needs \(n) more, has \(bytes.count - offset))")
        }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    public mutating func u8() throws(CheckpointError) -> UInt8 { try take(1).first ?? 0 }

    public mutating func u16() throws(CheckpointError) -> UInt16 {
        var v: UInt16 = 0
        for (i, b) in try take(2).enumerated() { v |= UInt16(b) << (8 * UInt16(i)) }
        return v
    }

    public mutating func u64() throws(CheckpointError) -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(8).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    public mutating func int() throws(CheckpointError) -> Int { Int(Int64(bitPattern: try u64())) }
    public mutating func double() throws(CheckpointError) -> Double { Double(bitPattern: try u64()) }

    public mutating func float() throws(CheckpointError) -> Float {
        var v: UInt32 = 0
        for (i, b) in try take(4).enumerated() { v |= UInt32(b) << (8 * UInt32(i)) }
        return Float(bitPattern: v)
    }

    public mutating func bool() throws(CheckpointError) -> Bool { try u8() != 0 }

    private mutating func count(max: Int) throws(CheckpointError) -> Int {
        let n = try int()
        guard n >= 0, n <= max else { throw CheckpointError("checkpoint has an implausible length \(n) at byte \(offset)") }
        return n
    }

    public mutating func blob() throws(CheckpointError) -> [UInt8] { Array(try take(try count(max: bytes.count))) }

    public mutating func string() throws(CheckpointError) -> String {
        guard let s = String(validating: try blob(), as: UTF8.self) else { throw CheckpointError("checkpoint holds invalid UTF-8") }
        return s
    }

    public mutating func floats() throws(CheckpointError) -> [Float] {
        let n = try count(max: bytes.count / 4)
        var out: [Float] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try float()) }
        return out
    }

    public mutating func doubles() throws(CheckpointError) -> [Double] {
        let n = try count(max: bytes.count / 8)
        var out: [Double] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try double()) }
        return out
    }
}
