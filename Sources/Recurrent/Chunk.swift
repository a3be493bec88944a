// One truncated-BPTT chunk: `batch` contiguous streams stepped in lockstep for `steps` steps from a carried
// state, the weighted loss over the chunk, and the backward through exactly those steps.

/// Scratch for chunks of up to `capacity` steps × `batch` streams, allocated once per training run.
final class ChunkWorkspace<F: EngineScalar> {
    let layout: Layout
    let batch: Int
    let capacity: Int
    /// (capacity+1) × batch × H: hs[0] is the carried-in state, hs[t+1] the state after step t.
    let hs: UnsafeMutablePointer<F>
    /// (capacity+1) × batch × H (LSTM cell state; unused otherwise).
    let cs: UnsafeMutablePointer<F>
    /// capacity × batch × stashWidth.
    let stash: UnsafeMutablePointer<F>
    /// capacity × batch × H inverted-dropout multipliers on the head input (used when `useMask`).
    let mask: UnsafeMutablePointer<F>
    /// capacity × batch: head outputs (mean, raw log-variance).
    let means: UnsafeMutablePointer<F>
    let raws: UnsafeMutablePointer<F>
    /// batch × H: gradients flowing back into the previous step.
    let dhNext: UnsafeMutablePointer<F>
    let dcNext: UnsafeMutablePointer<F>
    /// H each: this step's dh, the dropped-out head input; daWidth: gate gradients.
    let dh: UnsafeMutablePointer<F>
    let hd: UnsafeMutablePointer<F>
    let da: UnsafeMutablePointer<F>
    /// Gradient, layout as the parameters.
    let grad: UnsafeMutablePointer<F>

    init(layout: Layout, batch: Int, capacity: Int) {
        self.layout = layout
        self.batch = batch
        self.capacity = capacity
        let h = layout.hidden
        func buffer(_ n: Int) -> UnsafeMutablePointer<F> { zeroedScratch(n) }
        hs = buffer((capacity + 1) * batch * h)
        cs = buffer((capacity + 1) * batch * h)
        stash = buffer(capacity * batch * layout.stashWidth)
        mask = buffer(capacity * batch * h)
        means = buffer(capacity * batch)
        raws = buffer(capacity * batch)
        dhNext = buffer(batch * h)
        dcNext = buffer(batch * h)
        dh = buffer(h)
        hd = buffer(h)
        da = buffer(layout.daWidth)
        grad = buffer(layout.count)
    }

    deinit {
        for p in [hs, cs, stash, mask, means, raws, dhNext, dcNext, dh, hd, da, grad] {
            p.deallocate()
        }
    }

    /// Pointer to state row (t, b) in hs/cs.
    @inline(__always) func state(_ base: UnsafeMutablePointer<F>, _ t: Int, _ b: Int) -> UnsafeMutablePointer<F> {
        base + (t * batch + b) * layout.hidden
    }

    /// Moves the state after `steps` into slot 0 (detached carry to the next chunk); a stream whose state went
    /// non-finite (NaN input) restarts from zero instead of poisoning the rest of its stream.
    func carry(steps: Int) {
        let h = layout.hidden
        for b in 0..<batch {
            let src = state(hs, steps, b), dst = state(hs, 0, b)
            let csrc = state(cs, steps, b), cdst = state(cs, 0, b)
            var finite = true
            for k in 0..<h where !(src[k].isFinite && csrc[k].isFinite) { finite = false }
            if finite {
                dst.update(from: src, count: h)
                cdst.update(from: csrc, count: h)
            } else {
                dst.update(repeating: 0, count: h)
                cdst.update(repeating: 0, count: h)
            }
        }
    }

    /// Zeroes the carried-in state of every stream.
    func resetState() {
        hs.update(repeating: 0, count: batch * layout.hidden)
        cs.update(repeating: 0, count: batch * layout.hidden)
    }
}

/// A zeroed buffer of n scalars (at least one), owned by a workspace that deallocates it.
func zeroedScratch<F: EngineScalar>(_ n: Int) -> UnsafeMutablePointer<F> {
    let p = UnsafeMutablePointer<F>.allocate(capacity: max(1, n))
    p.initialize(repeating: 0, count: max(1, n))
    return p
}

/// Data of a window, as raw pointers: inputs T × I, targets T, optional loss weights T.
struct WindowData<F: EngineScalar> {
    let inputs: UnsafePointer<F>
    let targets: UnsafePointer<F>
    let weights: UnsafePointer<F>?
}

