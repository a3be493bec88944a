// Where each weight lives in `RecurrentModel.parameters`.
//
// Gate matrices are stored "column-panel" (input-major): row j of Wx holds the contribution of input j to all
// G·H gate pre-activations, contiguously. A matrix-vector product is then a sum of scaled contiguous rows,
// which keeps SIMD accumulators in registers (see `Float.gemv`) and needs no horizontal reductions.
//
//   wx    I × GH   input weights            (Glorot uniform, per gate block)
//   wh    H × GH   recurrent weights        (orthogonal per gate block)
//   bx    GH       gate biases              (LSTM forget block = 1)
//   bh    GH       GRU only: hidden-side biases (needed because r multiplies W_hn·h + b_hn)
//   headW O × H    head rows: mean, then log-variance when the head is Gaussian
//   headB O
//
// Gate order inside GH: LSTM i, f, o, g (the three sigmoids contiguous, then tanh); GRU r, z, n; RNN one block.

/// Offsets of each weight block in the flat parameter buffer for one shape.
struct Layout: Sendable, Equatable {
    let cell: CellKind
    let inputs: Int
    let hidden: Int
    /// Gate blocks: 4 (LSTM), 3 (GRU), 1 (RNN).
    let gates: Int
    /// gates · hidden: width of a gate row.
    let gh: Int
    /// Head outputs: 2 with a Gaussian head (mean, log-variance), else 1.
    let outputs: Int
    let wx: Int
    let wh: Int
    let bx: Int
    let bh: Int
    let headW: Int
    let headB: Int
    let count: Int

    init(_ shape: ModelShape) {
        cell = shape.cell
        inputs = max(0, shape.inputSize)
        hidden = max(0, shape.hiddenSize)
        switch shape.cell {
        case .lstm: gates = 4
        case .gru: gates = 3
        case .rnn: gates = 1
        }
        gh = gates * hidden
        outputs = shape.gaussianHead ? 2 : 1
        wx = 0
        wh = inputs * gh
        bx = wh + hidden * gh
        bh = bx + gh
        headW = bh + (shape.cell == .gru ? gh : 0)
        headB = headW + outputs * hidden
        count = headB + outputs
    }

    /// Offsets of bias entries (weight decay leaves biases alone).
    var biasRanges: [Range<Int>] {
        var r = [bx..<headW]
        r.append(headB..<count)
        return r
    }
}

/// The smallest clamp range of the log-variance output, in natural-log units of the normalised value's variance.
let logVarianceMin: Float = -12
/// Upper clamp of the log-variance output (variance e^8 ≈ 3000 in normalised units: "anything goes").
let logVarianceMax: Float = 8
