# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""One whole training step (forward, loss, backward) of the WaveNet in one call.

Same function as wavecore/model.py (the NumPy reference), same flat parameter
layout, time-major rows (t, b). Buffers live in a Workspace reused across
steps of the same window shape. Threads: OpenMP (prange) runs the elementwise
passes; BLAS runs the GEMMs with its own threads; the two never run at once.
"""
import numpy as np
from cython cimport floating
from wavecore._cpu.blas cimport gemm
from wavecore._cpu.input_conv cimport input_conv_forward, input_conv_backward
from wavecore._cpu.dilated_conv cimport dilated_conv_forward, dilated_conv_backward
from wavecore._cpu.gate cimport gate_forward, gate_recompute, gate_backward
from wavecore._cpu.residual_skip cimport (residual_forward, residual_backward,
                                          skip_forward, skip_backward)
from wavecore._cpu.output_head cimport output_head_forward, output_head_backward
from wavecore._cpu.softmax_ce cimport softmax_ce
from libc.string cimport memcpy, memset


class Workspace:
    """Every buffer one step needs, for windows of N samples x B streams."""

    def __init__(self, cfg, N, B, dtype):
        R, D, S, A = (cfg.residual_channels, cfg.dilation_channels,
                      cfg.skip_channels, cfg.classes)
        L, T = cfg.n_layers, N - cfg.receptive_field
        self.key = (N, B, np.dtype(dtype))
        n_in, h_off, ts_off = (N - 2) * B, [], []
        nh = nts = 0
        self.rows_in = []
        for d in cfg.dilations:
            self.rows_in.append(n_in)
            h_off.append(nh)
            ts_off.append(nts)
            nh += n_in * R
            nts += (n_in - d * B) * 2 * D
            n_in -= d * B
        assert n_in == T * B
        mx = (N - 2) * B
        self.h_off = np.array(h_off, dtype=np.int64)
        self.ts_off = np.array(ts_off, dtype=np.int64)
        self.h = np.empty(nh, dtype)                    # layer inputs, concatenated: (n_in_l, R)
        self.ts = np.empty(nts, dtype)                  # [tanh f; sigmoid g] per layer: (n_l, 2D)
        self.z = np.empty(mx * D, dtype)                # z of one layer: (n_l, D)
        self.dz = np.empty(mx * D, dtype)
        self.dh = np.empty((2, mx * R), dtype)          # ping-pong layer-input gradients
        self.Z = np.empty(T * B * L * D, dtype)         # z of every layer at the T loss rows: (TB, L*D)
        self.dZ = np.empty(T * B * L * D, dtype)
        self.y = np.empty(T * B * S, dtype)             # relu(skip sum): (TB, S)
        self.o = np.empty(T * B * S, dtype)
        self.da = np.empty(T * B * S, dtype)
        self.dy = np.empty(T * B * S, dtype)
        self.logits = np.empty(T * B * A, dtype)        # (TB, A), becomes dlogits
        self.nll = np.empty(T * B, dtype)
        self.ones = np.ones(mx, dtype)
        self.gcb = np.empty(max(1, L * B * 2 * D), dtype)


def loss_and_grads(cfg, dict offsets, floating[::1] params, const long long[:, ::1] x,
                   gc, floating[::1] grads, ws, int threads):
    """Fill ``grads`` (flat, overwritten) and return (mean NLL in nats, nll: (T, B))."""
    cdef int R = cfg.residual_channels, D = cfg.dilation_channels
    cdef int S = cfg.skip_channels, A = cfg.classes, L = cfg.n_layers
    cdef int LD = L * D, D2 = 2 * D, RF = cfg.receptive_field
    cdef Py_ssize_t N = x.shape[0], B = x.shape[1], T = N - RF, TB = T * B, l, d, n_in, n, i
    cdef Py_ssize_t[::1] dil = np.asarray(cfg.dilations, dtype=np.intp)
    cdef long long[::1] h_off = ws.h_off, ts_off = ws.ts_off
    cdef Py_ssize_t[::1] rows_in = np.asarray(ws.rows_in, dtype=np.intp)
    # targets x[RF:] as one contiguous (TB,) row block; inputs x[:-1]
    cdef const long long[::1] tgt = np.ascontiguousarray(x[RF:]).reshape(-1)
    cdef floating* p = &params[0]
    cdef floating* g = &grads[0]
    cdef floating[::1] hb = ws.h, tsb = ws.ts, zb = ws.z, dzb = ws.dz, Zb = ws.Z, dZb = ws.dZ
    cdef floating[::1] yb = ws.y, ob = ws.o, dab = ws.da, dyb = ws.dy, lb = ws.logits
    cdef floating[::1] nllb = ws.nll, ones = ws.ones, gcbb = ws.gcb
    cdef floating[:, ::1] dhb = ws.dh
    cdef floating* h = &hb[0]
    cdef floating* ts = &tsb[0]
    cdef floating* z = &zb[0]
    cdef floating* dz = &dzb[0]
    cdef floating* Z = &Zb[0]
    cdef floating* dZ = &dZb[0]
    cdef floating* gcb = NULL
    cdef floating* dh_next
    cdef floating* dh_cur
    cdef Py_ssize_t oE = offsets["input.E"][0], ob_ = offsets["input.b"][0]
    cdef Py_ssize_t oW = offsets["layers.W"][0], oc = offsets["layers.c"][0]
    cdef Py_ssize_t oWr = offsets["layers.Wr"][0], obr = offsets["layers.br"][0]
    cdef Py_ssize_t oWs = offsets["skip.W"][0], obs = offsets["skip.b"][0]
    cdef Py_ssize_t oW1 = offsets["out.W1"][0], ob1 = offsets["out.b1"][0]
    cdef Py_ssize_t oW2 = offsets["out.W2"][0], ob2 = offsets["out.b2"][0]
    cdef floating scale = <floating>(1.0 / TB)
    cdef double loss = 0

    if cfg.gc_ids:
        # per-layer conditioning bias (L, B, 2D) = embed[gc] @ V_l: small, NumPy is fine here
        P = np.asarray(params)
        e = P[offsets["gc.embed"][0]:][:cfg.gc_ids * cfg.gc_channels].reshape(cfg.gc_ids, -1)[gc]
        V = P[offsets["layers.V"][0]:][:L * cfg.gc_channels * D2].reshape(L, cfg.gc_channels, D2)
        np.copyto(np.asarray(gcbb)[:L * B * D2].reshape(L, B, D2), np.einsum("bg,lgk->lbk", e, V))
        gcb = &gcbb[0]

    with nogil:
        # ---- forward ----
        input_conv_forward(&x[0, 0], N - 1, B, p + oE, A, R, p + ob_, h, threads)
        for l in range(L):
            d = dil[l]
            n_in = rows_in[l]
            n = n_in - d * B
            dilated_conv_forward(h + h_off[l], n_in, B, R, p + oW + l * 2 * R * D2, p + oc + l * D2,
                                 gcb + l * B * D2 if gcb != NULL else NULL, d, D2, ts + ts_off[l],
                                 threads)
            gate_forward(ts + ts_off[l], n, D, z, threads)
            for i in range(TB):                                  # z at the loss rows -> Z[:, l]
                memcpy(Z + i * LD + l * D, z + (n - TB + i) * D, D * sizeof(floating))
            if l < L - 1:
                residual_forward(h + h_off[l], d * B, z, n, R, D, p + oWr + l * D * R,
                                 p + obr + l * R, h + h_off[l + 1], threads)
        skip_forward(Z, TB, LD, p + oWs, p + obs, L, S, &yb[0], threads)
        output_head_forward(&yb[0], TB, S, A, p + oW1, p + ob1, p + oW2, p + ob2, &ob[0], &lb[0],
                            threads)
        softmax_ce(&lb[0], &tgt[0], TB, A, scale, &nllb[0], threads)
        for i in range(TB):
            loss += nllb[i]

        # ---- backward ----
        output_head_backward(&lb[0], &yb[0], &ob[0], TB, S, A, p + oW1, p + oW2, g + oW1, g + ob1,
                             g + oW2, g + ob2, &dab[0], &dyb[0], &ones[0], threads)
        skip_backward(&dyb[0], Z, TB, LD, p + oWs, L, S, dZ, g + oWs, g + obs, &ones[0])
        dh_next = NULL
        for l in range(L - 1, -1, -1):
            d = dil[l]
            n_in = rows_in[l]
            n = n_in - d * B
            if l < L - 1:
                gate_recompute(ts + ts_off[l], n, D, z, threads)
                residual_backward(dh_next, z, n, R, D, p + oWr + l * D * R, dz, g + oWr + l * D * R,
                                  g + obr + l * R, &ones[0])
            else:
                memset(dz, 0, (n - TB) * D * sizeof(floating))
            for i in range(TB):                                  # + d(skip) at the loss rows
                if l < L - 1:
                    _add(dz + (n - TB + i) * D, dZ + i * LD + l * D, D)
                else:
                    memcpy(dz + (n - TB + i) * D, dZ + i * LD + l * D, D * sizeof(floating))
            gate_backward(dz, ts + ts_off[l], n, D, threads)     # ts becomes dfg
            dh_cur = &dhb[l % 2, 0]
            memset(dh_cur, 0, d * B * R * sizeof(floating))
            if l < L - 1:
                memcpy(dh_cur + d * B * R, dh_next, n * R * sizeof(floating))
            else:
                memset(dh_cur + d * B * R, 0, n * R * sizeof(floating))
            dilated_conv_backward(ts + ts_off[l], h + h_off[l], n_in, B, R, p + oW + l * 2 * R * D2,
                                  d, D2, g + oW + l * 2 * R * D2, g + oc + l * D2, dh_cur, &ones[0])
            dh_next = dh_cur
        input_conv_backward(dh_next, &x[0, 0], N - 1, B, A, R, g + oE, g + ob_)

    if cfg.gc_ids:
        _gc_backward(cfg, offsets, np.asarray(params), np.asarray(grads), gc, ws, B)
    return loss / TB, np.asarray(nllb).reshape(T, B).copy()


cdef inline void _add(floating* a, const floating* b, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        a[j] += b[j]


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
