/* The sampler's small matrix products, out (nb, J) += X (nb, K) @ W (K, J).
 *
 * Register-blocked like a GEMM micro-kernel: a tile of 2 streams x 4 vectors of out stays
 * in registers while k runs over K, so each step reads every weight once per pair of
 * streams and never reloads out. Each out element is summed in k order starting from its
 * old value, whatever the tile: a stream gets the same bits alone or in a batch.
 * On x86-64 GCC builds an AVX2+FMA clone beside the baseline one and picks at load time
 * (target_clones): no -march flag, the extension still runs on any x86-64. */
#ifndef WAVECORE_SIMD_H
#define WAVECORE_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define WC_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define WC_CLONES
#endif

#define WC_MM_ACC(NAME, T, VL)                                                              \
typedef T NAME##_v __attribute__((vector_size(VL * sizeof(T))));                          \
static inline NAME##_v NAME##_ld(const T *p) { NAME##_v v; __builtin_memcpy(&v, p, sizeof v); return v; } \
static inline void NAME##_st(T *p, NAME##_v v) { __builtin_memcpy(p, &v, sizeof v); }     \
WC_CLONES static void NAME(const T *restrict X, long nb, long K, long ldx,                 \
                           const T *restrict W, long J, T *restrict out, long ldo) {       \
    const long JT = 4 * VL;                                                                 \
    long j = 0;                                                                             \
    for (; j + JT <= J; j += JT) {                                                          \
        long b = 0;                                                                         \
        for (; b + 2 <= nb; b += 2) {                                                       \
            T *o0 = out + b * ldo + j, *o1 = o0 + ldo;                                      \
            NAME##_v a0 = NAME##_ld(o0), a1 = NAME##_ld(o0 + VL), a2 = NAME##_ld(o0 + 2 * VL), \
                     a3 = NAME##_ld(o0 + 3 * VL);                                           \
            NAME##_v c0 = NAME##_ld(o1), c1 = NAME##_ld(o1 + VL), c2 = NAME##_ld(o1 + 2 * VL), \
                     c3 = NAME##_ld(o1 + 3 * VL);                                           \
            const T *x0 = X + b * ldx, *x1 = x0 + ldx;                                      \
            for (long k = 0; k < K; k++) {                                                  \
                const T *w = W + k * J + j;                                                 \
                NAME##_v w0 = NAME##_ld(w), w1 = NAME##_ld(w + VL), w2 = NAME##_ld(w + 2 * VL), \
                         w3 = NAME##_ld(w + 3 * VL);                                        \
                T s0 = x0[k], s1 = x1[k];                                                   \
                a0 += s0 * w0; a1 += s0 * w1; a2 += s0 * w2; a3 += s0 * w3;                 \
                c0 += s1 * w0; c1 += s1 * w1; c2 += s1 * w2; c3 += s1 * w3;                 \
            }                                                                               \
            NAME##_st(o0, a0); NAME##_st(o0 + VL, a1); NAME##_st(o0 + 2 * VL, a2);          \
            NAME##_st(o0 + 3 * VL, a3);                                                     \
            NAME##_st(o1, c0); NAME##_st(o1 + VL, c1); NAME##_st(o1 + 2 * VL, c2);          \
            NAME##_st(o1 + 3 * VL, c3);                                                     \
        }                                                                                   \
        for (; b < nb; b++) {                                                               \
            T *o0 = out + b * ldo + j;                                                      \
            NAME##_v a0 = NAME##_ld(o0), a1 = NAME##_ld(o0 + VL), a2 = NAME##_ld(o0 + 2 * VL), \
                     a3 = NAME##_ld(o0 + 3 * VL);                                           \
            const T *x0 = X + b * ldx;                                                      \
            for (long k = 0; k < K; k++) {                                                  \
                const T *w = W + k * J + j;                                                 \
                T s0 = x0[k];                                                               \
                a0 += s0 * NAME##_ld(w); a1 += s0 * NAME##_ld(w + VL);                      \
                a2 += s0 * NAME##_ld(w + 2 * VL); a3 += s0 * NAME##_ld(w + 3 * VL);         \
            }                                                                               \
            NAME##_st(o0, a0); NAME##_st(o0 + VL, a1); NAME##_st(o0 + 2 * VL, a2);          \
            NAME##_st(o0 + 3 * VL, a3);                                                     \
        }                                                                                   \
    }                                                                                       \
    for (; j < J; j++)                                  /* the columns left over */         \
        for (long b = 0; b < nb; b++) {                                                     \
            T s = out[b * ldo + j];                                                         \
            for (long k = 0; k < K; k++) s += X[b * ldx + k] * W[k * J + j];                \
            out[b * ldo + j] = s;                                                           \
        }                                                                                   \
}

WC_MM_ACC(wc_mm_acc_f, float, 8)
WC_MM_ACC(wc_mm_acc_d, double, 4)

#include "fastmath.h"

/* The float32 gate over m rows: fg (m, 2D) becomes [tanh f; sigmoid g] in place and
 * z (m, D, row stride ldz) = tanh f * sigmoid g. Branch-free loops over contiguous runs,
 * so both clones vectorise (wavecore/engine/ops/gate.py is the reference). */
WC_CLONES static void wc_gate_f(float *restrict fg, long m, long D, float *restrict z, long ldz) {
    for (long i = 0; i < m; i++) {
        float *f = fg + i * 2 * D, *g = f + D, *o = z + i * ldz;
        for (long j = 0; j < D; j++) f[j] = wc_tanhf(f[j]);
        for (long j = 0; j < D; j++) g[j] = 0.5f + 0.5f * wc_tanhf(0.5f * g[j]);
        for (long j = 0; j < D; j++) o[j] = f[j] * g[j];
    }
}

#endif
