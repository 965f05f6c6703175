# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The cached ("fast WaveNet") generation loop: every step, every layer, the output head,
the tempered softmax and the draw, in one nogil call. Reference: wavecore.engine.sampler.NumpyAdvance,
which this loop must follow step for step.

Per layer a ring buffer of the last d inputs h[t-d .. t-1] (slot t mod d holds h[t-d]),
so a step costs one column of work per layer. Streams are independent: each thread takes a
block of streams and runs the whole loop on it, with no synchronisation at all; inside a
block every step goes layer by layer across the block's streams, so each weight row is
read once per step for all of them.
"""
import numpy as np
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp
from libc.stdint cimport uint32_t
from libc.string cimport memcpy
from wavecore.engine._cpu.gate cimport gate_forward
from wavecore.engine._cpu.layout cimport *


cdef extern from "simd.h" nogil:
    void wc_mm_acc_f(const float* X, long nb, long K, long ldx, const float* W, long J,
                     float* out, long ldo)
    void wc_mm_acc_d(const double* X, long nb, long K, long ldx, const double* W, long J,
                     double* out, long ldo)


cdef extern from "bf16.h" nogil:
    int WC_BF16_AVX512
    int wc_bf16_features()
    int wc_mv_bf16(const float* X, long nb, long K, long ldx, const uint32_t* Wp, long J,
                   float* out, long ldo)
    long wc_packed_words(long K, long J)
    void wc_pack_b(int tb, const float* B, long ldb, long k0, long kc, long N, uint32_t* Bp)


cdef inline void mm_acc(const floating* X, Py_ssize_t nb, Py_ssize_t K, const floating* W,
                        const uint32_t* Wk, Py_ssize_t J, floating* out) noexcept nogil:
    """out (nb, J) += X (nb, K) @ W (K, J); each row of W read once for all nb streams.
    Wk (float only): the same weights packed in bf16 (pack_bf16), read instead of W: X is
    rounded to bf16 and the products accumulate in fp32 (wc_mv_bf16)."""
    if floating is float:
        if Wk == NULL or wc_mv_bf16(X, nb, K, K, Wk, J, out, J) != 0:
            wc_mm_acc_f(X, nb, K, K, W, J, out, J)
    else:
        wc_mm_acc_d(X, nb, K, K, W, J, out, J)


cdef inline const uint32_t* at(const uint32_t* pk, const Py_ssize_t* poff, Py_ssize_t i) noexcept nogil:
    """Packed weight i of pack_bf16's table, or NULL (fp32)."""
    return NULL if pk == NULL else pk + poff[i]


cdef inline Py_ssize_t draw(const floating* logits, Py_ssize_t A, double temp, double u,
                            double* e) noexcept nogil:
    """Class from softmax(logits / temp) by inverting its CDF at u in [0, 1), in float64:
    the first class whose cumulative weight exceeds u * total. temp == 0: the first argmax."""
    cdef Py_ssize_t j, best = 0
    cdef double mx = logits[0], tot = 0, acc = 0, target
    for j in range(1, A):
        if logits[j] > mx:
            mx = logits[j]
            best = j
    if temp == 0:
        return best
    for j in range(A):
        e[j] = exp((logits[j] - mx) / temp)
        tot += e[j]
    target = u * tot
    for j in range(A):
        acc += e[j]
        if acc > target:
            return j
    for j in range(A - 1, -1, -1):      # u * tot rounded up to tot: the last class with weight
        if e[j] > 0:
            return j
    return best


