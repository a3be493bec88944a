// The three cells and the head, forward and backward side by side, generic over the scalar so the very code
// that trains in Float is gradient-checked in Double.
//
// Notation (one stream, one step): x: I, hPrev/cPrev: H, a: the step's "stash" (activated gates and whatever
// the backward needs, `stashWidth` floats), h/c: H. Matrices are input-major (see Layout.swift), so
// `gemv(a, GH, W, GH, v, K)` is a ← a + Wᵀv and the backward's dv = W·da is one `dot` per input row.

extension Layout {
    /// Floats a step keeps for the backward: LSTM gates + tanh(c) (5H); GRU ax(→r,z,n) + ah (6H); RNN h (H).
    var stashWidth: Int {
        switch cell {
        case .lstm: return gh + hidden
        case .gru: return 2 * gh
        case .rnn: return gh
        }
    }

    /// Floats of gate-gradient scratch the backward needs (GRU keeps d(ax) and d(ah) apart).
    var daWidth: Int { cell == .gru ? 2 * gh : gh }
}

// MARK: - Forward

/// One cell step. `hOut` may alias `hPrev` and `cOut` may alias `cPrev` (the hot path steps in place):
/// every read of hPrev happens in the gate products before the first write of hOut, and the elementwise
/// updates read and write the same index.
@inline(__always)
func cellForward<F: EngineScalar>(_ l: Layout, _ p: UnsafePointer<F>, x: UnsafePointer<F>,
                                  hPrev: UnsafePointer<F>, cPrev: UnsafePointer<F>,
                                  stash a: UnsafeMutablePointer<F>,
                                  hOut: UnsafeMutablePointer<F>, cOut: UnsafeMutablePointer<F>) {
    let h = l.hidden, gh = l.gh
    switch l.cell {
    case .lstm:
        // a[0..<4H] = bx + Wxᵀx + Whᵀh_prev              gates i, f, o, g (pre-activation)
        F.affine(a, gh, bias: p + l.bx, p + l.wx, gh, x, l.inputs, hPrev, h)
        // i, f, o = σ(·), g = tanh(·); c = f⊙c_prev + i⊙g; a[4H..<5H] = tanh(c); h = o⊙tanh(c)
        F.lstmPointwise(a, cPrev: cPrev, cOut: cOut, hOut: hOut, h)
    case .gru:
        // ax = bx + Wxᵀx (3H), ah = bh + Whᵀh_prev (3H); blocks r, z, n.
        let ah = a + gh
        F.affine(a, gh, bias: p + l.bx, p + l.wx, gh, x, l.inputs, x, 0)
        F.affine(ah, gh, bias: p + l.bh, p + l.wh, gh, hPrev, h, hPrev, 0)
        // r, z = σ(ax + ah); n = tanh(ax_n + r⊙ah_n); h = (1−z)⊙n + z⊙h_prev
        F.gruPointwise(a, ah: ah, hPrev: hPrev, hOut: hOut, h)
    case .rnn:
        // a = tanh(bx + Wxᵀx + Whᵀh_prev); h = a
        F.affine(a, gh, bias: p + l.bx, p + l.wx, gh, x, l.inputs, hPrev, h)
        F.tanh(a, h)
        for k in 0..<h { hOut[k] = a[k] }
    }
}

/// Head: mean = w_m·h + b_m; raw log-variance = w_v·h + b_v (0 without a Gaussian head). Unclamped.
@inline(__always)
func headForward<F: EngineScalar>(_ l: Layout, _ p: UnsafePointer<F>, _ h: UnsafePointer<F>) -> (mean: F, raw: F) {
    headForward(rows: p + l.headW, biases: p + l.headB, h, l.hidden, outputs: l.outputs)
}

/// The same head over its own rows (`outputs` rows of `hidden` weights) and biases, wherever they are stored
/// (the inference copies keep them in a Float32 tail of their own).
@inline(__always)
func headForward<F: EngineScalar>(rows w: UnsafePointer<F>, biases b: UnsafePointer<F>, _ h: UnsafePointer<F>,
                                  _ hidden: Int, outputs: Int) -> (mean: F, raw: F) {
    let mean = F.dot(w, h, hidden) + b[0]
    guard outputs == 2 else { return (mean, 0) }
    let raw = F.dot(w + hidden, h, hidden) + b[1]
    return (mean, raw)
}

/// The online prediction from the head: the raw log-variance clamped (0 without a Gaussian head).
@inline(__always)
func headPrediction(rows w: UnsafePointer<Float>, biases b: UnsafePointer<Float>, _ h: UnsafePointer<Float>,
                    _ hidden: Int, outputs: Int) -> Prediction {
    let (mean, raw) = headForward(rows: w, biases: b, h, hidden, outputs: outputs)
    return Prediction(mean: mean, logVariance: outputs == 2 ? clampLogVariance(raw) : 0)
}

// MARK: - Backward

