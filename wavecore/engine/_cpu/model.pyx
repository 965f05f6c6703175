# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""One whole training step (forward, loss, backward) of the WaveNet in one call.

Same function as wavecore/engine/model.py (the NumPy reference), same flat parameter
layout, time-major rows (t, b). Threads: OpenMP owns the cores. Every stage
splits its rows into one block per thread, and each thread runs the whole
stage on its block (GEMMs through a single-threaded BLAS, then the elementwise
pass while the block is still in cache). Weight gradients are summed per
thread into a private copy of the gradient buffer and added up in thread
order at the end, so a given thread count gives bit-identical results.
A layer's forward is one stage; its backward is two (dfg and the weight
gradients, then the input gradient, whose rows read other blocks' dfg).
"""
import numpy as np
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy, memset
from wavecore.engine._cpu.input_conv cimport input_conv_forward, input_conv_backward
from wavecore.engine._cpu.dilated_conv cimport (dilated_conv_forward, dilated_conv_backward_weights,
                                         dilated_conv_backward_input)
from wavecore.engine._cpu.gate cimport gate_forward, gate_recompute, gate_backward
from wavecore.engine._cpu.residual_skip cimport (residual_forward, residual_backward,
                                          skip_forward, skip_backward)
from wavecore.engine._cpu.output_head cimport output_head_forward, output_head_backward
from wavecore.engine._cpu.softmax_ce cimport softmax_ce
from wavecore.engine._cpu.layout cimport *
from wavecore.engine.workspace import HEAD_ROWS, step_buffers


cdef extern from "bf16.h" nogil:
    int WC_BF16_AVX512
    int wc_bf16_features()
    void wc_bf16_new_step()


class Workspace:
    """Every buffer one step needs, for windows of N samples x B streams and `threads` blocks
    (named and sized in wavecore/engine/workspace.py). recompute: keep one layer's [tanh f; σ g] and
    recompute it in the backward pass (size 1: forward only)."""

    def __init__(self, cfg, N, B, dtype, threads, size, recompute=False):
        self.key = (N, B, np.dtype(dtype), threads)
        self.recompute, self.backward = bool(recompute) and size > 1, size > 1
        keep_ts = size > 1 and not recompute
        n_in, h_off, ts_off, rows_in = (N - 2) * B, [], [], []
        nh = nts = 0
        for d in cfg.dilations:
            rows_in.append(n_in)
            h_off.append(nh)
            ts_off.append(nts)
            nh += n_in * cfg.residual_channels
            nts += (n_in - d * B) * 2 * cfg.dilation_channels if keep_ts else 0
            n_in -= d * B
        self.rows_in = np.array(rows_in, dtype=np.intp)
        self.h_off = np.array(h_off, dtype=np.intp)
        self.ts_off = np.array(ts_off, dtype=np.intp)
        sizes = step_buffers(cfg, N, B, threads, size, recompute)
        for name, n in sizes.items():
            setattr(self, name, np.empty(n, dtype))
        self.ones[...] = 1
        self.dh = self.dh.reshape(2, -1)
        self.gpart = self.gpart.reshape(threads, size)
        self.nbytes = sum(getattr(self, name).nbytes for name in sizes)


cdef struct Dims:
    # the step's sizes and the tables every stage reads
    Py_ssize_t R, D, S, A, L, B, T, TB, n0, size, nt  # n0 = (N-2)*B input rows; nt thread blocks
    const Py_ssize_t* off                             # offset table, indexed by WC_* (layout.h)
    const Py_ssize_t* dil                             # (L,) dilations
    const Py_ssize_t* rows_in                         # (L,) input rows of layer l
    const Py_ssize_t* h_off                           # (L,) where layer l's input starts in h
    const Py_ssize_t* ts_off                          # (L,) where layer l's [tanh f; σ g] starts
    Py_ssize_t hc                                     # output-head rows per chunk
    bint backward, recompute, gc                      # recompute: ts holds one layer
    bint lp                                           # GEMM operands in bf16 (wc_sbgemm)


cdef struct Bufs:
    # the workspace's buffers as void*: each stage casts them to its dtype (floating*)
    void* h          # layer inputs, concatenated: (n_in_l, R) each
    void* ts         # [tanh f; sigmoid g] per layer (or one), then dfg: (n_l, 2D) each
    void* z          # (n_l, D) one layer's gate output
    void* dz         # (n_l, D)
    void* Z          # (TB, L*D) every layer's z at the loss rows, then its gradient
    void* y          # (nt, hc, S) relu(skip sum), a chunk of rows per thread
    void* o          # (nt, hc, S) relu(y W1 + b1)
    void* da         # (nt, hc, S)
    void* dy         # (nt, hc, S)
    void* lg         # (nt, hc, A) logits, then dlogits
    void* nll        # (TB,)
    void* ones       # column sums as GEMMs
    void* gpart      # (nt, size) per-thread gradients
    void* dh         # (2, (N-2)*B*R) ping-pong layer-input gradients
    void* gcb        # (L, B, 2D) conditioning bias, or NULL
    void* gcd        # (nt, L, B, 2D) per-thread conditioning-bias gradients
    const long long* x        # (N, B) the window
    const long long* tgt      # (TB,) the targets x[RF:]
    long long* argmax         # (TB,) forward only: predicted classes, else NULL


def layout():
    """The parameter layout this module was compiled with: block name -> offset-table index."""
    return layout_indices()


def loss_and_grads(cfg, const Py_ssize_t[::1] off, floating[::1] params, const long long[:, ::1] x,
                   gc, floating[::1] grads, ws, int threads, long long[::1] argmax=None,
                   const long long[:, ::1] y=None, bint bf16=False):
    """Fill ``grads`` (flat, overwritten) and return (mean NLL in nats, nll: (T, B)).
    off: the offset table (wavecore.engine.layout.offset_table). With ``argmax`` (TB,) given: forward
    only — the predicted class of every loss row goes there and ``grads`` is not touched.
    y: (T, B) the targets where they are not x[RF:] (inputs corrupted, targets clean).
    bf16: every GEMM's operands rounded to bf16 with fp32 accumulation (float32 only, on a
    processor with AVX512-BF16); the rest of the step stays in the params' dtype.
    Call with the BLAS limited to one thread. This wrapper checks and wires the buffers; the
    step itself is the nogil stages below, in order."""
    cdef Dims k
    cdef Bufs b
    cdef Py_ssize_t N = x.shape[0], l, i, RF = cfg.receptive_field
    cdef Py_ssize_t[::1] dil = np.asarray(cfg.dilations, dtype=np.intp)
    cdef Py_ssize_t[::1] h_off = ws.h_off, ts_off = ws.ts_off, rows_in = ws.rows_in
    cdef const long long[::1] tgt = np.ascontiguousarray(x[RF:] if y is None else y).reshape(-1)   # (TB,)
    cdef floating[::1] hb = ws.h, tsb = ws.ts, zb = ws.z, dzb = ws.dz, Zb = ws.Z
    cdef floating[::1] yb = ws.y, ob = ws.o, dab = ws.da, dyb = ws.dy, lb = ws.logits
    cdef floating[::1] nllb = ws.nll, onesb = ws.ones, gcbb = ws.gcb, gcdb = ws.gcd
    cdef floating[:, ::1] dhb = ws.dh, gpb = ws.gpart
    cdef floating* dh = NULL
    cdef double loss = 0
    if off.shape[0] != WC_NBLOCKS:
        raise ValueError(f"the offset table has {off.shape[0]} blocks; this build knows {WC_NBLOCKS}")
    if x.shape[0] <= RF or params.shape[0] < off[WC_OUT_B2] + cfg.classes:
        raise ValueError("x or params do not fit this model")
    if bf16 and (floating is double or not wc_bf16_features() & WC_BF16_AVX512):
        raise ValueError("bf16 GEMMs need float32 buffers and a processor with AVX512-BF16")
    if y is not None and (y.shape[0] != N - RF or y.shape[1] != x.shape[1]):
        raise ValueError(f"y must have shape ({N - RF}, {x.shape[1]}), got ({y.shape[0]}, {y.shape[1]})")
    k.R, k.D, k.S, k.A = cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels, cfg.classes
    k.L, k.B, k.T = cfg.n_layers, x.shape[1], N - RF
    k.TB, k.n0, k.size, k.nt = k.T * k.B, (N - 2) * k.B, grads.shape[0], threads
    k.off, k.dil, k.rows_in, k.h_off, k.ts_off = &off[0], &dil[0], &rows_in[0], &h_off[0], &ts_off[0]
    k.backward, k.recompute, k.gc, k.hc = argmax is None, ws.recompute, cfg.gc_ids > 0, HEAD_ROWS
    k.lp = bf16
    if bf16:
        wc_bf16_new_step()          # the weights may have changed: pack them anew
    if ws.key != (N, k.B, np.dtype(np.asarray(params).dtype), threads) or \
            k.backward and not ws.backward or k.backward and gpb.shape[1] != k.size:
        raise ValueError("the workspace was made for another step (window, dtype, threads or size)")
    b.h, b.ts, b.z, b.dz, b.Z = &hb[0], &tsb[0], &zb[0], &dzb[0], &Zb[0]
    b.y, b.o, b.da, b.dy, b.lg, b.nll = &yb[0], &ob[0], &dab[0], &dyb[0], &lb[0], &nllb[0]
    b.ones, b.gpart, b.dh, b.gcb, b.gcd = &onesb[0], &gpb[0, 0], &dhb[0, 0], NULL, &gcdb[0]
    b.x, b.tgt, b.argmax = &x[0, 0], &tgt[0], NULL if k.backward else &argmax[0]
    if cfg.gc_ids:
        # per-layer conditioning bias (L, B, 2D) = embed[gc] @ V_l: tiny, NumPy is fine here
        P, D2 = np.asarray(params), 2 * k.D
        e = P[off[WC_GC_EMBED]:][:cfg.gc_ids * cfg.gc_channels].reshape(cfg.gc_ids, -1)[gc]
        V = P[off[WC_LAYERS_V]:][:k.L * cfg.gc_channels * D2].reshape(k.L, cfg.gc_channels, D2)
        np.copyto(np.asarray(gcbb)[:k.L * k.B * D2].reshape(k.L, k.B, D2), np.einsum("bg,lgk->lbk", e, V))
        b.gcb = &gcbb[0]

    with nogil:
        forward_input(&k, &b, &params[0])
        for l in range(k.L):
            forward_layer(&k, &b, &params[0], l)
        head(&k, &b, &params[0])
        for i in range(k.TB):
            loss += nllb[i]
        if k.backward:
            for l in range(k.L - 1, -1, -1):
                dh = backward_layer(&k, &b, &params[0], l, dh)
            backward_input(&k, &b, &params[0], dh, &grads[0])

    if cfg.gc_ids and k.backward:
        _gc_backward(cfg, off, np.asarray(params), np.asarray(grads), gc, ws, k.B, threads)
    return loss / k.TB, np.asarray(nllb).reshape(k.T, k.B).copy()


cdef void forward_input(const Dims* k, Bufs* b, const floating* p) noexcept nogil:
    """h[0] = the input conv of the window; each thread also zeroes its gradient copy."""
    cdef Py_ssize_t tid, lo, hi
    cdef floating* h = <floating*>b.h
    cdef floating* gp0 = <floating*>b.gpart
    for tid in prange(k.nt, num_threads=k.nt, schedule="static", chunksize=1):
        lo = k.n0 * tid // k.nt
        hi = k.n0 * (tid + 1) // k.nt
        input_conv_forward(b.x + lo, hi - lo, k.B, p + k.off[WC_INPUT_E], k.A, k.R,
                           p + k.off[WC_INPUT_B], h + lo * k.R)
        if k.backward:
            memset(gp0 + tid * k.size, 0, k.size * sizeof(floating))
            if k.gc:
                memset(<floating*>b.gcd + tid * k.L * k.B * 2 * k.D, 0, k.L * k.B * 2 * k.D * sizeof(floating))


cdef void forward_layer(const Dims* k, Bufs* b, const floating* p, Py_ssize_t l) noexcept nogil:
    """Layer l on each thread's block of rows: dilated conv, gate, the loss rows' z into Z,
    then the residual 1x1 into the next layer's input."""
    cdef Py_ssize_t tid, lo, hi, m, i, R = k.R, D = k.D, D2 = 2 * k.D, LD = k.L * k.D
    cdef Py_ssize_t dB = k.dil[l] * k.B, n = k.rows_in[l] - k.dil[l] * k.B, TB = k.TB
    cdef floating* hl = <floating*>b.h + k.h_off[l]
    cdef floating* tsl = <floating*>b.ts + k.ts_off[l]
    cdef floating* z = <floating*>b.z
    cdef floating* Z = <floating*>b.Z
    cdef floating* gcb = NULL
    if b.gcb != NULL:
        gcb = <floating*>b.gcb + l * k.B * D2
    for tid in prange(k.nt, num_threads=k.nt, schedule="static", chunksize=1):
        lo = n * tid // k.nt
        hi = n * (tid + 1) // k.nt
        m = hi - lo
        dilated_conv_forward(k.lp, hl + lo * R, hl + (lo + dB) * R, m, R, p + k.off[WC_LAYERS_W] + l * 2 * R * D2,
                             p + k.off[WC_LAYERS_C] + l * D2, gcb, k.B, lo, D2, tsl + lo * D2)
        gate_forward(tsl + lo * D2, m, D, z + lo * D, D)
        for i in range(lo if lo > n - TB else n - TB, hi):      # loss rows -> Z[:, l]
            memcpy(Z + (i - n + TB) * LD + l * D, z + i * D, D * sizeof(floating))
        if l < k.L - 1:
            residual_forward(k.lp, hl + (lo + dB) * R, z + lo * D, m, R, D, p + k.off[WC_LAYERS_WR] + l * D * R,
                             p + k.off[WC_LAYERS_BR] + l * R, <floating*>b.h + k.h_off[l + 1] + lo * R)


