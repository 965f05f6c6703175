"""The training step on the GPU: the forward and the hand-written backward of wavecore/model.py
with cuBLAS GEMMs and the fused kernels of kernels/*.cu, on buffers kept on the device.

Layout as on the CPU: time-major rows ``(t, b)``; layer l reads ``h_l: (Tin_l*B, R)`` and
writes ``Tout_l = Tin_l - d_l`` rows; only the last T rows of each layer feed the one skip
GEMM ``zcat: (T*B, L*D) @ skip.W: (L*D, S)``.
"""
from __future__ import annotations

import numpy as np

from . import ops


class Workspace:
    """Device buffers for one window shape (N, B)."""

    def __init__(self, dev, cfg, N, B, dtype):
        xp, R, D, S, A, L = (dev.xp, cfg.residual_channels, cfg.dilation_channels,
                             cfg.skip_channels, cfg.classes, cfg.n_layers)
        self.T = N - cfg.receptive_field
        TB = self.T * B
        tin = N - 2
        self.rows = []                                     # (Tin_l, Tout_l) per layer
        for d in cfg.dilations:
            self.rows.append((tin, tin - d))
            tin -= d
        e = lambda *s: xp.empty(s, dtype)                  # noqa: E731
        self.h = [e(ti * B, R) for ti, _ in self.rows]     # h[l]: (Tin_l*B, R) layer inputs
        self.fg = [e(to * B, 2 * D) for _, to in self.rows]  # fg[l]: (Tout_l*B, 2D), then dfg
        self.z = [e(to * B, D) for _, to in self.rows]     # z[l]: (Tout_l*B, D)
        self.zcat = e(TB, L * D)                           # zcat: (T*B, L*D), then dzcat
        self.skip = e(TB, S)                               # skip sum, then dskip
        self.y = e(TB, S)                                  # y = relu(skip + Σ bs)
        self.o = e(TB, S)                                  # o = relu(y W1 + b1)
        self.da = e(TB, S)
        self.logits = e(TB, A)                             # logits, then dlogits
        self.nll = e(TB)
        self.pred = xp.empty(TB, np.int64)
        self.dh = [e(ti * B, R) for ti, _ in self.rows]    # dh[l]: gradient of h[l]
        self.dz = e(max(to for _, to in self.rows) * B, D)


