"""The training step on the GPU: the forward and the hand-written backward of
wavecore/engine/model.py with cuBLAS GEMMs and the fused kernels of kernels/*.cu, on buffers
kept on the device.

Layout as on the CPU: time-major rows ``(t, b)``; layer l reads ``h_l: (Tin_l*B, R)`` and
writes ``Tout_l = Tin_l - d_l`` rows; only the last T rows of each layer feed the one skip
GEMM ``zcat: (T*B, L*D) @ skip.W: (L*D, S)``.

A step is some 15 launches per layer. With ``graphs=True`` (the default) the first step of a
window shape runs eagerly (compiling kernels, sizing cuBLAS), the second is captured into a
CUDA graph and checked against an eager run, and every later step is one graph launch. All
device work of a step therefore goes through the device's kernel, gemm, fill and copy into
buffers the workspace owns, reading parameters and the window from workspace buffers too.
"""
from __future__ import annotations

import warnings

import numpy as np

from . import ops


class Workspace:
    """Device buffers for one window shape (N, B) and, once captured, its graphs."""

    def __init__(self, dev, net, N, B):
        cfg, dtype, xp = net.config, net.dtype, dev.xp
        R, D, S, A, L = (cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels,
                         cfg.classes, cfg.n_layers)
        self.N, self.B, self.T = N, B, N - cfg.receptive_field
        TB = self.T * B
        tin = N - 2
        self.rows = []                                     # (Tin_l, Tout_l) per layer
        for d in cfg.dilations:
            self.rows.append((tin, tin - d))
            tin -= d
        e = lambda *s: xp.empty(s, dtype)                  # noqa: E731
        self.params = e(net.size)                          # the step reads its parameters here
        self.grads = e(net.size)                           # and writes the gradient here
        self.x = xp.empty((N, B), np.int64)                # x: (N, B) the window's classes
        self.tgt = xp.empty(TB, np.int64)                  # tgt: (T*B,) the targets, x[RF:] or y
        self.h = [e(ti * B, R) for ti, _ in self.rows]     # h[l]: (Tin_l*B, R) layer inputs
        self.fg = [e(to * B, 2 * D) for _, to in self.rows]  # fg[l]: (Tout_l*B, 2D), then dfg
        self.z = [e(to * B, D) for _, to in self.rows]     # z[l]: (Tout_l*B, D)
        self.zcat = e(TB, L * D)                           # zcat: (T*B, L*D), then dzcat
        self.bsum = e(S)                                   # Σ_l skip biases
        self.skip = e(TB, S)                               # skip sum, then dskip
        self.y = e(TB, S)                                  # y = relu(skip + Σ bs)
        self.o = e(TB, S)                                  # o = relu(y W1 + b1)
        self.da = e(TB, S)
        self.logits = e(TB, A)                             # logits, then dlogits
        self.nll = e(TB)
        self.loss = e(1)                                   # Σ nll
        self.pred = xp.empty(TB, np.int64)
        self.ones = xp.ones(max((N - 2) * B, L), dtype)    # for column sums (bias gradients)
        self.dh = [e(ti * B, R) for ti, _ in self.rows]    # dh[l]: gradient of h[l]
        self.dz = e(max(to for _, to in self.rows) * B, D)
        if cfg.gc_ids:
            G = cfg.gc_channels
            self.onehot = e(cfg.gc_ids, B)                 # onehot: (n_ids, B) of the ids
            self.emb = e(B, G)                             # emb: (B, G) each stream's embedding
            self.gcb = e(L, B, 2 * D)                      # gcb: (L, B, 2D) conditioning bias
            self.dbias = e(B, 2 * D)
            self.demb = e(B, G)
        # modes (backward?, tf32?) run eagerly once
        self.warm = set()
        self.graph = {}                                    # mode -> its captured step


