// The stepping weights in a checkpoint, so that a restored series steps with exactly the copy it had (an int8
// copy re-quantised from half-precision master weights would differ in a few weights by one step).
//
// Blob: one tag byte (0 Float32, 1 int8, 2 bfloat16), then for Float32 the model blob (Serialization.swift), for
// int8 the model blob's 16-byte header (version 3, parameter count = storage bytes), the scale unit (Float32
// bits) and the storage bytes; bfloat16 copies have no blob (a detector checkpoint stores the Float32 weights
// they expand to, from which the same bfloat16 copy is derived again).

extension InferenceModel {
    /// The blob version of int8 stepping weights.
    static let int8BlobVersion: UInt8 = 3

    /// The stepping weights as bytes (empty for a bfloat16 copy: store `.float32(expanded())` instead).
    public func serialized() -> [UInt8] {
        switch self {
        case .float32(let m):
            return [0] + m.serialized()
        case .int8(let m):
            let (unit, bytes) = m.storageBytes
            var out: [UInt8] = [1]
            out += RecurrentModel.blobHeader(shape: m.shape, count: bytes.count, version: Self.int8BlobVersion)
            let u = unit.bitPattern
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: u >> (8 * UInt32(i)))) }
            out += bytes
            return out
        case .bfloat16:
            return []
        }
    }

    /// Reads `serialized()`; nil for an empty blob (no weights, or a bfloat16 copy of an older checkpoint).
    public init?(serialized b: [UInt8]) throws(RecurrentError) {
        guard let tag = b.first else { return nil }
        let rest = Array(b.dropFirst())
        switch tag {
        case 0:
            self = .float32(try RecurrentModel(serialized: rest))
        case 1:
            guard let version = rest.first else { throw .truncated(expected: RecurrentModel.headerSize, found: 0) }
            guard version == Self.int8BlobVersion else { throw .badVersion(found: version, expected: Self.int8BlobVersion) }
            guard rest.count >= RecurrentModel.headerSize + 4 else {
                throw .truncated(expected: RecurrentModel.headerSize + 4, found: rest.count)
            }
            func get(_ at: Int) -> UInt32 {
                UInt32(rest[at]) | UInt32(rest[at + 1]) << 8 | UInt32(rest[at + 2]) << 16 | UInt32(rest[at + 3]) << 24
            }
            guard rest[1] == 0 || rest[1] == 1 || rest[1] == 2, rest[2] <= 1 else { throw .badShape("unknown cell or flags") }
            let cell: CellKind = rest[1] == 0 ? .lstm : (rest[1] == 1 ? .gru : .rnn)
            let inputSize = Int(get(4)), hiddenSize = Int(get(8)), count = Int(get(12))
            guard (1...RecurrentModel.maxBlobDimension).contains(inputSize),
                  (1...RecurrentModel.maxBlobDimension).contains(hiddenSize) else {
                throw .badShape("input size \(inputSize) or hidden size \(hiddenSize) out of range")
            }
            let shape = ModelShape(cell: cell, inputSize: inputSize, hiddenSize: hiddenSize, gaussianHead: rest[2] == 1)
            let unit = Float(bitPattern: get(16))
            let bytes = Array(rest.dropFirst(RecurrentModel.headerSize + 4))
            guard bytes.count == count,
                  let m = QuantizedRecurrentModel(shape: shape, unit: unit, storageBytes: bytes) else {
                throw .badShape("int8 stepping weights do not match a \(cell.rawValue) with input \(inputSize), hidden \(hiddenSize)")
            }
            self = .int8(m)
        default:
            throw .badShape("unknown stepping weights tag \(tag)")
        }
    }
}

extension InferencePrecision {
    /// The precision `InferenceModel(_:precision:)` gives a model of `shape` when asked for this one (Float32
    /// when the shape has no compact form).
    public func effective(for shape: ModelShape) -> InferencePrecision {
        switch self {
        case .float32: return .float32
        case .bfloat16: return CompactRecurrentModel.supports(shape) ? .bfloat16 : .float32
        case .int8: return QuantizedRecurrentModel.supports(shape) ? .int8 : .float32
        }
    }
}