cdef void head(const Dims* k, Bufs* b, const floating* p) noexcept nogil:
    """The skip GEMM, the output head, softmax-CE (nll) and, when training, their backward into
    each thread's gradient copy and into Z (overwritten with its gradient), on each thread's rows
    in chunks of hc rows; forward only: the argmax of every loss row."""
    cdef Py_ssize_t tid, lo, hi, m, c, S = k.S, A = k.A, LD = k.L * k.D
    cdef floating* gp
    cdef floating* lg
    cdef floating* y
    cdef floating* o
    cdef floating* da
    cdef floating* dy
    cdef floating* Zc
    cdef floating scale = <floating>(1.0 / k.TB)
    for tid in prange(k.nt, num_threads=k.nt, schedule="static", chunksize=1):
        lo = k.TB * tid // k.nt
        hi = k.TB * (tid + 1) // k.nt
        gp = <floating*>b.gpart + tid * k.size
        y = <floating*>b.y + tid * k.hc * S                    # this thread's chunk buffers
        o = <floating*>b.o + tid * k.hc * S
        da = <floating*>b.da + tid * k.hc * S
        dy = <floating*>b.dy + tid * k.hc * S
        lg = <floating*>b.lg + tid * k.hc * A
        c = lo
        while c < hi:
            m = k.hc if hi - c > k.hc else hi - c
            Zc = <floating*>b.Z + c * LD
            skip_forward(k.lp, Zc, m, LD, p + k.off[WC_SKIP_W], p + k.off[WC_SKIP_B], k.L, S, y)
            output_head_forward(k.lp, y, m, S, A, p + k.off[WC_OUT_W1], p + k.off[WC_OUT_B1],
                                p + k.off[WC_OUT_W2], p + k.off[WC_OUT_B2], o, lg)
            if not k.backward:
                argmax_rows(lg, m, A, b.argmax + c)
            softmax_ce(lg, b.tgt + c, m, A, scale, <floating*>b.nll + c)
            if k.backward:
                output_head_backward(k.lp, lg, y, o, m, S, A, p + k.off[WC_OUT_W1], p + k.off[WC_OUT_W2],
                                     gp + k.off[WC_OUT_W1], gp + k.off[WC_OUT_B1],
                                     gp + k.off[WC_OUT_W2], gp + k.off[WC_OUT_B2], da, dy,
                                     <floating*>b.ones)
                skip_backward(k.lp, dy, Zc, m, LD, p + k.off[WC_SKIP_W], S, Zc, gp + k.off[WC_SKIP_W],
                              gp + k.off[WC_SKIP_B], <floating*>b.ones)
            c = c + m


