// Numeric kernels. The maths of the cells is written once, generic over `EngineScalar`, so the same
// forward/backward code trains in Float and is gradient-checked in Double. Float gets hand-written SIMD16
// kernels (panel matrix-vector product, vectorised exp); Double gets plain loops and libm.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The scalar types the engine's generic maths runs in (Float for training, Double for gradient checks).
protocol EngineScalar: BinaryFloatingPoint, Sendable {
    /// out[0..<n] += Σ_j v[j] · rows[j·stride ..< j·stride + n], for j in 0..<k (j ascending).
    static func gemv(_ out: UnsafeMutablePointer<Self>, _ n: Int, _ rows: UnsafePointer<Self>, _ stride: Int,
                     _ v: UnsafePointer<Self>, _ k: Int)
    /// out[0..<n] = bias + Σ_j u[j]·rows_j (j < ku) + Σ_j v[j]·rows_(ku+j) (j < kv): a bias-initialised product
    /// over two input vectors whose weight rows are contiguous (x then h in the layout).
    static func affine(_ out: UnsafeMutablePointer<Self>, _ n: Int, bias: UnsafePointer<Self>, _ rows: UnsafePointer<Self>,
                       _ stride: Int, _ u: UnsafePointer<Self>, _ ku: Int, _ v: UnsafePointer<Self>, _ kv: Int)
    /// y[0..<n] += a · x[0..<n]
    static func axpy(_ a: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, _ n: Int)
    /// Σ x[i]·y[i]
    static func dot(_ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>, _ n: Int) -> Self
    /// In place logistic sigmoid.
    static func sigmoid(_ p: UnsafeMutablePointer<Self>, _ n: Int)
    /// In place tanh.
    static func tanh(_ p: UnsafeMutablePointer<Self>, _ n: Int)
    /// Scalar exp (loss terms).
    static func expScalar(_ x: Self) -> Self
    /// LSTM pointwise part, fused: a = [i f o g] pre-activations (4H) → activated in place; c = f⊙c_prev + i⊙g
    /// into `cOut`; tanh(c) into a[4H..<5H]; h = o⊙tanh(c) into `hOut`. Index-wise, so cOut may alias cPrev.
    static func lstmPointwise(_ a: UnsafeMutablePointer<Self>, cPrev: UnsafePointer<Self>,
                              cOut: UnsafeMutablePointer<Self>, hOut: UnsafeMutablePointer<Self>, _ h: Int)
    /// GRU pointwise part: a = ax (r, z, n blocks, 3H), ah = bh + Whᵀh_prev (3H) → a holds activated r, z, n;
    /// h = (1−z)⊙n + z⊙h_prev into `hOut` (may alias `hPrev`).
    static func gruPointwise(_ a: UnsafeMutablePointer<Self>, ah: UnsafePointer<Self>, hPrev: UnsafePointer<Self>,
                             hOut: UnsafeMutablePointer<Self>, _ h: Int)
}

extension EngineScalar {
    /// Reference version of `gruPointwise`.
    @inline(__always)
    static func gruPointwiseScalar(_ a: UnsafeMutablePointer<Self>, ah: UnsafePointer<Self>, hPrev: UnsafePointer<Self>,
                                   hOut: UnsafeMutablePointer<Self>, _ h: Int) {
        for k in 0..<(2 * h) { a[k] += ah[k] }
        sigmoid(a, 2 * h)                                // r, z = σ(ax + ah)
        for k in 0..<h { a[2 * h + k] += a[k] * ah[2 * h + k] }   // n_pre = ax_n + r⊙ah_n
        tanh(a + 2 * h, h)                               // n = tanh(n_pre)
        for k in 0..<h {
            let z = a[h + k]
            hOut[k] = (1 - z) * a[2 * h + k] + z * hPrev[k]      // h = (1−z)⊙n + z⊙h_prev
        }
    }

    /// Reference (and tail) version of `lstmPointwise`, one element at a time.
    @inline(__always)
    static func lstmPointwiseScalar(_ a: UnsafeMutablePointer<Self>, cPrev: UnsafePointer<Self>,
                                    cOut: UnsafeMutablePointer<Self>, hOut: UnsafeMutablePointer<Self>,
                                    _ h: Int, from: Int) {
        for k in from..<h {
            sigmoid(a + k, 1)
            sigmoid(a + h + k, 1)
            sigmoid(a + 2 * h + k, 1)
            tanh(a + 3 * h + k, 1)
            let c = a[h + k] * cPrev[k] + a[k] * a[3 * h + k]
            cOut[k] = c
            a[4 * h + k] = c
            tanh(a + 4 * h + k, 1)
            hOut[k] = a[2 * h + k] * a[4 * h + k]
        }
    }
}

