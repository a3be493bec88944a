// The int8 gate products of the online step (see `omen_i8_gates` in include/omen_support.h); the rest of
// COmenSupport is header-only.
//
// Why C: the int8 step's cost is the product of 4,736 int8 weights with 37 floats. Widening each weight to a
// Float costs two or three vector operations per 8 weights before the FMA; quantising the two input vectors to
// int16 instead (37 values per step) lets AVX2's `vpmaddwd` multiply 16 weights by 16 inputs and add pairs in
// one instruction, with exact int32 sums. Swift's SIMD types have no widening multiply-add, so this one kernel
// is written with intrinsics. The portable version computes the same integer sums (same quantisation, same
// rounding), so both give identical pre-activations up to the final multiply-add, which is fused in both.

#include "omen_support.h"

#include <float.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define OMEN_X86_64 1
#endif

/// Quantises k floats to int16 with the scale max|x| / 32767 over the finite values, padding to an even count
/// with a zero; returns the scale (0 when every value is 0). A non-finite value counts as 0: the callers never
/// pass one (the detector rejects non-finite points), and a NaN here would otherwise poison the recurrent state
/// for good.
static inline __attribute__((always_inline)) float quantize_scalar(const float *x, int k, int16_t *q) {
    float m = 0;
    for (int i = 0; i < k; i++) {
        float a = fabsf(x[i]);
        if (a <= FLT_MAX && a > m) {
            m = a;
        }
    }
    int padded = k + (k & 1);
    if (m == 0) {
        memset(q, 0, sizeof(int16_t) * (size_t)padded);
        return 0;
    }
    float inv = 32767.0f / m;
    for (int i = 0; i < k; i++) {
        float r = fabsf(x[i]) <= FLT_MAX ? __builtin_rintf(x[i] * inv) : 0;
        q[i] = (int16_t)(r > 32767.0f ? 32767.0f : (r < -32767.0f ? -32767.0f : r));
    }
    if (k & 1) {
        q[k] = 0;
    }
    return m / 32767.0f;
}

/// IEEE half-precision bits to Float (exact).
static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    if (exponent == 0) {
        float f = (float)mantissa * 0x1p-24f; // zero and subnormals, exactly
        return sign ? -f : f;
    }
    uint32_t bits = exponent == 31 ? (sign | 0x7F800000 | (mantissa << 13))
                                   : (sign | ((exponent + 112) << 23) | (mantissa << 13));
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t omen_f16_bits(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7FFFFFFF;
    if (ax >= 0x7F800000) {
        return sign | 0x7C00 | (ax > 0x7F800000 ? 0x200 : 0); // infinity, NaN
    }
    if (ax >= 0x477FF000) {
        return sign | 0x7C00; // rounds past the largest half (65504)
    }
    if (ax < 0x38800000) { // below 2^-14: a subnormal half, round(|f| · 2^24) (the product is exact)
        float a;
        memcpy(&a, &ax, sizeof a);
        return sign | (uint16_t)__builtin_rintf(a * 0x1p24f);
    }
    uint32_t r = ax + 0xFFF + ((ax >> 13) & 1); // round to nearest even on the 13 dropped bits
    return sign | (uint16_t)((r - 0x38000000) >> 13);
}

static inline int32_t pair_at(const int16_t *q, int pair) {
    int32_t v;
    memcpy(&v, q + 2 * pair, sizeof v);
    return v;
}

// MARK: - Portable