cdef floating* backward_layer(const Dims* k, Bufs* b, const floating* p, Py_ssize_t l,
                              floating* dh_next) noexcept nogil:
    """Layer l backward in two stages: dfg and the weight gradients on each thread's rows,
    then the input gradient (whose rows read other blocks' dfg). Returns dh of layer l."""
    cdef Py_ssize_t tid, lo, hi, m, i, j, R = k.R, D = k.D, D2 = 2 * k.D, LD = k.L * k.D
    cdef Py_ssize_t dB = k.dil[l] * k.B, n_in = k.rows_in[l], n = n_in - dB, TB = k.TB
    cdef floating* hl = <floating*>b.h + k.h_off[l]
    cdef floating* tsl = <floating*>b.ts + k.ts_off[l]
    cdef floating* z = <floating*>b.z
    cdef floating* dz = <floating*>b.dz
    cdef floating* dZ = <floating*>b.Z                         # the head left dZ there
    cdef floating* gcd
    cdef floating* gcb = NULL
    if b.gcb != NULL:
        gcb = <floating*>b.gcb + l * k.B * D2
    cdef floating* ones = <floating*>b.ones
    cdef floating* gp
    cdef floating* dh_cur = <floating*>b.dh + (l % 2) * k.n0 * R
    for tid in prange(k.nt, num_threads=k.nt, schedule="static", chunksize=1):
        lo = n * tid // k.nt
        hi = n * (tid + 1) // k.nt
        m = hi - lo
        gp = <floating*>b.gpart + tid * k.size
        if k.recompute:                                         # ts and z again, from h
            dilated_conv_forward(k.lp, hl + lo * R, hl + (lo + dB) * R, m, R,
                                 p + k.off[WC_LAYERS_W] + l * 2 * R * D2, p + k.off[WC_LAYERS_C] + l * D2,
                                 gcb, k.B, lo, D2, tsl + lo * D2)
            gate_forward(tsl + lo * D2, m, D, z + lo * D, D)
        elif l < k.L - 1:
            gate_recompute(tsl + lo * D2, m, D, z + lo * D)
        if l < k.L - 1:
            residual_backward(k.lp, dh_next + lo * R, z + lo * D, m, R, D, p + k.off[WC_LAYERS_WR] + l * D * R,
                              dz + lo * D, gp + k.off[WC_LAYERS_WR] + l * D * R,
                              gp + k.off[WC_LAYERS_BR] + l * R, ones)
        else:
            memset(dz + lo * D, 0, m * D * sizeof(floating))
        for i in range(lo if lo > n - TB else n - TB, hi):      # + d(skip) at loss rows
            for j in range(D):
                dz[i * D + j] += dZ[(i - n + TB) * LD + l * D + j]
        gate_backward(dz + lo * D, tsl + lo * D2, m, D)        # ts becomes dfg
        if k.gc:                                                # conditioning bias: sum dfg over t
            gcd = <floating*>b.gcd + (tid * k.L + l) * k.B * D2
            for i in range(lo, hi):
                for j in range(D2):
                    gcd[(i % k.B) * D2 + j] += tsl[i * D2 + j]
        dilated_conv_backward_weights(k.lp, hl + lo * R, hl + (lo + dB) * R, tsl + lo * D2, m, R, D2,
                                      gp + k.off[WC_LAYERS_W] + l * 2 * R * D2,
                                      gp + k.off[WC_LAYERS_C] + l * D2, ones)
    for tid in prange(k.nt, num_threads=k.nt, schedule="static", chunksize=1):
        lo = n_in * tid // k.nt
        hi = n_in * (tid + 1) // k.nt
        for i in range(lo, hi):                                 # residual path
            if l < k.L - 1 and i >= dB:
                memcpy(dh_cur + i * R, dh_next + (i - dB) * R, R * sizeof(floating))
            else:
                memset(dh_cur + i * R, 0, R * sizeof(floating))
        dilated_conv_backward_input(k.lp, tsl, n, dB, lo, hi, R, p + k.off[WC_LAYERS_W] + l * 2 * R * D2, D2,
                                    dh_cur)
    return dh_cur


