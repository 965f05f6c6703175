# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""One whole training step (forward, loss, backward) of the WaveNet in one call.

Same function as wavecore/model.py (the NumPy reference), same flat parameter
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
from wavecore._cpu.input_conv cimport input_conv_forward, input_conv_backward
from wavecore._cpu.dilated_conv cimport (dilated_conv_forward, dilated_conv_backward_weights,
                                         dilated_conv_backward_input)
from wavecore._cpu.gate cimport gate_forward, gate_recompute, gate_backward
from wavecore._cpu.residual_skip cimport (residual_forward, residual_backward,
                                          skip_forward, skip_backward)
from wavecore._cpu.output_head cimport output_head_forward, output_head_backward
from wavecore._cpu.softmax_ce cimport softmax_ce


class Workspace:
    """Every buffer one step needs, for windows of N samples x B streams and `threads` blocks."""

    def __init__(self, cfg, N, B, dtype, threads, size):
        R, D, S, A = (cfg.residual_channels, cfg.dilation_channels,
                      cfg.skip_channels, cfg.classes)
        L, T = cfg.n_layers, N - cfg.receptive_field
        self.key = (N, B, np.dtype(dtype), threads)
        n_in, h_off, ts_off, rows_in = (N - 2) * B, [], [], []
        nh = nts = 0
        for d in cfg.dilations:
            rows_in.append(n_in)
            h_off.append(nh)
            ts_off.append(nts)
            nh += n_in * R
            nts += (n_in - d * B) * 2 * D
            n_in -= d * B
        mx = (N - 2) * B
        self.rows_in = np.array(rows_in, dtype=np.intp)
        self.h_off = np.array(h_off, dtype=np.intp)
        self.ts_off = np.array(ts_off, dtype=np.intp)
        self.h = np.empty(nh, dtype)                    # layer inputs, concatenated: (n_in_l, R)
        self.ts = np.empty(nts, dtype)                  # [tanh f; sigmoid g], then dfg: (n_l, 2D)
        self.z = np.empty(mx * D, dtype)                # z of one layer: (n_l, D)
        self.dz = np.empty(mx * D, dtype)
        self.dh = np.empty((2, mx * R), dtype)          # ping-pong layer-input gradients
        self.Z = np.empty(T * B * L * D, dtype)         # z of every layer at the loss rows: (TB, L*D)
        self.dZ = np.empty(T * B * L * D, dtype)
        self.y = np.empty(T * B * S, dtype)             # relu(skip sum): (TB, S)
        self.o = np.empty(T * B * S, dtype)             # relu(y W1 + b1): (TB, S)
        self.da = np.empty(T * B * S, dtype)
        self.dy = np.empty(T * B * S, dtype)
        self.logits = np.empty(T * B * A, dtype)        # (TB, A), becomes dlogits
        self.nll = np.empty(T * B, dtype)
        self.ones = np.ones(mx // threads + 1, dtype)   # column sums as GEMMs
        self.gpart = np.empty((threads, size), dtype)   # per-thread weight gradients
        self.gcb = np.zeros(max(1, L * B * 2 * D), dtype)


def loss_and_grads(cfg, dict offsets, floating[::1] params, const long long[:, ::1] x,
                   gc, floating[::1] grads, ws, int threads, long long[::1] argmax=None):
    """Fill ``grads`` (flat, overwritten) and return (mean NLL in nats, nll: (T, B)).
    With ``argmax`` (TB,) given: forward only — the predicted class of every loss row goes
    there and ``grads`` is not touched. Call with the BLAS limited to one thread."""
    cdef int R = cfg.residual_channels, D = cfg.dilation_channels
    cdef int S = cfg.skip_channels, A = cfg.classes, L = cfg.n_layers
    cdef int LD = L * D, D2 = 2 * D, RF = cfg.receptive_field
    cdef Py_ssize_t N = x.shape[0], B = x.shape[1], T = N - RF, TB = T * B
    cdef Py_ssize_t size = grads.shape[0], nt = threads, n0 = (N - 2) * B
    cdef Py_ssize_t l, d, dB, n_in, n, i, j, k, tid, lo, hi, m     # thread block: rows lo..hi
    cdef Py_ssize_t[::1] dil = np.asarray(cfg.dilations, dtype=np.intp)
    cdef Py_ssize_t[::1] h_off = ws.h_off, ts_off = ws.ts_off, rows_in = ws.rows_in
    cdef const long long[::1] tgt = np.ascontiguousarray(x[RF:]).reshape(-1)   # (TB,)
    cdef const long long* xp = &x[0, 0]
    cdef floating* p = &params[0]
    cdef floating* g = &grads[0]
    cdef floating[::1] hb = ws.h, tsb = ws.ts, zb = ws.z, dzb = ws.dz, Zb = ws.Z, dZb = ws.dZ
    cdef floating[::1] yb = ws.y, ob = ws.o, dab = ws.da, dyb = ws.dy, lb = ws.logits
    cdef floating[::1] nllb = ws.nll, onesb = ws.ones, gcbb = ws.gcb
    cdef floating[:, ::1] dhb = ws.dh, gpb = ws.gpart
    cdef floating* h = &hb[0]
    cdef floating* ts = &tsb[0]
    cdef floating* z = &zb[0]
    cdef floating* dz = &dzb[0]
    cdef floating* Z = &Zb[0]
    cdef floating* dZ = &dZb[0]
    cdef floating* y = &yb[0]
    cdef floating* o = &ob[0]
    cdef floating* lg = &lb[0]
    cdef floating* ones = &onesb[0]
    cdef floating* gp0 = &gpb[0, 0]
    cdef floating* gp
    cdef floating* gcb = NULL
    cdef floating* hl
    cdef floating* tsl
    cdef floating* dh_next = NULL
    cdef floating* dh_cur
    cdef Py_ssize_t oE = offsets["input.E"][0], ob_ = offsets["input.b"][0]
    cdef Py_ssize_t oW = offsets["layers.W"][0], oc = offsets["layers.c"][0]
    cdef Py_ssize_t oWr = offsets["layers.Wr"][0], obr = offsets["layers.br"][0]
    cdef Py_ssize_t oWs = offsets["skip.W"][0], obs = offsets["skip.b"][0]
    cdef Py_ssize_t oW1 = offsets["out.W1"][0], ob1 = offsets["out.b1"][0]
    cdef Py_ssize_t oW2 = offsets["out.W2"][0], ob2 = offsets["out.b2"][0]
    cdef floating scale = <floating>(1.0 / TB)
    cdef double loss = 0
    cdef bint backward = argmax is None
    cdef long long* am = NULL
    if not backward:
        am = &argmax[0]

    if cfg.gc_ids:
        # per-layer conditioning bias (L, B, 2D) = embed[gc] @ V_l: tiny, NumPy is fine here
        P = np.asarray(params)
        e = P[offsets["gc.embed"][0]:][:cfg.gc_ids * cfg.gc_channels].reshape(cfg.gc_ids, -1)[gc]
        V = P[offsets["layers.V"][0]:][:L * cfg.gc_channels * D2].reshape(L, cfg.gc_channels, D2)
        np.copyto(np.asarray(gcbb)[:L * B * D2].reshape(L, B, D2), np.einsum("bg,lgk->lbk", e, V))
        gcb = &gcbb[0]

    with nogil:
        # ---- forward: input conv, then one stage per layer ----
        for tid in prange(nt, num_threads=threads, schedule="static", chunksize=1):
            lo = n0 * tid // nt
            hi = n0 * (tid + 1) // nt
            input_conv_forward(xp + lo, hi - lo, B, p + oE, A, R, p + ob_, h + lo * R)
            if backward:
                memset(gp0 + tid * size, 0, size * sizeof(floating))
        for l in range(L):
            d, n_in, hl, tsl = dil[l], rows_in[l], h + h_off[l], ts + ts_off[l]
            dB = d * B
            n = n_in - dB
            for tid in prange(nt, num_threads=threads, schedule="static", chunksize=1):
                lo = n * tid // nt
                hi = n * (tid + 1) // nt
                m = hi - lo
                dilated_conv_forward(hl + lo * R, hl + (lo + dB) * R, m, R, p + oW + l * 2 * R * D2,
                                     p + oc + l * D2, gcb + l * B * D2 if gcb != NULL else NULL,
                                     B, lo, D2, tsl + lo * D2)
                gate_forward(tsl + lo * D2, m, D, z + lo * D, D)
                for i in range(lo if lo > n - TB else n - TB, hi):      # loss rows -> Z[:, l]
                    memcpy(Z + (i - n + TB) * LD + l * D, z + i * D, D * sizeof(floating))
                if l < L - 1:
                    residual_forward(hl + (lo + dB) * R, z + lo * D, m, R, D, p + oWr + l * D * R,
                                     p + obr + l * R, h + h_off[l + 1] + lo * R)

        # ---- skip, output head, softmax-CE and their backward: one stage ----
        for tid in prange(nt, num_threads=threads, schedule="static", chunksize=1):
            lo = TB * tid // nt
            hi = TB * (tid + 1) // nt
            m = hi - lo
            gp = gp0 + tid * size
            skip_forward(Z + lo * LD, m, LD, p + oWs, p + obs, L, S, y + lo * S)
            output_head_forward(y + lo * S, m, S, A, p + oW1, p + ob1, p + oW2, p + ob2,
                                o + lo * S, lg + lo * A)
            if not backward:
                argmax_rows(lg + lo * A, m, A, am + lo)
            softmax_ce(lg + lo * A, &tgt[0] + lo, m, A, scale, &nllb[0] + lo)
            if not backward:
                continue
            output_head_backward(lg + lo * A, y + lo * S, o + lo * S, m, S, A, p + oW1, p + oW2,
                                 gp + oW1, gp + ob1, gp + oW2, gp + ob2, &dab[0] + lo * S,
                                 &dyb[0] + lo * S, ones)
            skip_backward(&dyb[0] + lo * S, Z + lo * LD, m, LD, p + oWs, S, dZ + lo * LD,
                          gp + oWs, gp + obs, ones)
        for i in range(TB):
            loss += nllb[i]

        # ---- backward through the layers: two stages each ----
        for l in range(L - 1, -1, -1):
            if not backward:
                break
            d, n_in, hl, tsl = dil[l], rows_in[l], h + h_off[l], ts + ts_off[l]
            dB = d * B
            n = n_in - dB
            for tid in prange(nt, num_threads=threads, schedule="static", chunksize=1):
                lo = n * tid // nt
                hi = n * (tid + 1) // nt
                m = hi - lo
                gp = gp0 + tid * size
                if l < L - 1:
                    gate_recompute(tsl + lo * D2, m, D, z + lo * D)
                    residual_backward(dh_next + lo * R, z + lo * D, m, R, D, p + oWr + l * D * R,
                                      dz + lo * D, gp + oWr + l * D * R, gp + obr + l * R, ones)
                else:
                    memset(dz + lo * D, 0, m * D * sizeof(floating))
                for i in range(lo if lo > n - TB else n - TB, hi):      # + d(skip) at loss rows
                    for j in range(D):
                        dz[i * D + j] += dZ[(i - n + TB) * LD + l * D + j]
                gate_backward(dz + lo * D, tsl + lo * D2, m, D)        # ts becomes dfg
                dilated_conv_backward_weights(hl + lo * R, hl + (lo + dB) * R, tsl + lo * D2, m, R,
                                              D2, gp + oW + l * 2 * R * D2, gp + oc + l * D2, ones)
            dh_cur = &dhb[l % 2, 0]
            for tid in prange(nt, num_threads=threads, schedule="static", chunksize=1):
                lo = n_in * tid // nt
                hi = n_in * (tid + 1) // nt
                for i in range(lo, hi):                                 # residual path
                    if l < L - 1 and i >= dB:
                        memcpy(dh_cur + i * R, dh_next + (i - dB) * R, R * sizeof(floating))
                    else:
                        memset(dh_cur + i * R, 0, R * sizeof(floating))
                dilated_conv_backward_input(tsl, n, dB, lo, hi, R, p + oW + l * 2 * R * D2, D2,
                                            dh_cur)
            dh_next = dh_cur

        # ---- input conv scatter, then the per-thread gradients summed in thread order ----
        if backward:
            for tid in prange(nt, num_threads=threads, schedule="static", chunksize=1):
                lo = n0 * tid // nt
                hi = n0 * (tid + 1) // nt
                gp = gp0 + tid * size
                input_conv_backward(dh_next + lo * R, xp + lo, hi - lo, B, A, R, gp + oE, gp + ob_)
            for tid in prange(nt, num_threads=threads, schedule="static", chunksize=1):
                lo = size * tid // nt
                hi = size * (tid + 1) // nt
                for i in range(lo, hi):
                    g[i] = gp0[i]
                for k in range(1, nt):
                    for i in range(lo, hi):
                        g[i] = g[i] + gp0[k * size + i]
            for l in range(1, L):                                           # every skip bias alike
                memcpy(g + obs + l * S, g + obs, S * sizeof(floating))

    if cfg.gc_ids and backward:
        _gc_backward(cfg, offsets, np.asarray(params), np.asarray(grads), gc, ws, B)
    return loss / TB, np.asarray(nllb).reshape(T, B).copy()


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


def _gc_backward(cfg, offsets, P, G, gc, ws, B):
    """Conditioning gradients from each layer's dfg (left in ws.ts by the backward pass)."""
    L, D2, Gc = cfg.n_layers, 2 * cfg.dilation_channels, cfg.gc_channels
    e_off, v_off = offsets["gc.embed"][0], offsets["layers.V"][0]
    embed = P[e_off:e_off + cfg.gc_ids * Gc].reshape(cfg.gc_ids, Gc)
    V = P[v_off:v_off + L * Gc * D2].reshape(L, Gc, D2)
    dembed = G[e_off:e_off + cfg.gc_ids * Gc].reshape(cfg.gc_ids, Gc)
    dV = G[v_off:v_off + L * Gc * D2].reshape(L, Gc, D2)
    dembed[...] = 0
    e = embed[gc]                                                   # (B, Gc)
    for l in range(L):
        n = ws.rows_in[l] - cfg.dilations[l] * B
        dbias = ws.ts[ws.ts_off[l]:ws.ts_off[l] + n * D2].reshape(n // B, B, D2).sum(axis=0)
        dV[l] = e.T @ dbias
        np.add.at(dembed, gc, dbias @ V[l].T)