static void gates_portable(float *out, float *outH, int n, const uint16_t *bias, const uint16_t *biasH,
                           const int8_t *panels, const uint16_t *su, const uint16_t *sv, float unit,
                           const float *u, int ku, const float *v, int kv) {
    int16_t uq[OMEN_I8_MAX_INPUTS + 2], vq[OMEN_I8_MAX_INPUTS + 2];
    float cu = quantize_scalar(u, ku, uq) * unit;
    float cv = quantize_scalar(v, kv, vq) * unit;
    int pu = (ku + 1) / 2, pv = (kv + 1) / 2;
    const int8_t *w = panels;
    for (int o0 = 0; o0 < n; o0 += 64) {
        int width = n - o0 < 64 ? n - o0 : 64;
        for (int o = 0; o < width; o++) {
            const int8_t *col = w + (o / 8) * 16 + (o % 8) * 2;
            int32_t su32 = 0, sv32 = 0;
            for (int q = 0; q < pu; q++) {
                su32 += (int32_t)col[0] * uq[2 * q] + (int32_t)col[1] * uq[2 * q + 1];
                col += 2 * width;
            }
            for (int q = 0; q < pv; q++) {
                sv32 += (int32_t)col[0] * vq[2 * q] + (int32_t)col[1] * vq[2 * q + 1];
                col += 2 * width;
            }
            float a = fmaf((float)su32, half_to_float(su[o0 + o]) * cu, half_to_float(bias[o0 + o]));
            if (outH) {
                out[o0 + o] = a;
                outH[o0 + o] = fmaf((float)sv32, half_to_float(sv[o0 + o]) * cv, half_to_float(biasH[o0 + o]));
            } else {
                out[o0 + o] = fmaf((float)sv32, half_to_float(sv[o0 + o]) * cv, a);
            }
        }
        w += (size_t)(pu + pv) * 2 * (size_t)width;
    }
}

// tanh as Eigen's rational approximation (odd degree 13 over even degree 6, clamped where tanh rounds to ±1):
// one division instead of an exp and a division, absolute error ~1e-7. NaN passes through.
#define TANH_CLAMP 7.90531110763549805f
#define TANH_A1 4.89352455891786e-03f
#define TANH_A3 6.37261928875436e-04f
#define TANH_A5 1.48572235717979e-05f
#define TANH_A7 5.12229709037114e-08f
#define TANH_A9 -8.60467152213735e-11f
#define TANH_A11 2.00018790482477e-13f
#define TANH_A13 -2.76076847742355e-16f
#define TANH_B0 4.89352518554385e-03f
#define TANH_B2 2.26843463243900e-03f
#define TANH_B4 1.18534705686654e-04f
#define TANH_B6 1.19825839466702e-06f

static inline float tanh_scalar(float x) {
    x = x > TANH_CLAMP ? TANH_CLAMP : (x < -TANH_CLAMP ? -TANH_CLAMP : x);
    float x2 = x * x;
    float p = fmaf(x2, TANH_A13, TANH_A11);
    p = fmaf(x2, p, TANH_A9);
    p = fmaf(x2, p, TANH_A7);
    p = fmaf(x2, p, TANH_A5);
    p = fmaf(x2, p, TANH_A3);
    p = fmaf(x2, p, TANH_A1);
    p = p * x;
    float q = fmaf(x2, TANH_B6, TANH_B4);
    q = fmaf(x2, q, TANH_B2);
    q = fmaf(x2, q, TANH_B0);
    return p / q;
}

static inline float sigmoid_scalar(float x) {
    return fmaf(0.5f, tanh_scalar(0.5f * x), 0.5f);
}

float omen_i8_lstm_step_portable(int hidden, const int8_t *panels, const uint16_t *sx, const uint16_t *sh, float unit,
                                 const uint16_t *bias, const float *head_w, const float *head_b, int outputs,
                                 const float *x, int ku, float *h, float *c, float *raw) {
    float a[4 * OMEN_I8_MAX_INPUTS];
    gates_portable(a, NULL, 4 * hidden, bias, NULL, panels, sx, sh, unit, x, ku, h, hidden);
    float mean = head_b[0], var = outputs == 2 ? head_b[1] : 0;
    for (int k = 0; k < hidden; k++) {
        float i = sigmoid_scalar(a[k]), f = sigmoid_scalar(a[hidden + k]), o = sigmoid_scalar(a[2 * hidden + k]);
        float g = tanh_scalar(a[3 * hidden + k]);
        float cn = fmaf(f, c[k], i * g);
        float hn = o * tanh_scalar(cn);
        c[k] = cn;
        h[k] = hn;
        mean = fmaf(hn, head_w[k], mean);
        if (outputs == 2) var = fmaf(hn, head_w[hidden + k], var);
    }
    *raw = var;
    return mean;
}

