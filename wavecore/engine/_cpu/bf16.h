/* bf16 matrix products with fp32 accumulation, on AVX512-BF16 (VDPBF16PS).
 *
 * wc_sbgemm: row-major C (M x N) = beta * C + op(A) op(B), where A and B are fp32 in memory
 * and are rounded to bf16 while they are packed (round to nearest even; fp32 subnormals become
 * signed zeros, as VCVTNE2PS2BF16 does), then multiplied in pairs by VDPBF16PS into fp32
 * accumulators. The reference is wavecore.engine.ops.bf16: the same rounding in NumPy, then a float64
 * product; the two differ only by the fp32 accumulation.
 *
 * Goto-style blocking, one thread (the caller's OpenMP blocks own the cores): for each block of
 * KC k's, B is packed once into panels of 32 columns, Bp[kp][c] = (B[2kp, c], B[2kp+1, c]) as
 * bf16 pairs; then for each panel of MR rows, A is packed into an L1-sized buffer and the
 * micro-kernel keeps an MR x 32 tile of C in 24 registers while kp runs (MR x 16 in 12 where N
 * ends within 16 columns). A's pair for (row r, pair kp) is read at Ap[r * ars + kp * aks] (in
 * 32-bit units) and broadcast:
 *   - A not transposed: rows of A converted as they are (ars = pairs per row, aks = 1);
 *   - A transposed (A^T is stored): two k-rows interleaved into Ap[kp][r] (ars = 1, aks = MR).
 * Pads (rows past M, columns past N, an odd K's last half-pair) are zeros, so the tile always
 * runs whole and only its stores are masked. A weight's packing can be kept for the rest of a
 * step (keep_b, wc_bf16_new_step). wc_mv_bf16 is the sampler's few-row product over a weight
 * packed once.
 *
 * The functions carry their own target attribute: the extension is built without -march and
 * runs anywhere; the caller asks wc_bf16_features() first and never calls them without it.
 * AMX tiles are not used (see wavecore/engine/precision.py).
 */
#ifndef WAVECORE_BF16_H
#define WAVECORE_BF16_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WC_BF16_AVX512 1      /* wc_bf16_features() bits */
#define WC_BF16_AMX    2
#define WC_CPU_AMD     4
#define WC_CPU_INTEL   8

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && \
    (defined(__clang__) || __GNUC__ >= 10)
#define WC_BF16_BUILT 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define WC_BF16_BUILT 0
#endif

/* What this processor and OS offer: AVX512-BF16 with AVX512F/BW/VL and ZMM state saved by the
 * OS; AMX-BF16 with tiles; the vendor. 0 where this build has no bf16 kernels. */
static int wc_bf16_features(void) {
#if WC_BF16_BUILT
    unsigned a, b, c, d, flags = 0, xlo, xhi;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    if (b == 0x68747541u) flags |= WC_CPU_AMD;          /* "AuthenticAMD" */
    if (b == 0x756e6547u) flags |= WC_CPU_INTEL;        /* "GenuineIntel" */
    if (a < 7 || !__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return flags;  /* OSXSAVE */
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    __cpuid_count(7, 0, a, b, c, d);
    unsigned ebx7 = b, edx7 = d, max7 = a;
    int zmm_os = (xlo & 0xE6u) == 0xE6u;                /* SSE, AVX, opmask, ZMM state */
    int avx512 = (ebx7 & (1u << 16)) && (ebx7 & (1u << 30)) && (ebx7 & (1u << 31));  /* F BW VL */
    if (max7 >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        if (zmm_os && avx512 && (a & (1u << 5))) flags |= WC_BF16_AVX512;
    }
    if ((edx7 & (1u << 22)) && (edx7 & (1u << 24))) flags |= WC_BF16_AMX;     /* AMX-BF16, tile */
    return flags;
#else
    return 0;
#endif
}

#if WC_BF16_BUILT
#define WC_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define WC_MR 12              /* rows of the C tile */
#define WC_NR 32              /* columns of the C tile: two vectors */
#define WC_KC 512             /* k's per block: a 12 x 512 A panel is 12 KiB */

/* 16 fp32 lanes of lo and hi -> 16 bf16 pairs (lo[i], hi[i]) as 32-bit words. */
WC_BF16_TARGET static inline __m512i wc_pairs(__m512 lo, __m512 hi) {
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                         24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                         16, 0);
    __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);    /* bf16: lo in 0..15, hi in 16..31 */
    return _mm512_permutexvar_epi16(idx, both);
}

