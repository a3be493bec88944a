// The bidirectional layer: one cell read forward and another read backward over the same whole chunk, their
// states concatenated into the head. Forward and backward side by side, generic over the scalar like
// Cells.swift, so the code that trains in Float is gradient-checked in Double.
//
// Notation (one stream, a chunk of n steps): x_t: I; fs[t+1] = forward cell(x_t, fs[t]) with fs[0] = 0;
// bs[t] = backward cell(x_t, bs[t+1]) with bs[n] = 0. The head at step t reads [fs[t+1−gap]; bs[t+gap]]
// (2H): gap 0 ("inclusive", the textbook layer: both states have read x_t), gap 1 ("exclusive": the states
// stop just before and just after t, so the head estimates step t from both sides without seeing x_t).
// Being bidirectional, a chunk is a whole sequence: no state is carried in or out.

/// Where each weight of a bidirectional model lives.
///
///   forward   [0, block)               one direction's cell weights (Layout's wx, wh, bx, bh; no head)
///   backward  [block, 2·block)         the other direction's, same layout
///   headW     O × 2H                   head rows over [h_forward; h_backward]: mean, then log-variance
///   headB     O
struct BidirectionalLayout: Sendable, Equatable {
    /// One direction's layout; only its cell offsets (below `headW`) are used.
    let cell: Layout
    /// Floats of one direction's cell weights.
    let block: Int
    let hidden: Int
    let outputs: Int
    /// 0: the head reads states that include x_t; 1: states just before and after t.
    let gap: Int
    let headW: Int
    let headB: Int
    let count: Int

    init(_ shape: BidirectionalShape) {
        cell = Layout(shape.cellShape)
        block = cell.headW
        hidden = cell.hidden
        outputs = cell.outputs
        gap = shape.context == .exclusive ? 1 : 0
        headW = 2 * block
        headB = headW + outputs * 2 * hidden
        count = headB + outputs
    }

    /// Offsets of bias entries (weight decay leaves biases alone).
    var biasRanges: [Range<Int>] {
        [cell.bx..<block, (block + cell.bx)..<(2 * block), headB..<count]
    }
}

/// Scratch for chunks of up to `capacity` steps × `batch` streams, allocated once per training run.
final class BidirectionalWorkspace<F: EngineScalar> {
    let layout: BidirectionalLayout
    let batch: Int
    let capacity: Int
    /// (capacity+1) × batch × H each: forward states fs (and LSTM cells fc), backward states bs (and bc).
    let fs: UnsafeMutablePointer<F>
    let fc: UnsafeMutablePointer<F>
    let bs: UnsafeMutablePointer<F>
    let bc: UnsafeMutablePointer<F>
    /// capacity × batch × stashWidth, one per direction.
    let fStash: UnsafeMutablePointer<F>
    let bStash: UnsafeMutablePointer<F>
    /// capacity × batch: head outputs (mean, raw log-variance).
    let means: UnsafeMutablePointer<F>
    let raws: UnsafeMutablePointer<F>
    /// (capacity+1) × batch × H each: the head's gradient into fs and into bs.
    let dF: UnsafeMutablePointer<F>
    let dB: UnsafeMutablePointer<F>
    /// H each: gradient flowing to the previous step of a direction (h and LSTM c), this step's dh.
    let dhNext: UnsafeMutablePointer<F>
    let dcNext: UnsafeMutablePointer<F>
    let dh: UnsafeMutablePointer<F>
    /// daWidth: gate gradients.
    let da: UnsafeMutablePointer<F>
    /// Gradient, layout as the parameters.
    let grad: UnsafeMutablePointer<F>

    init(layout: BidirectionalLayout, batch: Int, capacity: Int) {
        self.layout = layout
        self.batch = batch
        self.capacity = capacity
        let h = layout.hidden, states = (capacity + 1) * batch * h
        func buffer(_ n: Int) -> UnsafeMutablePointer<F> { zeroedScratch(n) }
        fs = buffer(states)
        fc = buffer(states)
        bs = buffer(states)
        bc = buffer(states)
        fStash = buffer(capacity * batch * layout.cell.stashWidth)
        bStash = buffer(capacity * batch * layout.cell.stashWidth)
        means = buffer(capacity * batch)
        raws = buffer(capacity * batch)
        dF = buffer(states)
        dB = buffer(states)
        dhNext = buffer(h)
        dcNext = buffer(h)
        dh = buffer(h)
        da = buffer(layout.cell.daWidth)
        grad = buffer(layout.count)
    }

    deinit {
        for p in [fs, fc, bs, bc, fStash, bStash, means, raws, dF, dB, dhNext, dcNext, dh, da, grad] {
            p.deallocate()
        }
    }

