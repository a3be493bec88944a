// Master weights in IEEE half precision: half the bytes of Float32 (9.9 KB instead of 19.7 at LSTM hidden 32).
// Series kept them between trainings up to checkpoint version 5; they now keep the int8 stepping copy and its
// residual instead (Residual.swift), and half-precision masters are only read from version-5 checkpoints (to
// take the residual against them, or to derive a stepping copy the blob lacks). A half keeps 11 significant bits
// (relative rounding 2^-11 ≈ 4.9e-4, a tenth of the int8 copy's own error); weights below 2^-14 lose relative
// precision (subnormals) and magnitudes are clamped to the half range (±65504), far beyond any trained weight.
//
// Blob (checkpoints): the Float32 blob's 16-byte header (Serialization.swift) with version 2, then the
// parameters as half-precision bit patterns. `init(serialized:)` also reads the Float32 version 1.

/// A model's weights stored in half precision; `expanded()` gives the Float32 model back (rounded).
public struct HalfPrecisionModel: Sendable, Equatable {
    public let shape: ModelShape
    /// Half-precision bit patterns of `RecurrentModel.parameters`, same layout.
    public let bits: [UInt16]

    /// Rounds each weight of `model` to the nearest half (ties to even).
    public init(_ model: RecurrentModel) {
        shape = model.shape
        bits = model.parameters.map { Self.halfBits($0) }
    }

    /// Weights already in half precision (count must match the shape).
    public init(shape: ModelShape, bits: [UInt16]) {
        precondition(bits.count == RecurrentModel.parameterCount(for: shape), "parameter count does not match the shape")
        self.shape = shape
        self.bits = bits
    }

    /// The Float32 model these weights stand for.
    public func expanded() -> RecurrentModel {
        RecurrentModel(shape: shape, parameters: bits.map { halfToFloat($0) })
    }

    /// Bytes of weights held.
    public var byteCount: Int { 2 * bits.count }

    /// Half-precision bits of `f`, round to nearest even, clamped to the finite half range.
    static func halfBits(_ f: Float) -> UInt16 {
        #if arch(x86_64) || arch(arm64)
        let clamped = f.isNaN ? 0 : max(-65504, min(65504, f))
        return Float16(clamped).bitPattern
        #else
        return RecurrentModel.portableHalfBits(f)
        #endif
    }

    /// The blob version of half-precision weights.
    public static let blobVersion: UInt8 = 2

    /// Version-2 blob: the model header, then 2 bytes per parameter.
    public func serialized() -> [UInt8] {
        var out = RecurrentModel.blobHeader(shape: shape, count: bits.count, version: Self.blobVersion)
        out.reserveCapacity(out.count + 2 * bits.count)
        for b in bits {
            out.append(UInt8(truncatingIfNeeded: b))
            out.append(UInt8(truncatingIfNeeded: b >> 8))
        }
        return out
    }

    /// Reads a version-2 blob, or a Float32 version-1 blob (older checkpoints), rounding it to half precision.
    public init(serialized b: [UInt8]) throws(RecurrentError) {
        guard let version = b.first else { throw .truncated(expected: RecurrentModel.headerSize, found: 0) }
        if version == RecurrentModel.blobVersion {
            self.init(try RecurrentModel(serialized: b))
            return
        }
        guard version == Self.blobVersion else { throw .badVersion(found: version, expected: Self.blobVersion) }
        let (shape, count) = try RecurrentModel.decodeHeader(b)
        let expectedBytes = RecurrentModel.headerSize + 2 * count
        guard b.count >= expectedBytes else { throw .truncated(expected: expectedBytes, found: b.count) }
        guard b.count == expectedBytes else {
            throw .badShape("\(b.count - expectedBytes) unexpected bytes after the parameters")
        }
        var bits = [UInt16](repeating: 0, count: count)
        for i in 0..<count {
            let v = UInt16(b[RecurrentModel.headerSize + 2 * i]) | UInt16(b[RecurrentModel.headerSize + 2 * i + 1]) << 8
            guard v & 0x7C00 != 0x7C00 else { throw .badShape("parameter \(i) is not a finite number") }
            bits[i] = v
        }
        self.init(shape: shape, bits: bits)
    }
}

extension RecurrentModel {
    /// Round-to-nearest-even Float → half bits without the Float16 type (platforms that lack it).
    static func portableHalfBits(_ f: Float) -> UInt16 {
        let x = f.isNaN ? 0 : max(-65504, min(65504, f))
        let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
        let a = abs(x)
        if a < 0x1p-24 / 2 { return sign }
        if a < 0x1p-14 { return sign | UInt16((a * 0x1p24).rounded(.toNearestOrEven)) }
        let e = Int(a.exponent)
        var m = ((a / Float(sign: .plus, exponent: e, significand: 1) - 1) * 1024).rounded(.toNearestOrEven)
        var ee = e + 15
        if m >= 1024 { m = 0; ee += 1 }
        return sign | UInt16(ee) << 10 | UInt16(m)
    }
}