/* Pairs from two rows of n <= 16 floats each (row1 NULL: zeros) into out[0..n) as words. */
WC_BF16_TARGET static inline void wc_pack_two(const float *row0, const float *row1, int n,
                                              uint32_t *out) {
    __mmask16 m = (__mmask16)((1u << n) - 1);
    __m512 lo = _mm512_maskz_loadu_ps(m, row0);
    __m512 hi = row1 ? _mm512_maskz_loadu_ps(m, row1) : _mm512_setzero_ps();
    _mm512_mask_storeu_epi32(out, m, wc_pairs(lo, hi));
}

/* n floats -> n bf16 (n even pads included: out holds (n + 1) / 2 words, the pad zero). */
WC_BF16_TARGET static inline void wc_convert_row(const float *x, long n, uint16_t *out) {
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
        _mm512_storeu_si512(out + i, (__m512i)v);
    }
    if (i < n) {
        long r = n - i;
        __mmask16 m0 = (__mmask16)(r >= 16 ? 0xFFFF : (1u << r) - 1);
        __mmask16 m1 = (__mmask16)(r <= 16 ? 0 : (1u << (r - 16)) - 1);
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, x + i + 16),
                                         _mm512_maskz_loadu_ps(m0, x + i));
        long w = (r + 1) / 2;                           /* words, the odd pad included */
        _mm512_mask_storeu_epi32(out + i, (__mmask16)((1u << w) - 1), (__m512i)v);
    }
}

/* B (K x N block: kc rows from k0) into panels Bp[jp][kp][32] of words; tb: B^T is stored. */
WC_BF16_TARGET static void wc_pack_b(int tb, const float *B, long ldb, long k0, long kc, long N,
                                     uint32_t *Bp) {
    long kp = (kc + 1) / 2, jp, p, c;
    for (jp = 0; jp * WC_NR < N; jp++) {
        long j0 = jp * WC_NR, nc = N - j0 < WC_NR ? N - j0 : WC_NR;
        uint32_t *dst = Bp + jp * kp * WC_NR;
        if (!tb) {                                      /* row k of B is contiguous in j */
            for (p = 0; p < kp; p++) {
                const float *r0 = B + (k0 + 2 * p) * ldb + j0;
                const float *r1 = 2 * p + 1 < kc ? r0 + ldb : NULL;
                for (c = 0; c < WC_NR; c += 16) {
                    int n = nc - c > 16 ? 16 : (int)(nc - c);
                    if (n > 0) wc_pack_two(r0 + c, r1 ? r1 + c : NULL, n, dst + p * WC_NR + c);
                    if (n < 16) memset(dst + p * WC_NR + c + (n > 0 ? n : 0), 0,
                                       (16 - (n > 0 ? n : 0)) * sizeof(uint32_t));
                }
            }
        } else {                                        /* B^T stored: column j of B is row j */
            uint16_t row[2 * WC_KC + 2];
            memset(dst, 0, kp * WC_NR * sizeof(uint32_t));
            for (c = 0; c < nc; c++) {
                wc_convert_row(B + (j0 + c) * ldb + k0, kc, row);
                if (kc & 1) row[kc] = 0;
                const uint32_t *w = (const uint32_t *)row;
                for (p = 0; p < kp; p++) dst[p * WC_NR + c] = w[p];
            }
        }
    }
}

/* A rows i0..i0+mr (block of kc k's from k0) into Ap; returns (ars, aks) through pointers. */
WC_BF16_TARGET static void wc_pack_a(int ta, const float *A, long lda, long i0, long mr, long k0,
                                     long kc, uint32_t *Ap, long *ars, long *aks) {
    long kp = (kc + 1) / 2, p, r;
    if (!ta) {                                          /* row i of A is contiguous in k */
        *ars = kp;
        *aks = 1;
        for (r = 0; r < mr; r++) {
            uint16_t *row = (uint16_t *)(Ap + r * kp);
            wc_convert_row(A + (i0 + r) * lda + k0, kc, row);
            if (kc & 1) row[kc] = 0;
        }
        memset(Ap + mr * kp, 0, (WC_MR - mr) * kp * sizeof(uint32_t));
    } else {                                            /* A^T stored: row k of A^T holds A[:, k] */
        *ars = 1;
        *aks = WC_MR;
        for (p = 0; p < kp; p++) {
            const float *r0 = A + (k0 + 2 * p) * lda + i0;
            const float *r1 = 2 * p + 1 < kc ? r0 + lda : NULL;
            wc_pack_two(r0, r1, (int)mr, Ap + p * WC_MR);
            if (mr < WC_MR) memset(Ap + p * WC_MR + mr, 0, (WC_MR - mr) * sizeof(uint32_t));
        }
    }
}