/// Forward, loss and backward of one chunk. Stream b's step t reads window index `starts[b] + t`.
/// The gradient of Σ w·loss / Σ w is *added* into `ws.grad` (the caller zeroes it).
/// Returns the weighted loss sum and the weight sum (0 when every step of the chunk has weight 0).
func chunkGradient<F: EngineScalar>(_ ws: ChunkWorkspace<F>, params p: UnsafePointer<F>, steps n: Int,
                                    data: WindowData<F>, starts: [Int], loss kind: LossKind,
                                    useMask: Bool) -> (lossSum: F, weightSum: F) {
    let l = ws.layout
    let h = l.hidden, bsz = ws.batch, sw = l.stashWidth
    precondition(n <= ws.capacity && starts.count == bsz, "chunk larger than its workspace")
    @inline(__always) func weight(_ idx: Int) -> F { data.weights.map { $0[idx] } ?? 1 }

    var weightSum: F = 0
    for t in 0..<n {
        for b in 0..<bsz {
            let w = weight(starts[b] + t)
            if w > 0 { weightSum += w }
        }
    }

    // Forward: all streams in lockstep.
    var lossSum: F = 0
    for t in 0..<n {
        for b in 0..<bsz {
            let idx = starts[b] + t
            let a = ws.stash + (t * bsz + b) * sw
            let hNew = ws.state(ws.hs, t + 1, b)
            cellForward(l, p, x: data.inputs + idx * l.inputs,
                        hPrev: ws.state(ws.hs, t, b), cPrev: ws.state(ws.cs, t, b),
                        stash: a, hOut: hNew, cOut: ws.state(ws.cs, t + 1, b))
            var headIn = UnsafePointer(hNew)
            if useMask {
                let m = ws.mask + (t * bsz + b) * h
                for k in 0..<h { ws.hd[k] = hNew[k] * m[k] }
                headIn = UnsafePointer(ws.hd)
            }
            let (mean, raw) = headForward(l, p, headIn)
            ws.means[t * bsz + b] = mean
            ws.raws[t * bsz + b] = raw
            let w = weight(idx)
            if w > 0 {
                lossSum += w * stepLoss(kind, mean: mean, raw: raw, target: data.targets[idx]).loss
            }
        }
    }
    guard weightSum > 0 else { return (0, 0) }

    // Backward: t = n−1 … 0, the state gradient of the chunk's last step is 0 (truncation).
    let g = ws.grad
    ws.dhNext.update(repeating: 0, count: bsz * h)
    ws.dcNext.update(repeating: 0, count: bsz * h)
    for t in stride(from: n - 1, through: 0, by: -1) {
        for b in 0..<bsz {
            let idx = starts[b] + t
            let hCur = ws.state(ws.hs, t + 1, b)
            let dhN = ws.dhNext + b * h
            ws.dh.update(from: dhN, count: h)
            let w = weight(idx)
            if w > 0 {
                // mean = w_m·hd + b_m, raw = w_v·hd + b_v, hd = h⊙mask
                var headIn = UnsafePointer(hCur)
                let m = ws.mask + (t * bsz + b) * h
                if useMask {
                    for k in 0..<h { ws.hd[k] = hCur[k] * m[k] }
                    headIn = UnsafePointer(ws.hd)
                }
                let s = stepLoss(kind, mean: ws.means[t * bsz + b], raw: ws.raws[t * bsz + b],
                                 target: data.targets[idx])
                let scale = w / weightSum
                let dm = s.dMean * scale
                let dr = l.outputs == 2 ? s.dRaw * scale : 0
                F.axpy(dm, headIn, g + l.headW, h)
                g[l.headB] += dm
                if dr != 0 {
                    F.axpy(dr, headIn, g + l.headW + h, h)
                    g[l.headB + 1] += dr
                }
                // dh += (dm·w_m + dr·w_v)⊙mask
                if useMask {
                    for k in 0..<h { ws.dh[k] += dm * p[l.headW + k] * m[k] }
                    if dr != 0 {
                        for k in 0..<h { ws.dh[k] += dr * p[l.headW + h + k] * m[k] }
                    }
                } else {
                    F.axpy(dm, p + l.headW, ws.dh, h)
                    if dr != 0 { F.axpy(dr, p + l.headW + h, ws.dh, h) }
                }
            }
            cellBackward(l, p, g, x: data.inputs + idx * l.inputs,
                         hPrev: ws.state(ws.hs, t, b), cPrev: ws.state(ws.cs, t, b),
                         stash: ws.stash + (t * bsz + b) * sw, dh: ws.dh, dc: ws.dcNext + b * h,
                         da: ws.da, dhPrev: dhN)
        }
    }
    return (lossSum, weightSum)
}
