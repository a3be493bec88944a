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

/// Quantises k floats to int16 with the scale max|x| / 32767, padding to an even count with a zero; returns
/// the scale (0 when every value is 0, NaN when one is not finite: the products it feeds then become NaN).
static inline __attribute__((always_inline)) float quantize_scalar(const float *x, int k, int16_t *q) {
    float m = 0;
    int bad = 0;
    for (int i = 0; i < k; i++) {
        float a = fabsf(x[i]);
        if (!(a <= FLT_MAX)) {
            bad = 1;
        } else if (a > m) {
            m = a;
        }
    }
    int padded = k + (k & 1);
    if (bad || m == 0) {
        memset(q, 0, sizeof(int16_t) * (size_t)padded);
        return bad ? NAN : 0;
    }
    float inv = 32767.0f / m;
    for (int i = 0; i < k; i++) {
        float r = __builtin_rintf(x[i] * inv);
        q[i] = (int16_t)(r > 32767.0f ? 32767.0f : (r < -32767.0f ? -32767.0f : r));
    }
    if (k & 1) {
        q[k] = 0;
    }
    return m / 32767.0f;
}

static inline int32_t pair_at(const int16_t *q, int pair) {
    int32_t v;
    memcpy(&v, q + 2 * pair, sizeof v);
    return v;
}

// MARK: - Portable

static void gates_portable(float *out, float *outH, int n, const float *bias, const float *biasH,
                           const int8_t *panels, const float *su, const float *sv,
                           const float *u, int ku, const float *v, int kv) {
    int16_t uq[OMEN_I8_MAX_INPUTS + 2], vq[OMEN_I8_MAX_INPUTS + 2];
    float us = quantize_scalar(u, ku, uq);
    float vs = quantize_scalar(v, kv, vq);
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
            float a = fmaf((float)su32, su[o0 + o] * us, bias[o0 + o]);
            if (outH) {
                out[o0 + o] = a;
                outH[o0 + o] = fmaf((float)sv32, sv[o0 + o] * vs, biasH[o0 + o]);
            } else {
                out[o0 + o] = fmaf((float)sv32, sv[o0 + o] * vs, a);
            }
        }
        w += (size_t)(pu + pv) * 2 * (size_t)width;
    }
}

// MARK: - AVX2

#if OMEN_X86_64

#define AVX2 __attribute__((target("avx2,fma")))

/// As `quantize_scalar` (bit-identical results), eight lanes at a time when k is a multiple of 8.
AVX2 static inline __attribute__((always_inline)) float quantize_avx2(const float *x, int k, int16_t *q) {
    if (k % 8 != 0) {
        return quantize_scalar(x, k, q);
    }
    const __m256 sign = _mm256_set1_ps(-0.0f), huge = _mm256_set1_ps(FLT_MAX);
    __m256 m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (int i = 0; i < k; i += 8) {
        __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i));
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, huge, _CMP_NLE_UQ)); // NaN or infinite
        m = _mm256_max_ps(m, a);
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    float mx = _mm_cvtss_f32(m4);
    if (_mm256_movemask_ps(bad) != 0 || mx == 0) {
        memset(q, 0, sizeof(int16_t) * (size_t)k);
        return _mm256_movemask_ps(bad) != 0 ? NAN : 0;
    }
    float inv = 32767.0f / mx;
    const __m256 vinv = _mm256_set1_ps(inv);
    for (int i = 0; i < k; i += 8) {
        __m256i r = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
        __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128((__m128i *)(q + i), p);
    }
    return mx / 32767.0f;
}