// MARK: - AVX2

#if OMEN_X86_64

#define AVX2 __attribute__((target("avx2,fma,f16c")))

/// Eight IEEE half-precision values (exact conversion, as `half_to_float`).
AVX2 static inline __attribute__((always_inline)) __m256 load_half8(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/// As `quantize_scalar` (bit-identical results: the same max, reciprocal, product and round-to-nearest-even),
/// eight lanes at a time; the last partial group is a masked load, so lanes past k quantise to 0. `q` has room
/// for k rounded up to a multiple of 8.
AVX2 static inline __attribute__((always_inline)) float quantize_avx2(const float *x, int k, int16_t *q) {
    static const int32_t lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    const __m256 sign = _mm256_set1_ps(-0.0f), huge = _mm256_set1_ps(FLT_MAX);
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < k; i += 8) {
        __m256i mask = _mm256_loadu_si256((const __m256i *)(lanes + 8 - (k - i < 8 ? k - i : 8)));
        __m256 a = _mm256_andnot_ps(sign, _mm256_maskload_ps(x + i, mask));
        m = _mm256_max_ps(m, _mm256_and_ps(a, _mm256_cmp_ps(a, huge, _CMP_LE_OQ))); // non-finite → 0
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    float mx = _mm_cvtss_f32(m4);
    int rounded = (k + 7) & ~7;
    if (mx == 0) {
        memset(q, 0, sizeof(int16_t) * (size_t)rounded);
        return 0;
    }
    const __m256 vinv = _mm256_set1_ps(32767.0f / mx);
    for (int i = 0; i < k; i += 8) {
        __m256i mask = _mm256_loadu_si256((const __m256i *)(lanes + 8 - (k - i < 8 ? k - i : 8)));
        __m256 v = _mm256_maskload_ps(x + i, mask);
        v = _mm256_and_ps(v, _mm256_cmp_ps(_mm256_andnot_ps(sign, v), huge, _CMP_LE_OQ));
        __m256i r = _mm256_cvtps_epi32(_mm256_mul_ps(v, vinv));
        __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128((__m128i *)(q + i), p);
    }
    return mx / 32767.0f;
}

/// Adds one input block's products to the panel's G accumulators: per pair of quantised inputs, 16 int8 weights
/// per accumulator (`vpmaddwd`: exact int32 sums), prefetching the next model's same lines `delta` bytes away.
/// Returns the weights that follow the block.
AVX2 static inline __attribute__((always_inline)) const int8_t *madd_pairs_avx2(
    const int G, __m256i *acc, const int8_t *w, const int16_t *xq, int pairs, ptrdiff_t delta) {
    for (int q = 0; q < pairs; q++) {
        const __m256i b = _mm256_set1_epi32(pair_at(xq, q));
        if (delta) {
            for (int g = 0; g < G; g += 4) _mm_prefetch((const char *)(w + 16 * g + delta), _MM_HINT_T0);
        }
        for (int g = 0; g < G; g++) {
            __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 16 * g)));
            acc[g] = _mm256_add_epi32(acc[g], _mm256_madd_epi16(wv, b));
        }
        w += 16 * G;
    }
    return w;
}

/// One panel of G groups of 8 outputs: pu input-side pairs, then pv recurrent pairs, each 16·G bytes.
AVX2 static inline __attribute__((always_inline)) void panel_avx2(
    const int G, float *out, float *outH, const uint16_t *bias, const uint16_t *biasH, const int8_t *w,
    const uint16_t *su, const uint16_t *sv, float us, float vs, const int16_t *uq, int pu, const int16_t *vq, int pv,
    ptrdiff_t delta) {
    __m256i acc[8];
    for (int g = 0; g < G; g++) acc[g] = _mm256_setzero_si256();
    w = madd_pairs_avx2(G, acc, w, uq, pu, delta);
    const __m256 cu = _mm256_set1_ps(us);
    for (int g = 0; g < G; g++) {
        __m256 s = _mm256_mul_ps(load_half8(su + 8 * g), cu);
        _mm256_storeu_ps(out + 8 * g, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[g]), s, load_half8(bias + 8 * g)));
        acc[g] = _mm256_setzero_si256();
    }
    w = madd_pairs_avx2(G, acc, w, vq, pv, delta);
    const __m256 cv = _mm256_set1_ps(vs);
    float *dst = outH ? outH : out;
    for (int g = 0; g < G; g++) {
        __m256 s = _mm256_mul_ps(load_half8(sv + 8 * g), cv);
        __m256 base = outH ? load_half8(biasH + 8 * g) : _mm256_loadu_ps(out + 8 * g);
        _mm256_storeu_ps(dst + 8 * g, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[g]), s, base));
    }
}