// MARK: - Float: SIMD16

typealias V16 = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> V16 {
    UnsafeRawPointer(p).loadUnaligned(as: V16.self)
}

@inline(__always) func store16(_ v: V16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self)
}

/// exp on 16 lanes: Cephes polynomial on the reduced argument, 2^n built in the exponent bits. Relative
/// error ~1e-7 over the clamped range [-87, 88]; the reduction uses magic-number rounding because
/// float→int conversion with a rounding rule does not vectorise.
@inline(__always) func exp16(_ xIn: V16) -> V16 {
    var x = xIn
    x = x.replacing(with: 88.0, where: x .> 88.0)
    x = x.replacing(with: -87.0, where: x .< -87.0)
    let magic = V16(repeating: 12_582_912.0) // 1.5 · 2^23
    let t = magic.addingProduct(x, V16(repeating: 1.442_695_04))
    let n = t - magic
    var r = x.addingProduct(n, V16(repeating: -0.693_359_375))
    r = r.addingProduct(n, V16(repeating: 2.121_944_4e-4))
    var p = V16(repeating: 1.987_569_15e-4)
    p = V16(repeating: 1.398_199_95e-3).addingProduct(p, r)
    p = V16(repeating: 8.333_451_9e-3).addingProduct(p, r)
    p = V16(repeating: 4.166_579_59e-2).addingProduct(p, r)
    p = V16(repeating: 1.666_666_55e-1).addingProduct(p, r)
    p = V16(repeating: 5.000_000_12e-1).addingProduct(p, r)
    let y = (r + 1).addingProduct(p, r * r)
    let bits = unsafeBitCast(t, to: SIMD16<UInt32>.self) &- 0x4B40_0000 &+ 127
    let scale = unsafeBitCast(bits &<< 23, to: V16.self)
    return y * scale
}

/// Horizontal sum as a tree of vector adds: `.sum()` is a serial chain of 15 scalar adds (no reassociation).
@inline(__always) func hsum(_ v: V16) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

@inline(__always) func sigmoid16(_ x: V16) -> V16 {
    1 / (1 + exp16(-x))
}

/// tanh through the sigmoid: tanh(x) = 2σ(2x) − 1 (absolute error ~1e-7, which is what a state needs).
@inline(__always) func tanh16(_ x: V16) -> V16 {
    2 / (1 + exp16(-2 * x)) - 1
}

@inline(__always) func sigmoid1(_ x: Float) -> Float {
    sigmoid16(V16(repeating: x))[0]
}

@inline(__always) func tanh1(_ x: Float) -> Float {
    tanh16(V16(repeating: x))[0]
}

extension Float: EngineScalar {
    /// Register-blocked panel product: 4 (then 1) SIMD16 accumulators live across the whole j loop, so each
    /// weight is loaded once and each output stored once per 64-wide panel. Four SIMD16 are eight AVX2
    /// registers; eight SIMD16 (a 128 panel) would take all sixteen and spill on a Haswell-target build.
    @inline(__always)
    static func gemv(_ out: UnsafeMutablePointer<Float>, _ n: Int, _ rows: UnsafePointer<Float>, _ stride: Int,
                     _ v: UnsafePointer<Float>, _ k: Int) {
        var o = 0
        while o + 64 <= n {
            var a0 = load16(out + o), a1 = load16(out + o + 16), a2 = load16(out + o + 32), a3 = load16(out + o + 48)
            var r = rows + o
            for j in 0..<k {
                let s = V16(repeating: v[j])
                a0 = a0.addingProduct(s, load16(r))
                a1 = a1.addingProduct(s, load16(r + 16))
                a2 = a2.addingProduct(s, load16(r + 32))
                a3 = a3.addingProduct(s, load16(r + 48))
                r += stride
            }
            store16(a0, out + o); store16(a1, out + o + 16); store16(a2, out + o + 32); store16(a3, out + o + 48)
            o += 64
        }
        while o + 16 <= n {
            var a0 = load16(out + o)
            var r = rows + o
            for j in 0..<k {
                a0 = a0.addingProduct(V16(repeating: v[j]), load16(r))
                r += stride
            }
            store16(a0, out + o)
            o += 16
        }
        while o < n {
            var a = out[o]
            var r = rows + o
            for j in 0..<k {
                a = a.addingProduct(v[j], r[0])
                r += stride
            }
            out[o] = a
            o += 1
        }
    }