/// Backward of `cellForward` for one step: given dh (H) and dc (H, LSTM only) flowing into this step's
/// outputs, accumulates the weight gradients into `g` (layout as params) and writes dh_prev into `dhPrev`
/// and dc_prev into `dc` (in place). `da` is scratch of `daWidth`.
@inline(__always)
func cellBackward<F: EngineScalar>(_ l: Layout, _ p: UnsafePointer<F>, _ g: UnsafeMutablePointer<F>,
                                   x: UnsafePointer<F>, hPrev: UnsafePointer<F>, cPrev: UnsafePointer<F>,
                                   stash a: UnsafePointer<F>, dh: UnsafePointer<F>, dc: UnsafeMutablePointer<F>,
                                   da: UnsafeMutablePointer<F>, dhPrev: UnsafeMutablePointer<F>) {
    let h = l.hidden, gh = l.gh
    switch l.cell {
    case .lstm:
        let tc = a + 4 * h
        for k in 0..<h {
            let i = a[k], f = a[h + k], o = a[2 * h + k], gg = a[3 * h + k], t = tc[k]
            // h = o⊙tanh(c):  dc += dh⊙o⊙(1−tanh²c)
            let dcv = dc[k] + dh[k] * o * (1 - t * t)
            // c = f⊙c_prev + i⊙g
            da[k] = dcv * gg * i * (1 - i)               // d a_i
            da[h + k] = dcv * cPrev[k] * f * (1 - f)     // d a_f
            da[2 * h + k] = dh[k] * t * o * (1 - o)      // d a_o
            da[3 * h + k] = dcv * i * (1 - gg * gg)      // d a_g
            dc[k] = dcv * f                              // d c_prev
        }
        // a = bx + Wxᵀx + Whᵀh_prev:  dWx[j] += x_j·da, dWh[j] += h_prev_j·da, dbx += da, dh_prev_j = Wh[j]·da
        for j in 0..<l.inputs { F.axpy(x[j], da, g + l.wx + j * gh, gh) }
        for j in 0..<h { F.axpy(hPrev[j], da, g + l.wh + j * gh, gh) }
        F.axpy(1, da, g + l.bx, gh)
        for j in 0..<h { dhPrev[j] = F.dot(p + l.wh + j * gh, da, gh) }
    case .gru:
        let ah = a + gh
        let dax = da, dah = da + gh
        for k in 0..<h {
            let r = a[k], z = a[h + k], n = a[2 * h + k], ahn = ah[2 * h + k]
            // h = (1−z)⊙n + z⊙h_prev
            let dn = dh[k] * (1 - z)
            let dz = dh[k] * (hPrev[k] - n)
            // n = tanh(ax_n + r⊙ah_n)
            let dan = dn * (1 - n * n)
            let dr = dan * ahn
            // r, z = σ(ax + ah)
            let dar = dr * r * (1 - r)
            let daz = dz * z * (1 - z)
            dax[k] = dar; dax[h + k] = daz; dax[2 * h + k] = dan
            dah[k] = dar; dah[h + k] = daz; dah[2 * h + k] = dan * r
        }
        // ax = bx + Wxᵀx, ah = bh + Whᵀh_prev
        for j in 0..<l.inputs { F.axpy(x[j], dax, g + l.wx + j * gh, gh) }
        F.axpy(1, dax, g + l.bx, gh)
        for j in 0..<h { F.axpy(hPrev[j], dah, g + l.wh + j * gh, gh) }
        F.axpy(1, dah, g + l.bh, gh)
        for j in 0..<h {
            dhPrev[j] = dh[j] * a[h + j] + F.dot(p + l.wh + j * gh, dah, gh)   // direct path z⊙dh + Wh·dah
        }
    case .rnn:
        // h = tanh(a)
        for k in 0..<h { da[k] = dh[k] * (1 - a[k] * a[k]) }
        for j in 0..<l.inputs { F.axpy(x[j], da, g + l.wx + j * gh, gh) }
        for j in 0..<h { F.axpy(hPrev[j], da, g + l.wh + j * gh, gh) }
        F.axpy(1, da, g + l.bx, gh)
        for j in 0..<h { dhPrev[j] = F.dot(p + l.wh + j * gh, da, gh) }
    }
}

/// One step's loss and its derivatives w.r.t. (mean, raw log-variance). MSE: (y−m)²; Gaussian NLL:
/// ½(lv + (y−m)²·e^(−lv)) with lv = clamp(raw, −12, 8); the clamp passes no gradient outside its range.
@inline(__always)
func stepLoss<F: EngineScalar>(_ kind: LossKind, mean: F, raw: F, target y: F) -> (loss: F, dMean: F, dRaw: F) {
    let e = y - mean
    switch kind {
    case .mse:
        return (e * e, -2 * e, 0)
    case .gaussianNLL:
        let lo = F(logVarianceMin), hi = F(logVarianceMax)
        let lv = raw < lo ? lo : (raw > hi ? hi : raw)
        let iv = F.expScalar(-lv)
        let loss = (lv + e * e * iv) / 2
        let dRaw: F = (raw > lo && raw < hi) ? (1 - e * e * iv) / 2 : 0
        return (loss, -e * iv, dRaw)
    }
}