AVX2 static void gates_avx2(float *out, float *outH, int n, const uint16_t *bias, const uint16_t *biasH,
                            const int8_t *panels, const uint16_t *su, const uint16_t *sv, float unit,
                            const float *u, int ku, const float *v, int kv, ptrdiff_t delta) {
    int16_t uq[OMEN_I8_MAX_INPUTS + 8] __attribute__((aligned(32)));
    int16_t vq[OMEN_I8_MAX_INPUTS + 8] __attribute__((aligned(32)));
    float us = quantize_avx2(u, ku, uq) * unit;
    float vs = quantize_avx2(v, kv, vq) * unit;
    int pu = (ku + 1) / 2, pv = (kv + 1) / 2;
    const int8_t *w = panels;
    for (int o = 0; o < n; o += 64) {
        int width = n - o < 64 ? n - o : 64;
        float *oh = outH ? outH + o : NULL;
        const uint16_t *bh = outH ? biasH + o : NULL;
        switch (width / 8) {
        case 8:
            panel_avx2(8, out + o, oh, bias + o, bh, w, su + o, sv + o, us, vs, uq, pu, vq, pv, delta);
            break;
        case 6:
            panel_avx2(6, out + o, oh, bias + o, bh, w, su + o, sv + o, us, vs, uq, pu, vq, pv, delta);
            break;
        case 4:
            panel_avx2(4, out + o, oh, bias + o, bh, w, su + o, sv + o, us, vs, uq, pu, vq, pv, delta);
            break;
        default:
            panel_avx2(2, out + o, oh, bias + o, bh, w, su + o, sv + o, us, vs, uq, pu, vq, pv, delta);
            break;
        }
        w += (size_t)(pu + pv) * 2 * (size_t)width;
    }
}

AVX2 static inline __attribute__((always_inline)) __m256 tanh8(__m256 x) {
    const __m256 lim = _mm256_set1_ps(TANH_CLAMP);
    x = _mm256_min_ps(lim, _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), lim), x)); // NaN passes (2nd operand)
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(TANH_A13), _mm256_set1_ps(TANH_A11));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(TANH_A9));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(TANH_A7));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(TANH_A5));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(TANH_A3));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(TANH_A1));
    p = _mm256_mul_ps(p, x);
    __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(TANH_B6), _mm256_set1_ps(TANH_B4));
    q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(TANH_B2));
    q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(TANH_B0));
    // p/q through the reciprocal estimate and one Newton step (relative error ~1e-7, q ≥ 0.0049): a division
    // has a fifth of the throughput.
    __m256 r = _mm256_rcp_ps(q);
    r = _mm256_mul_ps(r, _mm256_fnmadd_ps(q, r, _mm256_set1_ps(2.0f)));
    return _mm256_mul_ps(p, r);
}

AVX2 static inline __attribute__((always_inline)) __m256 sigmoid8(__m256 x) {
    const __m256 half = _mm256_set1_ps(0.5f);
    return _mm256_fmadd_ps(half, tanh8(_mm256_mul_ps(half, x)), half);
}

AVX2 static inline __attribute__((always_inline)) float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