/// One panel of G groups of 8 outputs: pu input-side pairs, then pv recurrent pairs, each 16·G bytes.
AVX2 static inline __attribute__((always_inline)) void panel_avx2(
    const int G, float *out, float *outH, const float *bias, const float *biasH, const int8_t *w,
    const float *su, const float *sv, float us, float vs, const int16_t *uq, int pu, const int16_t *vq, int pv,
    ptrdiff_t delta) {
    __m256i acc[8];
    for (int g = 0; g < G; g++) acc[g] = _mm256_setzero_si256();
    for (int q = 0; q < pu; q++) {
        const __m256i b = _mm256_set1_epi32(pair_at(uq, q));
        if (delta) {
            for (int g = 0; g < G; g += 4) _mm_prefetch((const char *)(w + 16 * g + delta), _MM_HINT_T0);
        }
        for (int g = 0; g < G; g++) {
            __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 16 * g)));
            acc[g] = _mm256_add_epi32(acc[g], _mm256_madd_epi16(wv, b));
        }
        w += 16 * G;
    }
    const __m256 cu = _mm256_set1_ps(us);
    for (int g = 0; g < G; g++) {
        __m256 s = _mm256_mul_ps(_mm256_loadu_ps(su + 8 * g), cu);
        _mm256_storeu_ps(out + 8 * g, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[g]), s, _mm256_loadu_ps(bias + 8 * g)));
        acc[g] = _mm256_setzero_si256();
    }
    for (int q = 0; q < pv; q++) {
        const __m256i b = _mm256_set1_epi32(pair_at(vq, q));
        if (delta) {
            for (int g = 0; g < G; g += 4) _mm_prefetch((const char *)(w + 16 * g + delta), _MM_HINT_T0);
        }
        for (int g = 0; g < G; g++) {
            __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 16 * g)));
            acc[g] = _mm256_add_epi32(acc[g], _mm256_madd_epi16(wv, b));
        }
        w += 16 * G;
    }
    const __m256 cv = _mm256_set1_ps(vs);
    float *dst = outH ? outH : out;
    for (int g = 0; g < G; g++) {
        __m256 s = _mm256_mul_ps(_mm256_loadu_ps(sv + 8 * g), cv);
        __m256 base = outH ? _mm256_loadu_ps(biasH + 8 * g) : _mm256_loadu_ps(out + 8 * g);
        _mm256_storeu_ps(dst + 8 * g, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[g]), s, base));
    }
}

AVX2 static void gates_avx2(float *out, float *outH, int n, const float *bias, const float *biasH,
                            const int8_t *panels, const float *su, const float *sv,
                            const float *u, int ku, const float *v, int kv, ptrdiff_t delta) {
    int16_t uq[OMEN_I8_MAX_INPUTS + 2] __attribute__((aligned(32)));
    int16_t vq[OMEN_I8_MAX_INPUTS + 2] __attribute__((aligned(32)));
    float us = quantize_avx2(u, ku, uq);
    float vs = quantize_avx2(v, kv, vq);
    int pu = (ku + 1) / 2, pv = (kv + 1) / 2;
    const int8_t *w = panels;
    for (int o = 0; o < n; o += 64) {
        int width = n - o < 64 ? n - o : 64;
        float *oh = outH ? outH + o : NULL;
        const float *bh = outH ? biasH + o : NULL;
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

#endif

void omen_i8_gates(float *out, float *outH, int n, const float *bias, const float *biasH,
                   const int8_t *panels, const float *su, const float *sv,
                   const float *u, int ku, const float *v, int kv, ptrdiff_t prefetch_delta) {
#if OMEN_X86_64
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        gates_avx2(out, outH, n, bias, biasH, panels, su, sv, u, ku, v, kv, prefetch_delta);
        return;
    }
#endif
    gates_portable(out, outH, n, bias, biasH, panels, su, sv, u, ku, v, kv);
}

void omen_i8_gates_portable(float *out, float *outH, int n, const float *bias, const float *biasH,
                            const int8_t *panels, const float *su, const float *sv,
                            const float *u, int ku, const float *v, int kv) {
    gates_portable(out, outH, n, bias, biasH, panels, su, sv, u, ku, v, kv);
}