/* C tile (mr x nc, at C with row stride ldc) = beta * C + Ap Bp over kp pairs; NV vectors of
 * 16 columns (the last panel of an N that ends within 16 columns takes the one-vector tile). */
#define WC_TILE(NAME, NV)                                                                         \
WC_BF16_TARGET static void NAME(const uint32_t *Ap, long ars, long aks, const uint32_t *Bp,      \
                                long kp, float *C, long ldc, long mr, long nc, int beta) {       \
    __m512 acc[WC_MR][NV];                                                                        \
    int r, v;                                                                                     \
    _Pragma("GCC unroll 12") for (r = 0; r < WC_MR; r++)                                          \
        _Pragma("GCC unroll 2") for (v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();        \
    for (long p = 0; p < kp; p++) {                                                               \
        __m512bh b[NV];                                                                           \
        _Pragma("GCC unroll 2") for (v = 0; v < NV; v++)                                          \
            b[v] = (__m512bh)_mm512_loadu_si512(Bp + p * WC_NR + 16 * v);                         \
        const uint32_t *a = Ap + p * aks;                                                         \
        _Pragma("GCC unroll 12") for (r = 0; r < WC_MR; r++) {                                    \
            __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r * ars]);                           \
            _Pragma("GCC unroll 2") for (v = 0; v < NV; v++)                                      \
                acc[r][v] = _mm512_dpbf16_ps(acc[r][v], ar, b[v]);                                \
        }                                                                                         \
    }                                                                                             \
    __mmask16 m[2];                                                                               \
    m[0] = (__mmask16)(nc >= 16 ? 0xFFFF : (1u << nc) - 1);                                       \
    m[1] = (__mmask16)(nc >= 32 ? 0xFFFF : nc <= 16 ? 0 : (1u << (nc - 16)) - 1);                 \
    _Pragma("GCC unroll 12") for (r = 0; r < WC_MR; r++) {                                        \
        if (r < mr) {                                                                             \
            float *c = C + r * ldc;                                                               \
            _Pragma("GCC unroll 2") for (v = 0; v < NV; v++) {                                    \
                if (beta) acc[r][v] = _mm512_add_ps(acc[r][v],                                    \
                                                    _mm512_maskz_loadu_ps(m[v], c + 16 * v));     \
                _mm512_mask_storeu_ps(c + 16 * v, m[v], acc[r][v]);                               \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
}
WC_TILE(wc_tile2, 2)
WC_TILE(wc_tile1, 1)

/* This thread's packing buffers, grown on demand (kept for the thread's life). */
static _Thread_local uint32_t *wc_bf16_buf = NULL;
static _Thread_local size_t wc_bf16_cap = 0;

static uint32_t *wc_bf16_scratch(size_t words) {
    if (words > wc_bf16_cap) {
        free(wc_bf16_buf);
        size_t bytes = (words * sizeof(uint32_t) + 63) / 64 * 64;
        wc_bf16_buf = (uint32_t *)aligned_alloc(64, bytes);
        wc_bf16_cap = wc_bf16_buf ? words : 0;
    }
    return wc_bf16_buf;
}

/* Packed B blocks kept for the rest of a step: a weight matrix is packed once per thread per
 * step, not once per call (the output head calls its GEMMs once per chunk of rows). An entry is
 * valid while wc_bf16_epoch is the one it was packed in; the step bumps the epoch first
 * (wc_bf16_new_step, before its parallel regions), so weights updated in place between steps
 * are packed anew. Each thread keeps its own entries and never frees them. */
#define WC_BCACHE 16
typedef struct {
    const float *B;
    long ldb, k0, kc, N;
    int tb;
    unsigned epoch;
    uint32_t *buf;
    size_t cap;
} wc_bentry;
static _Thread_local wc_bentry wc_bcache[WC_BCACHE];
static _Thread_local unsigned wc_bcache_next;
static unsigned wc_bf16_epoch = 1;

static void wc_bf16_new_step(void) { wc_bf16_epoch++; }

/* The packed block (tb, B, ldb, k0, kc, N): from this thread's cache, packed on a miss. */
WC_BF16_TARGET static const uint32_t *wc_cached_b(int tb, const float *B, long ldb, long k0,
                                                  long kc, long N) {
    wc_bentry *e;
    for (int i = 0; i < WC_BCACHE; i++) {
        e = &wc_bcache[i];
        if (e->epoch == wc_bf16_epoch && e->B == B && e->ldb == ldb && e->k0 == k0 &&
            e->kc == kc && e->N == N && e->tb == tb)
            return e->buf;
    }
    e = &wc_bcache[wc_bcache_next++ % WC_BCACHE];
    size_t words = (size_t)((N + WC_NR - 1) / WC_NR) * ((kc + 1) / 2) * WC_NR;
    if (words > e->cap) {
        free(e->buf);
        e->buf = (uint32_t *)aligned_alloc(64, (words * sizeof(uint32_t) + 63) / 64 * 64);
        e->cap = e->buf ? words : 0;
        e->epoch = 0;
        if (!e->buf) return NULL;
    }
    wc_pack_b(tb, B, ldb, k0, kc, N, e->buf);
    e->B = B, e->ldb = ldb, e->k0 = k0, e->kc = kc, e->N = N, e->tb = tb;
    e->epoch = wc_bf16_epoch;
    return e->buf;
}

/* Row-major C (M x N, ldc) = beta * C + op(A) (M x K) op(B) (K x N); beta 0 or 1. ta: A^T is
 * stored (K x M, lda); tb: B^T is stored (N x K, ldb). keep_b: B does not change during this
 * step (a weight): its packing is cached. Returns -1 if memory ran out (C is then undefined). */
WC_BF16_TARGET static int wc_sbgemm(int ta, int tb, long M, long N, long K, const float *A,
                                    long lda, const float *B, long ldb, int beta, float *C,
                                    long ldc, int keep_b) {
    if (M <= 0 || N <= 0) return 0;
    if (K <= 0) {
        if (!beta)
            for (long i = 0; i < M; i++) memset(C + i * ldc, 0, N * sizeof(float));
        return 0;
    }
    long npanels = (N + WC_NR - 1) / WC_NR, kcmax = K < WC_KC ? K : WC_KC;
    long kpmax = (kcmax + 1) / 2;
    uint32_t *Bp = wc_bf16_scratch(npanels * kpmax * WC_NR + WC_MR * kpmax + 16);
    if (!Bp) return -1;
    uint32_t *Ap = Bp + npanels * kpmax * WC_NR;
    for (long k0 = 0; k0 < K; k0 += WC_KC) {
        long kc = K - k0 < WC_KC ? K - k0 : WC_KC, kp = (kc + 1) / 2, ars, aks;
        int b = k0 > 0 || beta;
        const uint32_t *Bk = keep_b ? wc_cached_b(tb, B, ldb, k0, kc, N) : NULL;
        if (!Bk) {
            wc_pack_b(tb, B, ldb, k0, kc, N, Bp);
            Bk = Bp;
        }
        for (long i0 = 0; i0 < M; i0 += WC_MR) {
            long mr = M - i0 < WC_MR ? M - i0 : WC_MR;
            wc_pack_a(ta, A, lda, i0, mr, k0, kc, Ap, &ars, &aks);
            for (long jp = 0; jp < npanels; jp++) {
                long nc = N - jp * WC_NR < WC_NR ? N - jp * WC_NR : WC_NR;
                (nc > 16 ? wc_tile2 : wc_tile1)(Ap, ars, aks, Bk + jp * kp * WC_NR, kp,
                                                C + i0 * ldc + jp * WC_NR, ldc, mr, nc, b);
            }
        }
    }
    return 0;
}

/* out (nb x J, row stride ldo) += X (nb x K, ldx) @ W for a few rows (the sampler's streams):
 * X rounded to bf16 here, W packed beforehand by wc_pack_b over all K at once (k0 = 0, kc = K).
 * Two streams at a time (one for an odd last) and up to four 32-column panels (up to sixteen
 * accumulators) while k runs, so each weight is read once per pair of streams; bytes, not
 * arithmetic, bound a single stream. */
#define WC_MV(NAME, NS)                                                                           \
WC_BF16_TARGET static void NAME(const uint32_t *xb, long kp, const uint32_t *Wp, long J,          \
                                float *out, long ldo) {                                           \
    long npanels = (J + WC_NR - 1) / WC_NR;                                                       \
    for (long jp = 0; jp < npanels; jp += 4) {                                                    \
        int G = npanels - jp < 4 ? (int)(npanels - jp) : 4, g, v, b;                              \
        __m512 acc[NS][4][2];                                                                     \
        __mmask16 m[4][2];                                                                        \
        for (g = 0; g < 4; g++)                                                                   \
            for (v = 0; v < 2; v++) {                                                             \
                long left = J - (jp + g) * WC_NR - 16 * v;                                        \
                m[g][v] = g >= G || left <= 0 ? 0 :                                               \
                          (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1);                    \
                for (b = 0; b < NS; b++)                                                          \
                    acc[b][g][v] = _mm512_maskz_loadu_ps(m[g][v], out + b * ldo + (jp + g) *     \
                                                         WC_NR + 16 * v);                         \
            }                                                                                     \
        const uint32_t *w = Wp + jp * kp * WC_NR;                                                 \
        for (long p = 0; p < kp; p++) {                                                           \
            __m512bh xw[NS];                                                                      \
            for (b = 0; b < NS; b++) xw[b] = (__m512bh)_mm512_set1_epi32((int)xb[b * kp + p]);    \
            _Pragma("GCC unroll 4") for (g = 0; g < 4; g++) {                                     \
                if (g < G) {                                                                      \
                    const uint32_t *wg = w + g * kp * WC_NR + p * WC_NR;                          \
                    __m512bh w0 = (__m512bh)_mm512_loadu_si512(wg);                               \
                    __m512bh w1 = (__m512bh)_mm512_loadu_si512(wg + 16);                          \
                    _Pragma("GCC unroll 2") for (b = 0; b < NS; b++) {                            \
                        acc[b][g][0] = _mm512_dpbf16_ps(acc[b][g][0], xw[b], w0);                 \
                        acc[b][g][1] = _mm512_dpbf16_ps(acc[b][g][1], xw[b], w1);                 \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
        for (b = 0; b < NS; b++)                                                                  \
            for (g = 0; g < G; g++)                                                               \
                for (v = 0; v < 2; v++)                                                           \
                    _mm512_mask_storeu_ps(out + b * ldo + (jp + g) * WC_NR + 16 * v, m[g][v],     \
                                          acc[b][g][v]);                                          \
    }                                                                                             \
}
WC_MV(wc_mv2, 2)
WC_MV(wc_mv1, 1)

WC_BF16_TARGET static int wc_mv_bf16(const float *X, long nb, long K, long ldx,
                                     const uint32_t *Wp, long J, float *out, long ldo) {
    long kp = (K + 1) / 2;
    uint32_t *xb = wc_bf16_scratch(2 * kp + 16);
    if (!xb) return -1;
    for (long b = 0; b < nb; b += 2) {
        int ns = nb - b >= 2 ? 2 : 1;
        for (int s = 0; s < ns; s++) {
            wc_convert_row(X + (b + s) * ldx, K, (uint16_t *)(xb + s * kp));
            if (K & 1) ((uint16_t *)(xb + s * kp))[K] = 0;
        }
        (ns == 2 ? wc_mv2 : wc_mv1)(xb, kp, Wp, J, out + b * ldo, ldo);
    }
    return 0;
}

/* Words wc_pack_b needs for a K x J weight packed whole. */
static long wc_packed_words(long K, long J) {
    return ((J + WC_NR - 1) / WC_NR) * ((K + 1) / 2) * WC_NR;
}

/* n floats -> n bf16 bit patterns, the packing's rounding (for tests and the sampler). */
WC_BF16_TARGET static void wc_round_bf16(const float *x, long n, uint16_t *out) {
    long i = 0;
    for (; i + 32 <= n; i += 32) wc_convert_row(x + i, 32, out + i);
    if (i < n) {
        uint16_t tail[32];
        wc_convert_row(x + i, n - i, tail);
        memcpy(out + i, tail, (n - i) * sizeof(uint16_t));
    }
}

#else  /* no bf16 kernels in this build: the callers check wc_bf16_features() == 0 first */
static int wc_sbgemm(int ta, int tb, long M, long N, long K, const float *A, long lda,
                     const float *B, long ldb, int beta, float *C, long ldc, int keep_b) {
    (void)ta; (void)tb; (void)M; (void)N; (void)K; (void)A; (void)lda; (void)B; (void)ldb;
    (void)beta; (void)C; (void)ldc; (void)keep_b;
    return -1;
}
static void wc_bf16_new_step(void) {}
static void wc_round_bf16(const float *x, long n, uint16_t *out) { (void)x; (void)n; (void)out; }
static int wc_mv_bf16(const float *X, long nb, long K, long ldx, const uint32_t *Wp, long J,
                      float *out, long ldo) {
    (void)X; (void)nb; (void)K; (void)ldx; (void)Wp; (void)J; (void)out; (void)ldo;
    return -1;
}
static long wc_packed_words(long K, long J) { (void)K; (void)J; return 0; }
static void wc_pack_b(int tb, const float *B, long ldb, long k0, long kc, long N, uint32_t *Bp) {
    (void)tb; (void)B; (void)ldb; (void)k0; (void)kc; (void)N; (void)Bp;
}
#endif

#endif