cdef void backward_input(const Dims* k, Bufs* b, const floating* p, const floating* dh,
                         floating* g) noexcept nogil:
    """The input conv's scatter, then the per-thread gradients summed in thread order (so a
    thread count gives bit-identical results), then every layer's skip bias gradient alike."""
    cdef Py_ssize_t tid, lo, hi, i, t, l, size = k.size
    cdef floating* gp0 = <floating*>b.gpart
    cdef floating* gp
    for tid in prange(k.nt, num_threads=k.nt, schedule="static", chunksize=1):
        lo = k.n0 * tid // k.nt
        hi = k.n0 * (tid + 1) // k.nt
        gp = gp0 + tid * size
        input_conv_backward(dh + lo * k.R, b.x + lo, hi - lo, k.B, k.A, k.R, gp + k.off[WC_INPUT_E],
                            gp + k.off[WC_INPUT_B])
    for tid in prange(k.nt, num_threads=k.nt, schedule="static", chunksize=1):
        lo = size * tid // k.nt
        hi = size * (tid + 1) // k.nt
        for i in range(lo, hi):
            g[i] = gp0[i]
        for t in range(1, k.nt):
            for i in range(lo, hi):
                g[i] = g[i] + gp0[t * size + i]
    for l in range(1, k.L):
        memcpy(g + k.off[WC_SKIP_B] + l * k.S, g + k.off[WC_SKIP_B], k.S * sizeof(floating))