class GpuModel:
    """The step of one WaveNet on one device; workspaces cached by window shape (two kept)."""

    def __init__(self, net, dev, graphs: bool = True):
        self.net, self.dev, self.cfg = net, dev, net.config
        self.graphs = graphs
        self._ws: dict = {}

    def _workspace(self, N, B):
        key = (N, B)
        ws = self._ws.pop(key, None) or Workspace(self.dev, self.net, N, B)
        self._ws[key] = ws
        while len(self._ws) > 2:
            self._ws.pop(next(iter(self._ws)))
        return ws

    def loss_and_grads(self, params, x, gc, backward=True, y=None):
        """x: (N, B) host ints (targets y: (T, B), or x[RF:] where None) -> (loss, grads: flat
        on the device | None, nll: (T, B) device,
        pred: (T, B) device | None). grads, nll and pred are the workspace's buffers: valid
        until the next step of this window shape (no device allocation per step)."""
        dev, cfg = self.dev, self.cfg
        N, B = x.shape
        ws = self._workspace(N, B)
        xp = dev.xp
        x = np.ascontiguousarray(x, dtype=np.int64)
        dev.upload(ws.x, x)                                              # no allocation
        tgt = x[cfg.receptive_field:] if y is None else y
        dev.upload(ws.tgt, np.ascontiguousarray(tgt, dtype=np.int64).reshape(-1))
        if cfg.gc_ids:
            onehot = np.zeros((cfg.gc_ids, B), self.net.dtype)
            onehot[np.asarray(gc, np.int64), np.arange(B)] = 1
            dev.upload(ws.onehot, onehot)
        if isinstance(params, xp.ndarray):
            dev.copy(ws.params, params)
        else:
            dev.upload(ws.params, params)
        self._run(ws, backward)
        TB = ws.T * B
        loss = float(dev.to_host(ws.loss)[0]) / TB
        nll = ws.nll.reshape(ws.T, B)
        if not backward:
            return loss, None, nll, ws.pred.reshape(ws.T, B)
        return loss, ws.grads, nll, None

    def _run(self, ws, backward):
        """One step: eagerly, or by the workspace's graph (captured on the second step)."""
        mode = (backward, self.dev.tf32)                  # cuBLAS picks kernels per math mode
        g = ws.graph.get(mode)
        if g is not None:
            g.launch()
            return
        if not self.graphs:
            self._step(ws, backward)
            return
        if mode not in ws.warm:                          # the first step compiles and warms up,
            ws.warm.add(mode)                            # on the stream the capture will use
            with self.dev.on_capture_stream():
                self._step(ws, backward)
            return
        try:
            with self.dev.capture() as g:
                self._step(ws, backward)
            g.launch()
        except Exception as e:                           # a capture the device refuses
            warnings.warn(f"wavecore: the GPU step runs without CUDA graphs ({e})", stacklevel=3)
            self.graphs = False
            self._step(ws, backward)
            return
        got = (self.dev.to_host(ws.loss), self.dev.to_host(ws.grads if backward else ws.pred))
        self._step(ws, backward)                         # check the graph against eager
        want = (self.dev.to_host(ws.loss), self.dev.to_host(ws.grads if backward else ws.pred))
        tol = 1e-5 if self.net.dtype == np.float32 else 1e-12
        if all(np.allclose(a, b, rtol=tol, atol=tol * (np.abs(b).max() + 1e-30))
               for a, b in zip(got, want)):
            ws.graph[mode] = g
        else:
            warnings.warn("wavecore: the captured CUDA graph of the GPU step disagreed with the "
                          "eager step; running without graphs", stacklevel=3)
            self.graphs = False

    def _step(self, ws, backward):
        """All device work of one step, from ws.params and ws.x into ws.loss, ws.nll and ws.grads
        (backward) or ws.pred."""
        dev, cfg, net = self.dev, self.cfg, self.net
        B, T = ws.B, ws.T
        TB = T * B
        R, D, L = cfg.residual_channels, cfg.dilation_channels, cfg.n_layers
        p = net.views(ws.params)
        xd = ws.x                                                     # xd: (N, B)
        gcb = None
        if cfg.gc_ids:
            dev.gemm(ws.onehot, p["gc.embed"], ws.emb, ta=True)       # emb: (B, G)
            for l in range(L):
                dev.gemm(ws.emb, p["layers.V"][l], ws.gcb[l])         # gcb[l]: (B, 2D)
            gcb = ws.gcb

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
                ops.add_bias(dev, h[d * B:], p["layers.br"][l], ws.h[l + 1])
                dev.gemm(ws.z[l], p["layers.Wr"][l], ws.h[l + 1], beta=1.0)
        dev.gemm(ws.zcat, p["skip.W"].reshape(L * D, -1), ws.skip)   # one skip GEMM
        ops.colsum(dev, p["skip.b"], ws.bsum, ws.ones)
        ops.bias_relu(dev, ws.skip, ws.bsum, ws.y)
        dev.gemm(ws.y, p["out.W1"], ws.o)
        ops.bias_relu(dev, ws.o, p["out.b1"], ws.o)
        dev.gemm(ws.o, p["out.W2"], ws.logits)
        targets = ws.tgt
        ops.softmax_ce(dev, ws.logits, p["out.b2"], targets, ws.nll,
                       pred=None if backward else ws.pred, backward=backward)
        ops.colsum(dev, ws.nll.reshape(TB, 1), ws.loss, ws.ones)
        if not backward:
            return

        # backward
        g = net.views(ws.grads)
        dl = ws.logits                                                # dl: (T*B, A)
        dev.gemm(ws.o, dl, g["out.W2"], ta=True)
        ops.colsum(dev, dl, g["out.b2"], ws.ones)
        dev.gemm(dl, p["out.W2"], ws.da, tb=True)                     # da: (T*B, S)
        ops.relu_backward(dev, ws.da, ws.o)
        dev.gemm(ws.y, ws.da, g["out.W1"], ta=True)
        ops.colsum(dev, ws.da, g["out.b1"], ws.ones)
        dy = ws.skip                                                  # dy: (T*B, S)
        dev.gemm(ws.da, p["out.W1"], dy, tb=True)
        ops.relu_backward(dev, dy, ws.y)
        ops.colsum(dev, dy, g["skip.b"][0], ws.ones)
        dev.copy(g["skip.b"][1:], g["skip.b"][0])                     # every layer's skip bias
        dev.gemm(ws.zcat, dy, g["skip.W"].reshape(L * D, -1), ta=True)
        dzcat = ws.zcat                                               # dzcat: (T*B, L*D)
        dev.gemm(dy, p["skip.W"].reshape(L * D, -1), dzcat, tb=True)
        if cfg.gc_ids:
            dev.fill(g["gc.embed"], 0)
        for l in reversed(range(L)):
            d, tout = cfg.dilations[l], ws.rows[l][1]
            fg, dh, h = ws.fg[l], ws.dh[l], ws.h[l]
            dz = None
            if l < L - 1:
                dn = ws.dh[l + 1]                                     # dn: (Tout*B, R)
                dev.gemm(ws.z[l], dn, g["layers.Wr"][l], ta=True)
                ops.colsum(dev, dn, g["layers.br"][l], ws.ones)
                dz = ws.dz[:tout * B]
                dev.gemm(dn, p["layers.Wr"][l], dz, tb=True)
            ops.gate_backward(dev, fg, dz, dzcat[:, l * D:], (tout - T) * B)   # fg := dfg
            if cfg.gc_ids:
                ops.colsum(dev, fg.reshape(tout, B * 2 * D), ws.dbias.reshape(-1),
                           ws.ones)                                               # (B, 2D)
                dev.gemm(ws.emb, ws.dbias, g["layers.V"][l], ta=True)
                dev.gemm(ws.dbias, p["layers.V"][l], ws.demb, tb=True)            # (B, G)
                dev.gemm(ws.onehot, ws.demb, g["gc.embed"], beta=1.0)
            W = p["layers.W"][l]
            dev.gemm(h[:tout * B], fg, g["layers.W"][l][:R], ta=True)
            dev.gemm(h[d * B:], fg, g["layers.W"][l][R:], ta=True)
            ops.colsum(dev, fg, g["layers.c"][l], ws.ones)
            if l < L - 1:
                dev.fill(dh[:d * B], 0)
                dev.copy(dh[d * B:], ws.dh[l + 1])                    # the residual path
                dev.gemm(fg, W[R:], dh[d * B:], tb=True, beta=1.0)
            else:
                dev.gemm(fg, W[R:], dh[d * B:], tb=True)
                dev.fill(dh[:d * B], 0)
            dev.gemm(fg, W[:R], dh[:tout * B], tb=True, beta=1.0)
        ops.input_conv_backward(dev, xd[:-1], ws.dh[0], g["input.E"])
        ops.colsum(dev, ws.dh[0], g["input.b"], ws.ones)