    /// As `gemv`, with the accumulators starting from the bias and running over both input vectors before a
    /// single store: one pass, no bias copy, no intermediate store/reload between x and h.
    @inline(__always)
    static func affine(_ out: UnsafeMutablePointer<Float>, _ n: Int, bias: UnsafePointer<Float>,
                       _ rows: UnsafePointer<Float>, _ stride: Int, _ u: UnsafePointer<Float>, _ ku: Int,
                       _ v: UnsafePointer<Float>, _ kv: Int) {
        var o = 0
        while o + 64 <= n {
            var a0 = load16(bias + o), a1 = load16(bias + o + 16), a2 = load16(bias + o + 32), a3 = load16(bias + o + 48)
            var r = rows + o
            for j in 0..<ku {
                let s = V16(repeating: u[j])
                a0 = a0.addingProduct(s, load16(r))
                a1 = a1.addingProduct(s, load16(r + 16))
                a2 = a2.addingProduct(s, load16(r + 32))
                a3 = a3.addingProduct(s, load16(r + 48))
                r += stride
            }
            for j in 0..<kv {
                let s = V16(repeating: v[j])
                a0 = a0.addingProduct(s, load16(r))
                a1 = a1.addingProduct(s, load16(r + 16))
                a2 = a2.addingProduct(s, load16(r + 32))
                a3 = a3.addingProduct(s, load16(r + 48))
                r += stride
            }
            store16(a0, out + o); store16(a1, out + o + 16); store16(a2, out + o + 32); store16(a3, out + o + 48)
            o += 64
        }
        let done = o
        if done < n {
            (out + done).update(from: bias + done, count: n - done)
            gemv(out + done, n - done, rows + done, stride, u, ku)
            gemv(out + done, n - done, rows + done + ku * stride, stride, v, kv)
        }
    }

    @inline(__always)
    static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let s = V16(repeating: a)
        var i = 0
        while i + 16 <= n {
            store16(load16(y + i).addingProduct(s, load16(x + i)), y + i)
            i += 16
        }
        while i < n {
            y[i] = y[i].addingProduct(a, x[i])
            i += 1
        }
    }

    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = V16(), acc1 = V16()
        var i = 0
        while i + 32 <= n {
            acc0 = acc0.addingProduct(load16(x + i), load16(y + i))
            acc1 = acc1.addingProduct(load16(x + i + 16), load16(y + i + 16))
            i += 32
        }
        while i + 16 <= n {
            acc0 = acc0.addingProduct(load16(x + i), load16(y + i))
            i += 16
        }
        var s = hsum(acc0 + acc1)
        while i < n {
            s = s.addingProduct(x[i], y[i])
            i += 1
        }
        return s
    }

    @inline(__always)
    static func sigmoid(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 16 <= n {
            store16(sigmoid16(load16(p + i)), p + i)
            i += 16
        }
        while i < n {
            p[i] = sigmoid1(p[i])
            i += 1
        }
    }

    @inline(__always)
    static func tanh(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 16 <= n {
            store16(tanh16(load16(p + i)), p + i)
            i += 16
        }
        while i < n {
            p[i] = tanh1(p[i])
            i += 1
        }
    }

    @inline(__always)
    static func expScalar(_ x: Float) -> Float {
        expf(x)
    }

    /// Activations run as whole-vector passes (`sigmoid`/`tanh` keep their exp inlined; a fused per-16-unit
    /// loop with five exp chains was not inlined by the compiler and ran slower), the rest in SIMD16.
    @inline(__always)
    static func lstmPointwise(_ a: UnsafeMutablePointer<Float>, cPrev: UnsafePointer<Float>,
                              cOut: UnsafeMutablePointer<Float>, hOut: UnsafeMutablePointer<Float>, _ h: Int) {
        sigmoid(a, 3 * h)
        tanh(a + 3 * h, h)
        let tc = a + 4 * h
        var k = 0
        while k + 16 <= h {
            let c = (load16(a + h + k) * load16(cPrev + k)).addingProduct(load16(a + k), load16(a + 3 * h + k))
            store16(c, cOut + k)
            store16(c, tc + k)
            k += 16
        }
        while k < h {
            let c = (a[h + k] * cPrev[k]).addingProduct(a[k], a[3 * h + k])
            cOut[k] = c
            tc[k] = c
            k += 1
        }
        tanh(tc, h)
        k = 0
        while k + 16 <= h {
            store16(load16(a + 2 * h + k) * load16(tc + k), hOut + k)
            k += 16
        }
        while k < h {
            hOut[k] = a[2 * h + k] * tc[k]
            k += 1
        }
    }
}

