// The online step (hot path) and whole-window evaluation, both on the same cell code as training.

extension RecurrentModel {
    @inline(__always)
    func stepInPlace(input: UnsafeBufferPointer<Float>, state: inout RecurrentState) -> Prediction {
        let l = Layout(shape)
        precondition(input.count >= l.inputs, "step input has fewer floats than shape.inputSize")
        precondition(parameters.count == l.count, "parameters do not match the model shape")
        precondition(state.h.count == l.hidden && (l.cell != .lstm || state.c.count == l.hidden),
                     "recurrent state does not match the model shape")
        guard let x = input.baseAddress else {
            return Prediction(mean: 0, logVariance: 0)
        }
        let stashWidth = l.stashWidth
        return parameters.withUnsafeBufferPointer { pb -> Prediction in
            guard let p = pb.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
            return withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, stashWidth)) { sb -> Prediction in
                guard let stash = sb.baseAddress else { return Prediction(mean: 0, logVariance: 0) }
                return state.h.withUnsafeMutableBufferPointer { hb -> Prediction in
                    guard let h = hb.baseAddress else { return Prediction(mean: p[l.headB], logVariance: 0) }
                    if l.cell == .lstm {
                        state.c.withUnsafeMutableBufferPointer { cb in
                            if let c = cb.baseAddress {
                                cellForward(l, p, x: x, hPrev: h, cPrev: c, stash: stash, hOut: h, cOut: c)
                            }
                        }
                    } else {
                        // GRU and RNN have no cell state; the stash's tail stands in as the unused c.
                        cellForward(l, p, x: x, hPrev: h, cPrev: h, stash: stash, hOut: h, cOut: stash)
                    }
                    return headPrediction(rows: p + l.headW, biases: p + l.headB, h, l.hidden, outputs: l.outputs)
                }
            }
        }
    }

    func evaluateWindow(inputs: [Float], targets: [Float], weights: [Float]?, loss: LossKind, from: Int) -> Float {
        let l = Layout(shape)
        let width = max(1, l.inputs)
        let t = min(inputs.count / width, targets.count)
        let kind: LossKind = (loss == .gaussianNLL && l.outputs == 2) ? .gaussianNLL : .mse
        var state = RecurrentState(shape: shape)
        var sum: Double = 0
        var weightSum: Double = 0
        inputs.withUnsafeBufferPointer { all in
            for i in 0..<t {
                let row = UnsafeBufferPointer(rebasing: all[(i * width)..<((i + 1) * width)])
                let p = stepInPlace(input: row, state: &state)
                if !p.mean.isFinite {
                    state = RecurrentState(shape: shape)
                }
                guard i >= from else { continue }
                let w = weights.map { i < $0.count ? $0[i] : 1 } ?? 1
                guard w > 0 else { continue }
                let s = stepLoss(kind, mean: p.mean, raw: p.logVariance, target: targets[i])
                sum += Double(w) * Double(s.loss)
                weightSum += Double(w)
            }
        }
        return weightSum > 0 ? Float(sum / weightSum) : 0
    }
}

@inline(__always) func clampLogVariance(_ raw: Float) -> Float {
    raw < logVarianceMin ? logVarianceMin : (raw > logVarianceMax ? logVarianceMax : raw)
}