    /// Pointer to state row (t, b) of a (capacity+1) × batch × H buffer.
    @inline(__always) func state(_ base: UnsafeMutablePointer<F>, _ t: Int, _ b: Int) -> UnsafeMutablePointer<F> {
        base + (t * batch + b) * layout.hidden
    }

    /// Pointer to the stash of step (t, b).
    @inline(__always) func stash(_ base: UnsafeMutablePointer<F>, _ t: Int, _ b: Int) -> UnsafeMutablePointer<F> {
        base + (t * batch + b) * layout.cell.stashWidth
    }
}

/// Head over both directions: mean = w_m·[hf; hb] + b_m; raw log-variance = w_v·[hf; hb] + b_v (0 without a
/// Gaussian head). Unclamped.
@inline(__always)
func bidirectionalHeadForward<F: EngineScalar>(_ l: BidirectionalLayout, _ p: UnsafePointer<F>,
                                               forward hf: UnsafePointer<F>,
                                               backward hb: UnsafePointer<F>) -> (mean: F, raw: F) {
    let h = l.hidden, w = p + l.headW
    let mean = F.dot(w, hf, h) + F.dot(w + h, hb, h) + p[l.headB]
    guard l.outputs == 2 else { return (mean, 0) }
    let raw = F.dot(w + 2 * h, hf, h) + F.dot(w + 3 * h, hb, h) + p[l.headB + 1]
    return (mean, raw)
}

// MARK: - Forward

/// Forward of one whole chunk for every stream (stream b reads window index `starts[b] + t` at step t; at most
/// `ws.batch` streams) and its weighted loss. Fills the workspace's states, stashes and head outputs for `bidirectionalChunkBackward`.
/// Returns the weighted loss sum and the weight sum over the chunk.
func bidirectionalChunkForward<F: EngineScalar>(_ ws: BidirectionalWorkspace<F>, params p: UnsafePointer<F>,
                                                steps n: Int, data: WindowData<F>, starts: [Int],
                                                loss kind: LossKind) -> (lossSum: F, weightSum: F) {
    let l = ws.layout, c = l.cell
    let h = l.hidden, bsz = starts.count, gap = l.gap
    precondition(n <= ws.capacity && bsz <= ws.batch, "chunk larger than its workspace")
    let pb = p + l.block
    for b in 0..<bsz {
        // fs[0] = 0, bs[n] = 0: a chunk is a whole sequence.
        ws.state(ws.fs, 0, b).update(repeating: 0, count: h)
        ws.state(ws.fc, 0, b).update(repeating: 0, count: h)
        ws.state(ws.bs, n, b).update(repeating: 0, count: h)
        ws.state(ws.bc, n, b).update(repeating: 0, count: h)
        // fs[t+1] = cell_f(x_t, fs[t])                                   t = 0 … n−1
        for t in 0..<n {
            cellForward(c, p, x: data.inputs + (starts[b] + t) * c.inputs,
                        hPrev: ws.state(ws.fs, t, b), cPrev: ws.state(ws.fc, t, b), stash: ws.stash(ws.fStash, t, b),
                        hOut: ws.state(ws.fs, t + 1, b), cOut: ws.state(ws.fc, t + 1, b))
        }
        // bs[t] = cell_b(x_t, bs[t+1])                                   t = n−1 … 0
        for t in stride(from: n - 1, through: 0, by: -1) {
            cellForward(c, pb, x: data.inputs + (starts[b] + t) * c.inputs,
                        hPrev: ws.state(ws.bs, t + 1, b), cPrev: ws.state(ws.bc, t + 1, b),
                        stash: ws.stash(ws.bStash, t, b),
                        hOut: ws.state(ws.bs, t, b), cOut: ws.state(ws.bc, t, b))
        }
    }
    var lossSum: F = 0, weightSum: F = 0
    for t in 0..<n {
        for b in 0..<bsz {
            // (mean, raw)_t = head([fs[t+1−gap]; bs[t+gap]])
            let (mean, raw) = bidirectionalHeadForward(l, p, forward: ws.state(ws.fs, t + 1 - gap, b),
                                                       backward: ws.state(ws.bs, t + gap, b))
            ws.means[t * ws.batch + b] = mean
            ws.raws[t * ws.batch + b] = raw
            let idx = starts[b] + t
            let w = data.weights.map { $0[idx] } ?? 1
            guard w > 0 else { continue }
            lossSum += w * stepLoss(kind, mean: mean, raw: raw, target: data.targets[idx]).loss
            weightSum += w
        }
    }
    return (lossSum, weightSum)
}

// MARK: - Backward