cdef void stream_block(Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t B, Py_ssize_t n, Py_ssize_t t0,
                       const floating* p, const Py_ssize_t* off, const Py_ssize_t* dil,
                       const Py_ssize_t* q_off, Py_ssize_t L, Py_ssize_t R, Py_ssize_t D,
                       Py_ssize_t S, Py_ssize_t A, floating* queues, long long* x_prev,
                       long long* x_cur, const long long* forced, const double* uniforms,
                       const double* temps, long long* out, floating* logits_out,
                       const floating* gcb, const floating* bsum, floating* buf,
                       double* e, const uint32_t* pk, const Py_ssize_t* poff) noexcept nogil:
    """Run streams lo..hi for n steps from step t0, layer by layer across the block (so each
    weight row is read once per step for the whole block). forced != NULL: feed
    forced[s, b] and skip the head (priming); else draw each next class into out[s, b].
    pk != NULL: every GEMM reads its weights packed in bf16 there (poff: pack_bf16's table)."""
    cdef Py_ssize_t s, l, j, b, d, t, i, nb = hi - lo
    cdef floating* h = buf                 # (nb, R) layer input at this step
    cdef floating* hn = h + nb * R         # (nb, R)
    cdef floating* fg = hn + nb * R        # (nb, 2D)
    cdef floating* z = fg + nb * 2 * D     # (nb, D)
    cdef floating* skip = z + nb * D       # (nb, S)
    cdef floating* o = skip + nb * S       # (nb, S)
    cdef floating* lg = o + nb * S         # (nb, A)
    cdef floating* q
    cdef floating* tmp
    cdef const floating* E = p + off[WC_INPUT_E]
    cdef const floating* W
    cdef long long nxt
    for s in range(n):
        t = t0 + s
        h = buf                                                 # reset the ping-pong
        hn = h + nb * R
        for i in range(nb):
            b = lo + i
            if forced != NULL:
                x_cur[b] = forced[s * B + b]
            for j in range(R):
                h[i * R + j] = E[x_prev[b] * R + j] + E[(A + x_cur[b]) * R + j] + p[off[WC_INPUT_B] + j]
            if forced == NULL:
                memcpy(skip + i * S, bsum, S * sizeof(floating))     # sum of the skip biases
        for l in range(L):
            d = dil[l]
            q = queues + q_off[l] + ((t % d) * B + lo) * R      # h[t - d] of the block: (nb, R)
            W = p + off[WC_LAYERS_W] + l * 4 * R * D
            for i in range(nb):
                memcpy(fg + i * 2 * D, p + off[WC_LAYERS_C] + l * 2 * D, 2 * D * sizeof(floating))
                if gcb != NULL:
                    for j in range(2 * D):
                        fg[i * 2 * D + j] += gcb[(l * B + lo + i) * 2 * D + j]
            mm_acc(q, nb, R, W, at(pk, poff, 4 * l), 2 * D, fg)
            mm_acc(h, nb, R, W + R * 2 * D, at(pk, poff, 4 * l + 1), 2 * D, fg)
            gate_forward(fg, nb, D, z, D)
            for j in range(nb * R):
                q[j] = h[j]                                     # the slot now holds h[t]
            if forced == NULL:
                mm_acc(z, nb, D, p + off[WC_SKIP_W] + l * D * S, at(pk, poff, 4 * l + 2), S, skip)
            if l < L - 1:
                for i in range(nb):
                    for j in range(R):
                        hn[i * R + j] = h[i * R + j] + p[off[WC_LAYERS_BR] + l * R + j]
                mm_acc(z, nb, D, p + off[WC_LAYERS_WR] + l * D * R, at(pk, poff, 4 * l + 3), R, hn)
                tmp = h
                h = hn
                hn = tmp
        for i in range(nb):
            x_prev[lo + i] = x_cur[lo + i]
        if forced != NULL:
            continue
        for i in range(nb):
            for j in range(S):
                skip[i * S + j] = skip[i * S + j] if skip[i * S + j] > 0 else 0
                o[i * S + j] = p[off[WC_OUT_B1] + j]
            for j in range(A):
                lg[i * A + j] = p[off[WC_OUT_B2] + j]
        mm_acc(skip, nb, S, p + off[WC_OUT_W1], at(pk, poff, 4 * L), S, o)
        for j in range(nb * S):
            o[j] = o[j] if o[j] > 0 else 0
        mm_acc(o, nb, S, p + off[WC_OUT_W2], at(pk, poff, 4 * L + 1), A, lg)
        for i in range(nb):
            b = lo + i
            if logits_out != NULL:
                for j in range(A):
                    logits_out[(s * B + b) * A + j] = lg[i * A + j]
            nxt = draw(lg + i * A, A, temps[b], uniforms[s * B + b], e)
            out[s * B + b] = nxt
            x_cur[b] = nxt


def pack_bf16(cfg, const Py_ssize_t[::1] off, const float[::1] params):
    """Every weight the sampler multiplies by, rounded to bf16 and packed for wc_mv_bf16, once
    per sampler: (words: uint32, table: (4L + 2,) offsets of layer l's W[:R], W[R:], skip W and
    residual W at 4l..4l+3, then the head's W1 and W2)."""
    if not wc_bf16_features() & WC_BF16_AVX512:
        raise RuntimeError("the bf16 sampler needs a processor with AVX512-BF16")
    cdef Py_ssize_t L = cfg.n_layers, R = cfg.residual_channels, D = cfg.dilation_channels
    cdef Py_ssize_t S = cfg.skip_channels, A = cfg.classes, l, i
    mats = []                                   # (offset in params, K, J)
    for l in range(L):
        w = off[WC_LAYERS_W] + l * 4 * R * D
        mats += [(w, R, 2 * D), (w + R * 2 * D, R, 2 * D), (off[WC_SKIP_W] + l * D * S, D, S),
                 (off[WC_LAYERS_WR] + l * D * R, D, R)]
    mats += [(off[WC_OUT_W1], S, S), (off[WC_OUT_W2], S, A)]
    table = np.zeros(len(mats), np.intp)
    total = 0
    for i in range(len(mats)):
        table[i] = total
        total += wc_packed_words(mats[i][1], mats[i][2])
    words = np.zeros(total + 16, np.uint32)
    cdef uint32_t[::1] wv = words
    cdef Py_ssize_t[::1] tv = table
    cdef Py_ssize_t o, K, J
    for i in range(len(mats)):
        if i == 4 * L - 1:
            continue                            # the last layer has no residual output
        o, K, J = mats[i]
        wc_pack_b(0, &params[o], J, 0, K, J, &wv[tv[i]])
    return words, table


