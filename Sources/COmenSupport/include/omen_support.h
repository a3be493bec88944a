// Small C helpers Swift has no spelling for: software prefetch, sincos, and the int8 × int16 integer dot products of
// the int8 online step (AVX2 `vpmaddwd`; Swift's SIMD types have no widening multiply-add).
#ifndef OMEN_SUPPORT_H
#define OMEN_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// Software prefetch of the cache line holding `p` into all cache levels, for reading. Never faults.
static inline void omen_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/// Software prefetch of the cache line holding `p`, for writing (e.g. a reference count about to change).
static inline void omen_prefetch_write(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

/// Prefetches every cache line of [p, p + bytes).
static inline void omen_prefetch_range(const void *p, size_t bytes) {
    const char *c = (const char *)p;
    for (size_t i = 0; i < bytes; i += 64) {
        __builtin_prefetch(c + i, 0, 3);
    }
    if (bytes > 0) {
        __builtin_prefetch(c + bytes - 1, 0, 3);
    }
}

/// sin(x) and cos(x) with one argument reduction (glibc's sincos, a GNU extension Swift's Glibc does not show;
/// it computes what sin and cos do).
static inline void omen_sincos(double x, double *s, double *c) {
    __builtin_sincos(x, s, c);
}

/// Largest input count (x or h) `omen_i8_gates` accepts: 256 pairs keep every int32 sum exact
/// (256 · 2 · 32767 · 127 < 2^31).
#define OMEN_I8_MAX_INPUTS 512

/// IEEE half-precision bits of `f`, rounded to nearest even (the int8 models store scales and biases so).
uint16_t omen_f16_bits(float f);

/// Gate pre-activations of one step from int8 weights, with the two input vectors quantised to int16 on the fly
/// (each with its own scale, max|·|/32767) so the products are exact integer sums:
///   out[o]  = bias[o]  + su[o]·unit·us·Σ_j Qu[j][o]·uq[j]   (+ sv[o]·unit·vs·Σ_j Qv[j][o]·vq[j] if outH is NULL)
///   outH[o] = biasH[o] + sv[o]·unit·vs·Σ_j Qv[j][o]·vq[j]    (if outH is not NULL: the GRU's separate h side)
/// bias, biasH, su and sv are IEEE half-precision bits; `unit` is a power of two that brings the column scales
/// (stored multiplied by 1/unit) back from the half-precision range.
/// `n` outputs (a multiple of 16), `ku`, `kv` ≤ OMEN_I8_MAX_INPUTS. Weights in panels (see `omen_i8_panel_offset`):
/// panel p covers outputs [64p, 64p + w) with w = min(64, n − 64p); inside it, for each pair of inputs (x pairs
/// first, then h pairs, odd counts padded with a zero row), w/8 groups of 16 bytes: Q[2q][o], Q[2q+1][o] for
/// the group's 8 outputs o, interleaved. A non-finite input counts as 0 (so it cannot poison a recurrent state).
/// Every 64 weight bytes read also prefetch the line `prefetch_delta` bytes away (0: none).
/// AVX2 when the CPU has it, else portable C with the same integer sums.
void omen_i8_gates(float *out, float *outH, int n, const uint16_t *bias, const uint16_t *biasH,
                   const int8_t *panels, const uint16_t *su, const uint16_t *sv, float unit,
                   const float *u, int ku, const float *v, int kv, ptrdiff_t prefetch_delta);

/// One LSTM step on int8 weights, fused in one call: the gates as `omen_i8_gates` (blocks i, f, o, g of
/// `hidden` columns each), i, f, o = σ, g = tanh, c = f⊙c + i⊙g, h = o⊙tanh(c) (h and c updated in place),
/// then the head: returns w_m·h + b_m and writes w_v·h + b_v into *raw when `outputs` is 2 (else 0).
/// σ and tanh are a rational approximation (absolute error below 1e-6). `hidden` ≤ OMEN_I8_MAX_INPUTS.
float omen_i8_lstm_step(int hidden, const int8_t *panels, const uint16_t *sx, const uint16_t *sh, float unit,
                        const uint16_t *bias, const float *head_w, const float *head_b, int outputs,
                        const float *x, int ku, float *h, float *c, float *raw, ptrdiff_t prefetch_delta);

/// `omen_i8_lstm_step` in portable C whatever the CPU (the reference for tests).
float omen_i8_lstm_step_portable(int hidden, const int8_t *panels, const uint16_t *sx, const uint16_t *sh,
                                 float unit, const uint16_t *bias, const float *head_w, const float *head_b,
                                 int outputs, const float *x, int ku, float *h, float *c, float *raw);

/// `omen_i8_gates` in portable C whatever the CPU: the reference the AVX2 version must match (tests call it).
void omen_i8_gates_portable(float *out, float *outH, int n, const uint16_t *bias, const uint16_t *biasH,
                            const int8_t *panels, const uint16_t *su, const uint16_t *sv, float unit,
                            const float *u, int ku, const float *v, int kv);

/// Byte offset in the panel layout of weight Q[j][o] (j < ku: input-side row j; else recurrent row j − ku).
static inline size_t omen_i8_panel_offset(int n, int ku, int kv, int j, int o) {
    int pairs = (ku + 1) / 2 + (kv + 1) / 2;
    int panel = o / 64, w = (n - 64 * panel) < 64 ? (n - 64 * panel) : 64;
    int pair = j < ku ? j / 2 : (ku + 1) / 2 + (j - ku) / 2;
    int second = j < ku ? j % 2 : (j - ku) % 2;
    int oo = o % 64;
    return (size_t)panel * 64 * 2 * (size_t)pairs + (size_t)pair * 2 * (size_t)w + (size_t)(oo / 8) * 16
        + (size_t)(oo % 8) * 2 + (size_t)second;
}

#endif
