// Weights blob for checkpoints (no optimizer state). Little-endian, 16-byte header:
//
//   0     version (1)
//   1     cell: 0 lstm, 1 gru, 2 rnn
//   2     flags: bit 0 = Gaussian head
//   3     reserved, 0
//   4..<8   inputSize  UInt32
//   8..<12  hiddenSize UInt32
//   12..<16 parameter count UInt32
//   16...   parameters, Float32 bit patterns

extension RecurrentModel {
    /// The blob format this build writes and reads.
    public static let blobVersion: UInt8 = 1
    static let headerSize = 16
    /// Largest input or hidden size a blob may claim (guards against allocating from a corrupt header).
    static let maxBlobDimension = 4096

    func encodeBlob() -> [UInt8] {
        var out = Self.blobHeader(shape: shape, count: parameters.count, version: Self.blobVersion)
        out.reserveCapacity(Self.headerSize + 4 * parameters.count)
        for p in parameters {
            let v = p.bitPattern
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
        }
        return out
    }

    /// The 16-byte header of a weights blob (shared by the Float32 and the half-precision versions).
    static func blobHeader(shape: ModelShape, count: Int, version: UInt8) -> [UInt8] {
        var out = [UInt8]()
        out.append(version)
        out.append(cellCode(shape.cell))
        out.append(shape.gaussianHead ? 1 : 0)
        out.append(0)
        func put(_ v: UInt32) {
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
        }
        put(UInt32(clamping: shape.inputSize))
        put(UInt32(clamping: shape.hiddenSize))
        put(UInt32(clamping: count))
        return out
    }

    static func decodeBlob(_ b: [UInt8]) throws(RecurrentError) -> (ModelShape, [Float]) {
        guard let version = b.first else { throw .truncated(expected: headerSize, found: 0) }
        guard version == blobVersion else { throw .badVersion(found: version, expected: blobVersion) }
        let (shape, count) = try decodeHeader(b)
        let expectedBytes = headerSize + 4 * count
        guard b.count >= expectedBytes else { throw .truncated(expected: expectedBytes, found: b.count) }
        guard b.count == expectedBytes else {
            throw .badShape("\(b.count - expectedBytes) unexpected bytes after the parameters")
        }
        func get(_ at: Int) -> UInt32 {
            UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
        }
        var params = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let v = Float(bitPattern: get(headerSize + 4 * i))
            guard v.isFinite else { throw .badShape("parameter \(i) is not a finite number") }
            params[i] = v
        }
        return (shape, params)
    }

    /// The shape and parameter count of a blob's header (any version), checked against each other.
    static func decodeHeader(_ b: [UInt8]) throws(RecurrentError) -> (ModelShape, Int) {
        let (shape, count) = try decodeHeaderShape(b)
        let expectedCount = parameterCount(for: shape)
        guard count == expectedCount else {
            throw .badShape("\(count) parameters where a \(shape.cell.rawValue) with input \(shape.inputSize), hidden \(shape.hiddenSize) has \(expectedCount)")
        }
        return (shape, count)
    }

    /// The header's shape and count, the count not checked against the shape (blobs that hold part of a model).
    static func decodeHeaderShape(_ b: [UInt8]) throws(RecurrentError) -> (ModelShape, Int) {
        guard b.count >= headerSize else { throw .truncated(expected: headerSize, found: b.count) }
        func get(_ at: Int) -> UInt32 {
            UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
        }
        let cell: CellKind
        switch b[1] {
        case 0: cell = .lstm
        case 1: cell = .gru
        case 2: cell = .rnn
        default: throw .badShape("unknown cell code \(b[1])")
        }
        guard b[2] <= 1, b[3] == 0 else { throw .badShape("unknown flags \(b[2]) \(b[3])") }
        let inputSize = Int(get(4)), hiddenSize = Int(get(8)), count = Int(get(12))
        guard (1...maxBlobDimension).contains(inputSize) else {
            throw .badShape("input size \(inputSize) is outside 1...\(maxBlobDimension)")
        }
        guard (1...maxBlobDimension).contains(hiddenSize) else {
            throw .badShape("hidden size \(hiddenSize) is outside 1...\(maxBlobDimension)")
        }
        return (ModelShape(cell: cell, inputSize: inputSize, hiddenSize: hiddenSize, gaussianHead: b[2] == 1), count)
    }

    static func cellCode(_ c: CellKind) -> UInt8 {
        switch c {
        case .lstm: return 0
        case .gru: return 1
        case .rnn: return 2
        }
    }
}