extension Float {
    @inline(__always)
    static func gruPointwise(_ a: UnsafeMutablePointer<Float>, ah: UnsafePointer<Float>, hPrev: UnsafePointer<Float>,
                             hOut: UnsafeMutablePointer<Float>, _ h: Int) {
        guard h % 16 == 0 else {
            gruPointwiseScalar(a, ah: ah, hPrev: hPrev, hOut: hOut, h)
            return
        }
        var k = 0
        while k < 2 * h {
            store16(load16(a + k) + load16(ah + k), a + k)
            k += 16
        }
        sigmoid(a, 2 * h)
        k = 0
        while k < h {
            store16(load16(a + 2 * h + k).addingProduct(load16(a + k), load16(ah + 2 * h + k)), a + 2 * h + k)
            k += 16
        }
        tanh(a + 2 * h, h)
        k = 0
        while k < h {
            let z = load16(a + h + k), n = load16(a + 2 * h + k)
            store16(n.addingProduct(z, load16(hPrev + k) - n), hOut + k)   // (1−z)n + z·h_prev = n + z(h_prev − n)
            k += 16
        }
    }
}

// MARK: - Double: reference loops

extension Double: EngineScalar {
    static func affine(_ out: UnsafeMutablePointer<Double>, _ n: Int, bias: UnsafePointer<Double>,
                       _ rows: UnsafePointer<Double>, _ stride: Int, _ u: UnsafePointer<Double>, _ ku: Int,
                       _ v: UnsafePointer<Double>, _ kv: Int) {
        out.update(from: bias, count: n)
        gemv(out, n, rows, stride, u, ku)
        gemv(out, n, rows + ku * stride, stride, v, kv)
    }

    static func gemv(_ out: UnsafeMutablePointer<Double>, _ n: Int, _ rows: UnsafePointer<Double>, _ stride: Int,
                     _ v: UnsafePointer<Double>, _ k: Int) {
        for j in 0..<k {
            axpy(v[j], rows + j * stride, out, n)
        }
    }

    static func axpy(_ a: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int) {
        for i in 0..<n { y[i] += a * x[i] }
    }

    static func dot(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ n: Int) -> Double {
        var s = 0.0
        for i in 0..<n { s += x[i] * y[i] }
        return s
    }

    static func sigmoid(_ p: UnsafeMutablePointer<Double>, _ n: Int) {
        for i in 0..<n { p[i] = 1 / (1 + exp(-p[i])) }
    }

    static func tanh(_ p: UnsafeMutablePointer<Double>, _ n: Int) {
        for i in 0..<n { p[i] = libmTanh(p[i]) }
    }

    static func expScalar(_ x: Double) -> Double {
        exp(x)
    }

    static func lstmPointwise(_ a: UnsafeMutablePointer<Double>, cPrev: UnsafePointer<Double>,
                              cOut: UnsafeMutablePointer<Double>, hOut: UnsafeMutablePointer<Double>, _ h: Int) {
        lstmPointwiseScalar(a, cPrev: cPrev, cOut: cOut, hOut: hOut, h, from: 0)
    }

    static func gruPointwise(_ a: UnsafeMutablePointer<Double>, ah: UnsafePointer<Double>, hPrev: UnsafePointer<Double>,
                             hOut: UnsafeMutablePointer<Double>, _ h: Int) {
        gruPointwiseScalar(a, ah: ah, hPrev: hPrev, hOut: hOut, h)
    }
}

@inline(__always) private func libmTanh(_ x: Double) -> Double {
    tanh(x)
}
