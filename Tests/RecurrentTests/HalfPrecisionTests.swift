@testable import Recurrent
import Testing

struct HalfPrecisionTests {
    /// Master weights in half precision come back within half a unit in the last place (2^-11 relative) of each
    /// Float32 weight, and their blob round-trips exactly.
    @Test func halfPrecisionMasterRoundTrip() throws {
        let shape = ModelShape(cell: .lstm, inputSize: 5, hiddenSize: 32, gaussianHead: true)
        let model = RecurrentModel(shape: shape, seed: 7)
        let half = HalfPrecisionModel(model)
        #expect(half.byteCount == 2 * model.parameters.count)
        let back = half.expanded()
        #expect(back.shape == shape)
        for (x, y) in zip(model.parameters, back.parameters) {
            #expect(abs(x - y) <= abs(x) * 0x1p-11 + 0x1p-25, "\(x) came back as \(y)")
        }
        let blob = half.serialized()
        #expect(blob.first == HalfPrecisionModel.blobVersion)
        #expect(blob.count == 16 + 2 * model.parameters.count)
        #expect(try HalfPrecisionModel(serialized: blob) == half)
        // A Float32 (version 1) blob reads as the same rounding.
        #expect(try HalfPrecisionModel(serialized: model.serialized()) == half)
        // Truncated or corrupt blobs are refused.
        #expect(throws: RecurrentError.self) { try HalfPrecisionModel(serialized: Array(blob.dropLast())) }
        var bad = blob
        bad[0] = 9
        #expect(throws: RecurrentError.self) { try HalfPrecisionModel(serialized: bad) }
    }

    /// The portable conversion rounds exactly as the hardware Float16 does, subnormals and ties included.
    @Test func portableHalfBitsMatchFloat16() {
        var values: [Float] = [0, -0.0, 1, -1, 0.1, 65504, 70000, -70000, 1e-8, 6e-5, 5.96e-8, 2.98e-8, 1.00048828125, 1.000732421875]
        var x: Float = 1e-7
        while x < 6e4 {
            values.append(x)
            values.append(-x * 1.37)
            x *= 1.013
        }
        for v in values {
            #expect(RecurrentModel.portableHalfBits(v) == HalfPrecisionModel.halfBits(v), "\(v)")
        }
    }

    /// The stepping weights stored in a checkpoint come back identical (int8: the same bytes; Float32: the same
    /// weights), so a restored series steps exactly as before.
    @Test func steppingWeightsRoundTrip() throws {
        let shape = ModelShape(cell: .lstm, inputSize: 5, hiddenSize: 32, gaussianHead: true)
        let model = RecurrentModel(shape: shape, seed: 3)
        for precision in [InferencePrecision.int8, .float32] {
            let copy = InferenceModel(model, precision: precision)
            let back = try #require(try InferenceModel(serialized: copy.serialized()))
            #expect(back == copy, "\(precision)")
        }
        #expect(try InferenceModel(serialized: []) == nil)
        var bad = InferenceModel(model, precision: .int8).serialized()
        bad.removeLast()
        #expect(throws: RecurrentError.self) { try InferenceModel(serialized: bad) }
    }
}