cdef inline void argmax_rows(const floating* a, Py_ssize_t m, int A,
                             long long* out) noexcept nogil:
    """out[i] = the first index of the largest value of row i of a: (m, A)."""
    cdef Py_ssize_t i, j, best
    for i in range(m):
        best = 0
        for j in range(1, A):
            if a[i * A + j] > a[i * A + best]:
                best = j
        out[i] = best


def _gc_backward(cfg, off, P, G, gc, ws, B, threads):
    """Conditioning gradients from each layer's dfg summed over time (ws.gcd, per thread)."""
    L, D2, Gc = cfg.n_layers, 2 * cfg.dilation_channels, cfg.gc_channels
    e_off, v_off = off[WC_GC_EMBED], off[WC_LAYERS_V]
    embed = P[e_off:e_off + cfg.gc_ids * Gc].reshape(cfg.gc_ids, Gc)
    V = P[v_off:v_off + L * Gc * D2].reshape(L, Gc, D2)
    dembed = G[e_off:e_off + cfg.gc_ids * Gc].reshape(cfg.gc_ids, Gc)
    dV = G[v_off:v_off + L * Gc * D2].reshape(L, Gc, D2)
    dembed[...] = 0
    e = embed[gc]                                                   # (B, Gc)
    parts = ws.gcd[:threads * L * B * D2].reshape(threads, L, B, D2)
    dbias = parts[0].copy()                                         # (L, B, 2D), in thread order
    for t in range(1, threads):
        dbias += parts[t]
    for l in range(L):
        dV[l] = e.T @ dbias[l]
        np.add.at(dembed, gc, dbias[l] @ V[l].T)
