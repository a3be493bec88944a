import Testing
@testable import Recurrent

@Suite struct SerializationTests {
    /// A blob read back gives the same shape and bit-identical weights, for every cell and head.
    @Test(arguments: CellKind.allCases, [true, false])
    func roundTrip(cell: CellKind, gaussian: Bool) throws {
        let model = RecurrentModel(shape: ModelShape(cell: cell, inputSize: 4, hiddenSize: 9, gaussianHead: gaussian),
                                   seed: 12)
        let blob = model.serialized()
        #expect(blob.count == 16 + 4 * RecurrentModel.parameterCount(for: model.shape))
        let back = try RecurrentModel(serialized: blob)
        #expect(back == model)
    }

    /// A blob of another format version is rejected as such.
    @Test func wrongVersionRejected() {
        var blob = RecurrentModel(shape: ModelShape(inputSize: 1, hiddenSize: 4), seed: 1).serialized()
        blob[0] = 99
        #expect(throws: RecurrentError.badVersion(found: 99, expected: 1)) { try RecurrentModel(serialized: blob) }
    }

    /// A truncated blob (header or parameters cut) is rejected with the sizes involved.
    @Test func truncatedRejected() {
        let blob = RecurrentModel(shape: ModelShape(inputSize: 1, hiddenSize: 4), seed: 1).serialized()
        #expect(throws: RecurrentError.truncated(expected: blob.count, found: blob.count - 3)) {
            try RecurrentModel(serialized: Array(blob.dropLast(3)))
        }
        #expect(throws: RecurrentError.truncated(expected: 16, found: 5)) { try RecurrentModel(serialized: Array(blob.prefix(5))) }
        #expect(throws: RecurrentError.truncated(expected: 16, found: 0)) { try RecurrentModel(serialized: []) }
    }

    /// A blob whose header disagrees with its parameters (wrong count, unknown cell, zero size, trailing bytes,
    /// non-finite weight) is rejected as a bad shape with a readable reason.
    @Test func badShapeRejected() {
        let good = RecurrentModel(shape: ModelShape(inputSize: 2, hiddenSize: 4), seed: 1).serialized()
        var wrongHidden = good
        wrongHidden[8] = 5
        var unknownCell = good
        unknownCell[1] = 7
        var zeroInput = good
        zeroInput[4] = 0
        var nonFinite = good
        for i in 0..<4 { nonFinite[16 + i] = [0x00, 0x00, 0xC0, 0x7F][i] }
        for bad in [wrongHidden, unknownCell, zeroInput, good + [0, 0, 0, 0], nonFinite] {
            do {
                _ = try RecurrentModel(serialized: bad)
                Issue.record("accepted a bad blob")
            } catch {
                guard case .badShape(let why) = error else {
                    Issue.record("wrong error \(error)")
                    continue
                }
                #expect(!why.isEmpty)
                #expect(error.description.hasPrefix("model blob has an invalid shape"))
            }
        }
    }

    /// The parameter count is what the layout says: 4H(I+H+1) + 2H + 2 for an LSTM with a Gaussian head.
    @Test func parameterCountFormula() {
        #expect(RecurrentModel.parameterCount(for: ModelShape(cell: .lstm, inputSize: 5, hiddenSize: 32)) == 4 * 32 * 38 + 66)
        #expect(RecurrentModel.parameterCount(for: ModelShape(cell: .gru, inputSize: 5, hiddenSize: 32, gaussianHead: false))
            == 3 * 32 * 39 + 33)
        #expect(RecurrentModel.parameterCount(for: ModelShape(cell: .rnn, inputSize: 1, hiddenSize: 4)) == 4 * 6 + 10)
    }

    /// The initialiser is deterministic in the seed, sets the LSTM forget bias to 1 and makes each recurrent
    /// gate block orthogonal.
    @Test func initialisation() {
        let shape = ModelShape(cell: .lstm, inputSize: 3, hiddenSize: 6)
        let m = RecurrentModel(shape: shape, seed: 77)
        #expect(m == RecurrentModel(shape: shape, seed: 77))
        let l = Layout(shape)
        #expect((0..<6).allSatisfy { m.parameters[l.bx + 6 + $0] == 1 })
        for g in 0..<4 {
            for a in 0..<6 {
                for b in 0..<6 {
                    // columns of the stored block are rows of Q: their dot products form the identity.
                    var d: Float = 0
                    for j in 0..<6 { d += m.parameters[l.wh + j * l.gh + g * 6 + a] * m.parameters[l.wh + j * l.gh + g * 6 + b] }
                    #expect(abs(d - (a == b ? 1 : 0)) < 1e-5)
                }
            }
        }
    }
}

@Suite struct CompactModelTests {
    /// The bfloat16 inference copy tracks the Float32 model (predictions and state within 0.03 over 300 steps)
    /// for every cell, and refuses shapes whose hidden size is not a multiple of 16.
    @Test(arguments: CellKind.allCases)
    func compactTracksFloat32(cell: CellKind) throws {
        let shape = ModelShape(cell: cell, inputSize: 5, hiddenSize: 32)
        let model = RecurrentModel(shape: shape, seed: 21)
        let compact = try #require(CompactRecurrentModel(model))
        var rng = SeededGenerator(seed: 4)
        let worst = worstTrackingError(model, .bfloat16(compact), steps: 300, rng: &rng)
        #expect(worst < 0.03)
        #expect(worst > 0) // it is a different (rounded) model, not an alias of the Float32 one
        #expect(CompactRecurrentModel(RecurrentModel(shape: ModelShape(cell: cell, inputSize: 5, hiddenSize: 20), seed: 1)) == nil)
    }

    /// bfloat16 rounding is round-to-nearest-even on the bit pattern.
    @Test func bfloat16Rounding() {
        #expect(bfloat16Bits(1.0) == 0x3F80)
        #expect(bfloat16Bits(-2.0) == 0xC000)
        #expect(bfloat16Bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80) // tie → even
        #expect(bfloat16Bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82) // tie → even (up)
        #expect(bfloat16Bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
    }
}