class GpuModel:
    """The step of one WaveNet on one device; workspaces cached by window shape (two kept)."""

    def __init__(self, net, dev):
        self.net, self.dev, self.cfg = net, dev, net.config
        self._ws: dict = {}

    def _workspace(self, N, B):
        key = (N, B)
        ws = self._ws.pop(key, None) or Workspace(self.dev, self.cfg, N, B, self.net.dtype)
        self._ws[key] = ws
        while len(self._ws) > 2:
            self._ws.pop(next(iter(self._ws)))
        return ws

    def params(self, params):
        """params on the device (copied there when given on the host)."""
        xp = self.dev.xp
        if isinstance(params, xp.ndarray) and params.dtype == self.net.dtype:
            return params
        return xp.asarray(np.ascontiguousarray(params, dtype=self.net.dtype))

    def loss_and_grads(self, params, x, gc, backward=True):
        """x: (N, B) host ints -> (loss, grads: flat on the device | None, nll: (T, B) device,
        pred: (T, B) device | None)."""
        dev, xp, cfg = self.dev, self.dev.xp, self.cfg
        net = self.net
        N, B = x.shape
        R, D, L = cfg.residual_channels, cfg.dilation_channels, cfg.n_layers
        ws = self._workspace(N, B)
        T, TB = ws.T, ws.T * B
        p = net.views(self.params(params))
        xd = xp.asarray(np.ascontiguousarray(x, dtype=np.int64))     # xd: (N, B)
        gcb = None
        if cfg.gc_ids:
            e = p["gc.embed"][xp.asarray(np.asarray(gc, np.int64))]  # e: (B, G)
            gcb = xp.matmul(e[None], p["layers.V"])                   # gcb: (L, B, 2D)

        # forward
        ops.input_conv_forward(dev, xd[:-1], p["input.E"], p["input.b"], ws.h[0])
        for l, d in enumerate(cfg.dilations):
            tout, h = ws.rows[l][1], ws.h[l]
            W, fg = p["layers.W"][l], ws.fg[l]
            dev.gemm(h[:tout * B], W[:R], fg)                         # h[t-d] W_past
            dev.gemm(h[d * B:], W[R:], fg, beta=1.0)                  # + h[t] W_cur
            ops.gate_forward(dev, fg, p["layers.c"][l], None if gcb is None else gcb[l], ws.z[l],
                             ws.zcat[:, l * D:], B, (tout - T) * B)
            if l < L - 1:
                ops.residual_skip_forward(dev, h[d * B:], p["layers.br"][l], ws.h[l + 1])
                dev.gemm(ws.z[l], p["layers.Wr"][l], ws.h[l + 1], beta=1.0)
        dev.gemm(ws.zcat, p["skip.W"].reshape(L * D, -1), ws.skip)   # one skip GEMM
        ops.output_head_forward(dev, ws.skip, p["skip.b"].sum(axis=0), ws.y)
        dev.gemm(ws.y, p["out.W1"], ws.o)
        ops.output_head_forward(dev, ws.o, p["out.b1"], ws.o)
        dev.gemm(ws.o, p["out.W2"], ws.logits)
        targets = xd[cfg.receptive_field:].reshape(TB)
        ops.softmax_ce(dev, ws.logits, p["out.b2"], targets, ws.nll,
                       pred=None if backward else ws.pred, backward=backward)
        loss = float(ws.nll.mean())
        nll = ws.nll.reshape(T, B)
        if not backward:
            return loss, None, nll, ws.pred.reshape(T, B)

        # backward
        grads = xp.empty(net.size, net.dtype)
        g = net.views(grads)
        dl = ws.logits                                                # dl: (T*B, A)
        dev.gemm(ws.o, dl, g["out.W2"], ta=True)
        ops.colsum(dev, dl, g["out.b2"])
        dev.gemm(dl, p["out.W2"], ws.da, tb=True)                     # da: (T*B, S)
        ops.output_head_backward(dev, ws.da, ws.o)
        dev.gemm(ws.y, ws.da, g["out.W1"], ta=True)
        ops.colsum(dev, ws.da, g["out.b1"])
        dy = ws.skip                                                  # dy: (T*B, S)
        dev.gemm(ws.da, p["out.W1"], dy, tb=True)
        ops.output_head_backward(dev, dy, ws.y)
        ops.colsum(dev, dy, g["skip.b"][0])
        g["skip.b"][1:] = g["skip.b"][0]                              # every layer's skip bias
        dev.gemm(ws.zcat, dy, g["skip.W"].reshape(L * D, -1), ta=True)
        dzcat = ws.zcat                                               # dzcat: (T*B, L*D)
        dev.gemm(dy, p["skip.W"].reshape(L * D, -1), dzcat, tb=True)
        if cfg.gc_ids:
            g["gc.embed"][...] = 0
            onehot = np.zeros((cfg.gc_ids, B), net.dtype)
            onehot[np.asarray(gc, np.int64), np.arange(B)] = 1
            onehot = xp.asarray(onehot)                               # onehot: (n_ids, B)
        for l in reversed(range(L)):
            d, tout = cfg.dilations[l], ws.rows[l][1]
            fg, dh, h = ws.fg[l], ws.dh[l], ws.h[l]
            dz = None
            if l < L - 1:
                dn = ws.dh[l + 1]                                     # dn: (Tout*B, R)
                dev.gemm(ws.z[l], dn, g["layers.Wr"][l], ta=True)
                ops.colsum(dev, dn, g["layers.br"][l])
                dz = ws.dz[:tout * B]
                dev.gemm(dn, p["layers.Wr"][l], dz, tb=True)
            ops.gate_backward(dev, fg, dz, dzcat[:, l * D:], (tout - T) * B)   # fg := dfg
            if cfg.gc_ids:
                dbias = fg.reshape(tout, B, 2 * D).sum(axis=0)       # dbias: (B, 2D)
                g["layers.V"][l] = e.T @ dbias
                g["gc.embed"] += onehot @ (dbias @ p["layers.V"][l].T)
            W = p["layers.W"][l]
            dev.gemm(h[:tout * B], fg, g["layers.W"][l][:R], ta=True)
            dev.gemm(h[d * B:], fg, g["layers.W"][l][R:], ta=True)
            ops.colsum(dev, fg, g["layers.c"][l])
            if l < L - 1:
                dh[:d * B] = 0
                dh[d * B:] = ws.dh[l + 1]                             # the residual path
                dev.gemm(fg, W[R:], dh[d * B:], tb=True, beta=1.0)
            else:
                dev.gemm(fg, W[R:], dh[d * B:], tb=True)
                dh[:d * B] = 0
            dev.gemm(fg, W[:R], dh[:tout * B], tb=True, beta=1.0)
        ops.input_conv_backward(dev, xd[:-1], ws.dh[0], g["input.E"])
        ops.colsum(dev, ws.dh[0], g["input.b"])
        return loss, grads, nll, None