AVX2 static float lstm_step_avx2(int hidden, const int8_t *panels, const uint16_t *sx, const uint16_t *sh, float unit,
                                 const uint16_t *bias, const float *head_w, const float *head_b, int outputs,
                                 const float *x, int ku, float *h, float *c, float *raw, ptrdiff_t delta) {
    float a[4 * OMEN_I8_MAX_INPUTS] __attribute__((aligned(32)));
    gates_avx2(a, NULL, 4 * hidden, bias, NULL, panels, sx, sh, unit, x, ku, h, hidden, delta);
    if (delta) {
        // The next model's scales, biases and head, while the activations run (its panels were fetched during
        // the products, one line per line read).
        const char *tail = (const char *)sx + delta, *end = (const char *)(head_b + outputs) + delta;
        for (; tail < end; tail += 64) _mm_prefetch(tail, _MM_HINT_T0);
        _mm_prefetch(end - 1, _MM_HINT_T0);
    }
    // Activations as one pass of independent vectors (the out-of-order core overlaps them), then the state.
    for (int k = 0; k < 3 * hidden; k += 8) _mm256_store_ps(a + k, sigmoid8(_mm256_load_ps(a + k)));
    for (int k = 3 * hidden; k < 4 * hidden; k += 8) _mm256_store_ps(a + k, tanh8(_mm256_load_ps(a + k)));
    __m256 mean = _mm256_setzero_ps(), var = _mm256_setzero_ps();
    for (int k = 0; k < hidden; k += 8) {
        __m256 i = _mm256_load_ps(a + k), f = _mm256_load_ps(a + hidden + k);
        __m256 o = _mm256_load_ps(a + 2 * hidden + k), g = _mm256_load_ps(a + 3 * hidden + k);
        __m256 cn = _mm256_fmadd_ps(f, _mm256_loadu_ps(c + k), _mm256_mul_ps(i, g));
        __m256 hn = _mm256_mul_ps(o, tanh8(cn));
        _mm256_storeu_ps(c + k, cn);
        _mm256_storeu_ps(h + k, hn);
        mean = _mm256_fmadd_ps(hn, _mm256_loadu_ps(head_w + k), mean);
        if (outputs == 2) var = _mm256_fmadd_ps(hn, _mm256_loadu_ps(head_w + hidden + k), var);
    }
    *raw = outputs == 2 ? hsum8(var) + head_b[1] : 0;
    return hsum8(mean) + head_b[0];
}

/// Whether this CPU runs the AVX2 kernels (checked per call: a load and a test of a word filled at start-up).
static inline int has_avx2(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

#endif

void omen_i8_gates(float *out, float *outH, int n, const uint16_t *bias, const uint16_t *biasH,
                   const int8_t *panels, const uint16_t *su, const uint16_t *sv, float unit,
                   const float *u, int ku, const float *v, int kv, ptrdiff_t prefetch_delta) {
#if OMEN_X86_64
    if (has_avx2()) {
        gates_avx2(out, outH, n, bias, biasH, panels, su, sv, unit, u, ku, v, kv, prefetch_delta);
        return;
    }
#endif
    gates_portable(out, outH, n, bias, biasH, panels, su, sv, unit, u, ku, v, kv);
}

float omen_i8_lstm_step(int hidden, const int8_t *panels, const uint16_t *sx, const uint16_t *sh, float unit,
                        const uint16_t *bias,
                        const float *head_w, const float *head_b, int outputs,
                        const float *x, int ku, float *h, float *c, float *raw, ptrdiff_t prefetch_delta) {
#if OMEN_X86_64
    if (has_avx2() && hidden % 8 == 0) {
        return lstm_step_avx2(hidden, panels, sx, sh, unit, bias, head_w, head_b, outputs, x, ku, h, c, raw,
                              prefetch_delta);
    }
#endif
    return omen_i8_lstm_step_portable(hidden, panels, sx, sh, unit, bias, head_w, head_b, outputs, x, ku, h, c, raw);
}

void omen_i8_gates_portable(float *out, float *outH, int n, const uint16_t *bias, const uint16_t *biasH,
                            const int8_t *panels, const uint16_t *su, const uint16_t *sv, float unit,
                            const float *u, int ku, const float *v, int kv) {
    gates_portable(out, outH, n, bias, biasH, panels, su, sv, unit, u, ku, v, kv);
}