def layout():
    """The parameter layout this module was compiled with: block name -> offset-table index."""
    return layout_indices()


def run(cfg, const Py_ssize_t[::1] off, floating[::1] params, floating[::1] queues, q_off, Py_ssize_t t0,
        long long[::1] x_prev, long long[::1] x_cur, forced, uniforms, double[::1] temps,
        out, logits_out, gcb, int threads, packed=None):
    """n steps for all B streams. off: the offset table (wavecore.engine.layout.offset_table).
    forced: (n, B) int64 or None; uniforms: (n, B) float64; out: (n, B) int64; logits_out:
    (n, B, A) or None; gcb: (L, B, 2D) or None; packed: pack_bf16(cfg, off, params) (float32
    only): every GEMM in bf16 (biases, state and the rest stay params')."""
    cdef Py_ssize_t L = cfg.n_layers, R = cfg.residual_channels, D = cfg.dilation_channels
    cdef Py_ssize_t S = cfg.skip_channels, A = cfg.classes, B = x_prev.shape[0], b
    cdef Py_ssize_t[::1] dil = np.asarray(cfg.dilations, dtype=np.intp)
    cdef Py_ssize_t[::1] qo = np.asarray(q_off, dtype=np.intp)
    cdef const long long[:, ::1] fv
    cdef const double[:, ::1] uv
    cdef long long[:, ::1] ov
    cdef floating[:, :, ::1] lv
    cdef const floating[:, :, ::1] gv
    cdef const long long* fp = NULL
    cdef const double* up = NULL
    cdef long long* op = NULL
    cdef floating* lp = NULL
    cdef const floating* gp = NULL
    cdef Py_ssize_t n
    if forced is not None:
        fv = forced
        fp = &fv[0, 0] if fv.shape[0] else NULL
        n = fv.shape[0]
    else:
        uv = uniforms
        ov = out
        n = uv.shape[0]
        if n:
            up = &uv[0, 0]
            op = &ov[0, 0]
        if logits_out is not None:
            lv = logits_out
            if n:
                lp = &lv[0, 0, 0]
    if gcb is not None:
        gv = gcb
        gp = &gv[0, 0, 0]
    cdef const uint32_t[::1] kb
    cdef const Py_ssize_t[::1] kt
    cdef const uint32_t* pk = NULL
    cdef const Py_ssize_t* poff = NULL
    if packed is not None:
        if np.asarray(params).dtype != np.float32 or len(packed[1]) != 4 * L + 2:
            raise ValueError("packed must be pack_bf16 of this model's float32 params")
        kb, kt = packed
        pk, poff = &kb[0], &kt[0]
    if n == 0:
        return
    cdef Py_ssize_t nbuf = 2 * R + 3 * D + 2 * S + A          # per stream
    cdef Py_ssize_t nt = threads if threads < B else B, tid, lo, hi
    work = np.empty(B * nbuf, dtype=np.asarray(params).dtype)
    ework = np.empty((nt, A), dtype=np.float64)
    cdef floating[::1] wv = work
    P = np.asarray(params)
    bsum = np.ascontiguousarray(P[off[WC_SKIP_B]:off[WC_SKIP_B] + L * S].reshape(L, S).sum(axis=0))
    cdef floating[::1] bsv = bsum
    cdef double[:, ::1] ev = ework
    for tid in prange(nt, nogil=True, num_threads=nt, schedule="static", chunksize=1):
        lo = B * tid // nt                                   # each thread: a block of streams
        hi = B * (tid + 1) // nt
        stream_block(lo, hi, B, n, t0, &params[0], &off[0], &dil[0], &qo[0], L, R, D, S, A,
                     &queues[0], &x_prev[0], &x_cur[0], fp, up, &temps[0], op, lp, gp,
                     &bsv[0], &wv[lo * nbuf], &ev[tid, 0], pk, poff)