/// Backward of `bidirectionalChunkForward` (which must have just run on the same workspace, parameters and
/// data): *adds* the gradient of Σ w·loss / `weightSum` into `ws.grad` (the caller zeroes it).
func bidirectionalChunkBackward<F: EngineScalar>(_ ws: BidirectionalWorkspace<F>, params p: UnsafePointer<F>,
                                                 steps n: Int, data: WindowData<F>, starts: [Int],
                                                 loss kind: LossKind, weightSum: F) {
    let l = ws.layout, c = l.cell
    let h = l.hidden, bsz = starts.count, gap = l.gap
    guard weightSum > 0 else { return }
    let g = ws.grad, pb = p + l.block, gb = g + l.block
    ws.dF.update(repeating: 0, count: (n + 1) * ws.batch * h)
    ws.dB.update(repeating: 0, count: (n + 1) * ws.batch * h)
    // The head, every step: (mean, raw)_t = W·[fs[t+1−gap]; bs[t+gap]] + b
    for t in 0..<n {
        for b in 0..<bsz {
            let idx = starts[b] + t
            let w = data.weights.map { $0[idx] } ?? 1
            guard w > 0 else { continue }
            let s = stepLoss(kind, mean: ws.means[t * ws.batch + b], raw: ws.raws[t * ws.batch + b], target: data.targets[idx])
            let scale = w / weightSum
            let dm = s.dMean * scale
            let dr = l.outputs == 2 ? s.dRaw * scale : 0
            let hf = ws.state(ws.fs, t + 1 - gap, b), hb = ws.state(ws.bs, t + gap, b)
            let dhf = ws.state(ws.dF, t + 1 - gap, b), dhb = ws.state(ws.dB, t + gap, b)
            // dW_m += dm·[hf; hb], db_m += dm, d[hf; hb] += dm·w_m
            F.axpy(dm, hf, g + l.headW, h)
            F.axpy(dm, hb, g + l.headW + h, h)
            g[l.headB] += dm
            F.axpy(dm, p + l.headW, dhf, h)
            F.axpy(dm, p + l.headW + h, dhb, h)
            if dr != 0 {
                // the same for the log-variance row
                F.axpy(dr, hf, g + l.headW + 2 * h, h)
                F.axpy(dr, hb, g + l.headW + 3 * h, h)
                g[l.headB + 1] += dr
                F.axpy(dr, p + l.headW + 2 * h, dhf, h)
                F.axpy(dr, p + l.headW + 3 * h, dhb, h)
            }
        }
    }
    for b in 0..<bsz {
        // fs[t+1] = cell_f(x_t, fs[t]), through time t = n−1 … 0: dh = head's d fs[t+1] + the later step's dh_prev
        ws.dhNext.update(repeating: 0, count: h)
        ws.dcNext.update(repeating: 0, count: h)
        for t in stride(from: n - 1, through: 0, by: -1) {
            let dFt = ws.state(ws.dF, t + 1, b)
            for k in 0..<h { ws.dh[k] = dFt[k] + ws.dhNext[k] }
            cellBackward(c, p, g, x: data.inputs + (starts[b] + t) * c.inputs,
                         hPrev: ws.state(ws.fs, t, b), cPrev: ws.state(ws.fc, t, b),
                         stash: ws.stash(ws.fStash, t, b), dh: ws.dh, dc: ws.dcNext, da: ws.da, dhPrev: ws.dhNext)
        }
        // bs[t] = cell_b(x_t, bs[t+1]), through time t = 0 … n−1: dh = head's d bs[t] + the earlier step's dh_prev
        ws.dhNext.update(repeating: 0, count: h)
        ws.dcNext.update(repeating: 0, count: h)
        for t in 0..<n {
            let dBt = ws.state(ws.dB, t, b)
            for k in 0..<h { ws.dh[k] = dBt[k] + ws.dhNext[k] }
            cellBackward(c, pb, gb, x: data.inputs + (starts[b] + t) * c.inputs,
                         hPrev: ws.state(ws.bs, t + 1, b), cPrev: ws.state(ws.bc, t + 1, b),
                         stash: ws.stash(ws.bStash, t, b), dh: ws.dh, dc: ws.dcNext, da: ws.da, dhPrev: ws.dhNext)
        }
    }
}

/// Forward, loss and backward of one chunk: the gradient of Σ w·loss / Σ w is *added* into `ws.grad`.
/// Returns the weighted loss sum and the weight sum (0 when every step of the chunk has weight 0).
func bidirectionalChunkGradient<F: EngineScalar>(_ ws: BidirectionalWorkspace<F>, params p: UnsafePointer<F>,
                                                 steps n: Int, data: WindowData<F>, starts: [Int],
                                                 loss kind: LossKind) -> (lossSum: F, weightSum: F) {
    let r = bidirectionalChunkForward(ws, params: p, steps: n, data: data, starts: starts, loss: kind)
    bidirectionalChunkBackward(ws, params: p, steps: n, data: data, starts: starts, loss: kind,
                               weightSum: r.weightSum)
    return r
}
