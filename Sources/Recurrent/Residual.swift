// What the int8 stepping copy rounded away from a model's gate weights, to 1/254 of a quantisation step: one
// more byte per gate weight (4.7 KB at LSTM hidden 32). A series keeps its int8 stepping copy and this residual
// between trainings instead of master weights (half precision took 9.9 KB): the copy and the residual give the
// gate weights back to 1/64,516 of their column's largest (a 16-bit fixed point per column, finer than a half's
// 2^-11 relative rounding for every weight above 1/32 of the column's largest), which is what the next training
// warm-starts from. Biases and head need no residual: the int8 copy keeps them in half precision (as the master
// weights did) and Float32.
//
// A warm start from the int8 copy alone (no residual) was measured: NAB's cross-validated standard score fell by
// 0.65 (3-seed mean), more than the 0.5 the compact-state work allows (docs/detection-variants.md).
//
// Blob (checkpoints): the model blob's 16-byte header (Serialization.swift) with version 4, parameter count = the
// number of gate weights, then one signed byte per gate weight in parameter order.

/// The int8 stepping copy's rounding of each gate weight, in 1/254 of its column's quantisation step.
public struct QuantizationResidual: Sendable, Equatable {
    public let shape: ModelShape
    /// One code per gate weight (wx then wh, parameter order): (w − q·s) / s · 254, rounded, in [−127, 127].
    let codes: [Int8]

    /// The residual's resolution: codes per quantisation step.
    static let steps: Float = 254

    /// What `quantized` rounded away from `model`'s gate weights; nil when the shapes differ.
    public init?(_ model: RecurrentModel, quantized: QuantizedRecurrentModel) {
        let l = Layout(model.shape)
        guard model.shape == quantized.shape, model.parameters.count == l.count else { return nil }
        let p = model.parameters
        var codes = [Int8](repeating: 0, count: l.bx)
        quantized.forEachGateWeight { index, code, scale in
            guard scale > 0 else { return }
            let r = ((p[index] / scale - Float(code)) * Self.steps).rounded(.toNearestOrAwayFromZero)
            codes[index] = Int8(r.isFinite ? max(-127, min(127, r)) : 0)
        }
        shape = model.shape
        self.codes = codes
    }

    /// Bytes held.
    public var byteCount: Int { codes.count }

    /// The blob version of a residual.
    public static let blobVersion: UInt8 = 4

    /// Version-4 blob: the model header, then one byte per gate weight.
    public func serialized() -> [UInt8] {
        var out = RecurrentModel.blobHeader(shape: shape, count: codes.count, version: Self.blobVersion)
        out.reserveCapacity(out.count + codes.count)
        for c in codes { out.append(UInt8(bitPattern: c)) }
        return out
    }

    /// Reads `serialized()`.
    public init(serialized b: [UInt8]) throws(RecurrentError) {
        guard let version = b.first else { throw .truncated(expected: RecurrentModel.headerSize, found: 0) }
        guard version == Self.blobVersion else { throw .badVersion(found: version, expected: Self.blobVersion) }
        let (shape, count) = try RecurrentModel.decodeHeaderShape(b)
        let gateWeights = Layout(shape).bx
        guard count == gateWeights else { throw .badShape("\(count) residual codes for \(gateWeights) gate weights") }
        let expectedBytes = RecurrentModel.headerSize + count
        guard b.count >= expectedBytes else { throw .truncated(expected: expectedBytes, found: b.count) }
        guard b.count == expectedBytes else {
            throw .badShape("\(b.count - expectedBytes) unexpected bytes after the residual")
        }
        var codes = [Int8](repeating: 0, count: count)
        for i in 0..<count {
            let c = Int8(bitPattern: b[RecurrentModel.headerSize + i])
            guard c != -128 else { throw .badShape("residual code \(i) out of range") }
            codes[i] = c
        }
        self.shape = shape
        self.codes = codes
    }
}
