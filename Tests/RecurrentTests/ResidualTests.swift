@testable import Recurrent
import Testing

struct ResidualTests {
    static let shapes = [
        ModelShape(cell: .lstm, inputSize: 5, hiddenSize: 32, gaussianHead: true),
        ModelShape(cell: .gru, inputSize: 5, hiddenSize: 16, gaussianHead: true),
        ModelShape(cell: .rnn, inputSize: 3, hiddenSize: 16, gaussianHead: false),
    ]

    /// The int8 copy and its residual give every gate weight back to 1/254 of its column's quantisation step, and
    /// overall closer than the half-precision master weights they replace; biases come back as their halves (as
    /// the masters kept them), the head exactly.
    @Test(arguments: shapes)
    func residualRestoresTheWeightsFinerThanHalfPrecision(shape: ModelShape) throws {
        let model = RecurrentModel(shape: shape, seed: 11)
        let q = try #require(QuantizedRecurrentModel(model))
        let residual = try #require(QuantizationResidual(model, quantized: q))
        let l = Layout(shape)
        #expect(residual.byteCount == l.bx)
        let back = q.dequantized(residual: residual), coarse = q.dequantized()
        let half = HalfPrecisionModel(model).expanded()
        var errorFine = 0.0, errorHalf = 0.0, errorCoarse = 0.0
        for j in 0..<(l.inputs + l.hidden) {
            let rows = j < l.inputs ? 0..<l.inputs : l.inputs..<(l.inputs + l.hidden)
            for o in 0..<l.gh {
                let largest = rows.map { abs(model.parameters[$0 * l.gh + o]) }.max() ?? 0
                let i = j * l.gh + o, w = model.parameters[i]
                // Scale s ≈ largest/127 (rounded to a half): error ≤ s/508, with room for the rounding.
                #expect(abs(back.parameters[i] - w) <= largest / 127 / 508 * 1.01 + 1e-9, "weight \(j), \(o)")
                errorFine += Double((back.parameters[i] - w) * (back.parameters[i] - w))
                errorHalf += Double((half.parameters[i] - w) * (half.parameters[i] - w))
                errorCoarse += Double((coarse.parameters[i] - w) * (coarse.parameters[i] - w))
            }
        }
        #expect(errorFine < errorHalf, "squared error \(errorFine) with the residual, \(errorHalf) in half precision")
        #expect(errorHalf < errorCoarse)
        for i in l.bx..<l.headW { #expect(back.parameters[i] == half.parameters[i], "bias \(i)") }
        for i in l.headW..<l.count { #expect(back.parameters[i] == model.parameters[i], "head \(i)") }
    }

    /// Re-quantising the int8 copy's own expansion gives the same copy (what a precision change or `omen plot`'s
    /// replica derives), and an expanded bfloat16 copy gives the same bfloat16 copy.
    @Test(arguments: shapes)
    func expandedCopiesRequantiseToThemselves(shape: ModelShape) {
        let model = RecurrentModel(shape: shape, seed: 5)
        for precision in [InferencePrecision.int8, .bfloat16, .float32] {
            let copy = InferenceModel(model, precision: precision)
            #expect(InferenceModel(copy.expanded(), precision: precision) == copy, "\(precision)")
        }
    }

    /// The residual's blob round-trips; a truncated one, one for another shape's weight count and one with the
    /// unused code -128 are refused.
    @Test func residualBlobRoundTrip() throws {
        let shape = Self.shapes[0]
        let model = RecurrentModel(shape: shape, seed: 3)
        let q = try #require(QuantizedRecurrentModel(model))
        let residual = try #require(QuantizationResidual(model, quantized: q))
        let blob = residual.serialized()
        #expect(blob.first == QuantizationResidual.blobVersion)
        #expect(blob.count == RecurrentModel.headerSize + residual.byteCount)
        #expect(try QuantizationResidual(serialized: blob) == residual)
        #expect(throws: RecurrentError.self) { try QuantizationResidual(serialized: Array(blob.dropLast())) }
        #expect(throws: RecurrentError.self) { try QuantizationResidual(serialized: blob + [0]) }
        var wrongCount = blob
        wrongCount[12] &+= 1
        #expect(throws: RecurrentError.self) { try QuantizationResidual(serialized: wrongCount) }
        var badCode = blob
        badCode[RecurrentModel.headerSize] = 0x80
        #expect(throws: RecurrentError.self) { try QuantizationResidual(serialized: badCode) }
        #expect(throws: RecurrentError.self) { try QuantizationResidual(serialized: model.serialized()) }
    }
}
