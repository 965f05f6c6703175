"""The WaveNet: a flat parameter buffer with named views, forward, hand-written backward.

Layout is time-major, ``(T, B, C)``. A batch is ``x: (N, B)`` μ-law classes with
``N = receptive_field + T``: the network reads ``x[:-1]`` and predicts ``x[RF:]``,
so exactly the last T positions carry loss and every convolution is valid
(unpadded): layer l's input is ``d_l`` rows longer than its output.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import backend as _backend
from .config import WaveNetConfig
from .ops import (dilated_conv_backward, dilated_conv_forward, gate_backward, gate_forward,
                  global_cond_backward, global_cond_forward, input_conv_backward,
                  input_conv_forward, output_head_backward, output_head_forward,
                  residual_skip_backward, residual_skip_forward, softmax_ce_backward,
                  softmax_ce_forward)


@dataclass
class Batch:
    """Training windows: ``x: (N, B)`` int classes, N = receptive_field + T; ``gc: (B,)`` ids."""
    x: np.ndarray
    gc: np.ndarray | None = None


def param_layout(cfg: WaveNetConfig) -> list[tuple[str, tuple[int, ...]]]:
    """Named blocks of the flat buffer, in order. Per-layer weights are stacked on axis 0
    (``layers.W[l]`` is layer l's W), so e.g. all skip weights form one (L*D, S) matrix."""
    A, R, D, S, L = (cfg.classes, cfg.residual_channels, cfg.dilation_channels,
                     cfg.skip_channels, cfg.n_layers)
    out = [("input.E", (2, A, R)), ("input.b", (R,)),
           ("layers.W", (L, 2 * R, 2 * D)), ("layers.c", (L, 2 * D)),
           ("layers.Wr", (L - 1, D, R)), ("layers.br", (L - 1, R)),   # the last layer has no residual
           ("skip.W", (L, D, S)), ("skip.b", (L, S))]
    if cfg.gc_ids:
        out += [("gc.embed", (cfg.gc_ids, cfg.gc_channels)), ("layers.V", (L, cfg.gc_channels, 2 * D))]
    out += [("out.W1", (S, S)), ("out.b1", (S,)), ("out.W2", (S, A)), ("out.b2", (A,))]
    return out


def host_array(a):
    """A NumPy array for a NumPy or CuPy array (CuPy's .get() copies it from the device)."""
    return a if isinstance(a, np.ndarray) or not hasattr(a, "get") else a.get()


def _init_std(cfg: WaveNetConfig, name: str) -> float:
    R, D, S, L = cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels, cfg.n_layers
    return {"input.E": np.sqrt(0.5), "layers.W": np.sqrt(1.0 / (2 * R)),
            "layers.Wr": np.sqrt(1.0 / D), "skip.W": np.sqrt(1.0 / (D * L)),
            "gc.embed": 1.0, "layers.V": np.sqrt(1.0 / cfg.gc_channels),
            "out.W1": np.sqrt(2.0 / S), "out.W2": np.sqrt(1.0 / S)}.get(name, 0.0)


class WaveNet:
    """A WaveNet of a given config and dtype on the NumPy reference path.

    >>> net = WaveNet(WaveNetConfig(layers=3, stacks=2, residual_channels=4,
    ...               dilation_channels=4, skip_channels=8, classes=16))
    >>> params = net.init_params(seed=0)
    >>> loss, grads = net.loss_and_grads(params, Batch(x))   # x: (RF + T, B)
    """

    def __init__(self, config: WaveNetConfig, dtype=np.float32, backend: str = "auto",
                 threads: int | None = None):
        self.config = config
        self.backend = _backend.resolve(backend)
        self.threads = _backend.default_threads() if threads is None else int(threads)
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self._workspaces: dict = {}           # compiled-step buffers by window shape (at most 2)
        self._gpu = None                      # the GPU step, made on first use
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"WaveNet dtype must be float32 or float64, got {self.dtype}")
        self.layout = param_layout(config)
        self.offsets: dict[str, tuple[int, tuple[int, ...]]] = {}
        n = 0
        for name, shape in self.layout:
            self.offsets[name] = (n, shape)
            n += int(np.prod(shape))
        self.size = n

    # -- parameters ---------------------------------------------------------
    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Named views into a flat buffer (parameters, gradients or Adam moments alike)."""
        if flat.shape != (self.size,):
            raise ValueError(f"flat buffer has shape {flat.shape}, this model needs ({self.size},)")
        return {name: flat[o:o + int(np.prod(s))].reshape(s) for name, (o, s) in self.offsets.items()}

    def init_params(self, seed: int = 0) -> np.ndarray:
        """Seeded initialisation: normal weights scaled by fan-in, zero biases."""
        rng = np.random.default_rng(seed)
        flat = np.zeros(self.size, dtype=self.dtype)
        for name, v in self.views(flat).items():
            std = _init_std(self.config, name)
            if std:
                v[...] = rng.standard_normal(v.shape) * std
        return flat

    # -- checks -------------------------------------------------------------
    def _check(self, x, gc, min_len):
        cfg = self.config
        x = np.asarray(x)
        if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"x must be int classes of shape (N, B), got {x.dtype} {x.shape}")
        if x.shape[0] < min_len:
            raise ValueError(f"x has {x.shape[0]} samples; this model needs at least {min_len} "
                             f"(receptive field {cfg.receptive_field})")
        if x.size and (x.min() < 0 or x.max() >= cfg.classes):
            raise ValueError(f"x classes must lie in [0, {cfg.classes}), got [{x.min()}, {x.max()}]")
        if cfg.gc_ids:
            if gc is None:
                raise ValueError(f"this model is conditioned on {cfg.gc_ids} ids: pass gc of shape (B,)")
            gc = np.asarray(gc)
            if gc.shape != (x.shape[1],) or not np.issubdtype(gc.dtype, np.integer):
                raise ValueError(f"gc must be int ids of shape ({x.shape[1]},), got {gc.dtype} {gc.shape}")
            if gc.min() < 0 or gc.max() >= cfg.gc_ids:
                raise ValueError(f"unknown conditioning id: ids must lie in [0, {cfg.gc_ids}), "
                                 f"got [{gc.min()}, {gc.max()}]")
        elif gc is not None:
            raise ValueError("this model has no global conditioning (gc_ids=0) but gc was given")
        return x, gc

    # -- forward / backward -------------------------------------------------
    def _forward(self, p, x_in, gc):
        """x_in: (M, B) -> logits: (M - RF + 1, B, A) and the caches for backward."""
        cfg = self.config
        T = x_in.shape[0] - cfg.receptive_field + 1
        L = cfg.n_layers
        h, c_in = input_conv_forward(x_in, p["input.E"], p["input.b"])   # h: (M-1, B, R)
        skip_sum = 0
        layers = []
        for l, d in enumerate(cfg.dilations):
            fg, c_conv = dilated_conv_forward(h, p["layers.W"][l], p["layers.c"][l], d)  # (Tl, B, 2D)
            c_gc = None
            if cfg.gc_ids:
                bias, c_gc = global_cond_forward(gc, p["gc.embed"], p["layers.V"][l])   # (B, 2D)
                fg = fg + bias
            z, c_gate = gate_forward(fg)                                               # (Tl, B, D)
            last = l == L - 1
            (h, skip), c_rs = residual_skip_forward(
                h, z, None if last else p["layers.Wr"][l], None if last else p["layers.br"][l],
                p["skip.W"][l], p["skip.b"][l], T)                                    # skip: (T, B, S)
            skip_sum = skip_sum + skip
            layers.append((c_conv, c_gc, c_gate, c_rs))
        logits, c_out = output_head_forward(skip_sum, p["out.W1"], p["out.b1"], p["out.W2"], p["out.b2"])
        return logits, (c_in, layers, c_out)

    def logits(self, params, x, gc=None) -> np.ndarray:
        """x: (M, B) classes -> logits: (M - RF + 1, B, A); row i predicts x[RF - 1 + i + 1].
        The NumPy reference on every backend (device parameters are copied to the host)."""
        x, gc = self._check(x, gc, self.config.receptive_field)
        return self._forward(self.views(host_array(params)), x, gc)[0]

    def loss(self, params, batch: Batch | np.ndarray):
        """Forward only: (mean NLL in nats, nll: (T, B) per position, logits: (T, B, A)), on the
        NumPy reference (device parameters are copied to the host)."""
        x, gc = self._unpack(batch)
        logits, _ = self._forward(self.views(host_array(params)), x[:-1], gc)
        loss, c_ce = softmax_ce_forward(logits, x[self.config.receptive_field:])
        return float(loss), c_ce[2], logits

    def _unpack(self, batch):
        if isinstance(batch, Batch):
            return self._check(batch.x, batch.gc, self.config.receptive_field + 1)
        return self._check(batch, None, self.config.receptive_field + 1)

    def loss_and_grads(self, params, batch: Batch | np.ndarray):
        """Mean cross-entropy over the last T = N - RF positions and its gradient (flat, like params)."""
        cfg = self.config
        x, gc = self._unpack(batch)
        if self.backend == "cpu":
            return self._cpu_loss_and_grads(params, x, gc)[:2]
        if self.backend == "gpu":
            gpu = self.gpu()
            loss, grads, _, _ = gpu.loss_and_grads(params, x, gc)
            return loss, grads if isinstance(params, gpu.dev.xp.ndarray) else gpu.dev.to_host(grads)
        p = self.views(params)
        logits, (c_in, layers, c_out) = self._forward(p, x[:-1], gc)
        loss, c_ce = softmax_ce_forward(logits, x[cfg.receptive_field:])

        grads = np.zeros_like(params)
        g = self.views(grads)
        (dlogits,) = softmax_ce_backward(1.0, c_ce)
        dskip, g["out.W1"][...], g["out.b1"][...], g["out.W2"][...], g["out.b2"][...] = \
            output_head_backward(dlogits, c_out)
        dh = None
        for l in reversed(range(cfg.n_layers)):
            c_conv, c_gc, c_gate, c_rs = layers[l]
            dh_res, dz, dWr, dbr, g["skip.W"][l], g["skip.b"][l] = residual_skip_backward((dh, dskip), c_rs)
            if dWr is not None:
                g["layers.Wr"][l], g["layers.br"][l] = dWr, dbr
            (dfg,) = gate_backward(dz, c_gate)
            if c_gc is not None:
                dembed, g["layers.V"][l] = global_cond_backward(dfg.sum(axis=0), c_gc)
                g["gc.embed"] += dembed
            dh_conv, g["layers.W"][l], g["layers.c"][l] = dilated_conv_backward(dfg, c_conv)
            dh = dh_res + dh_conv
        g["input.E"][...], g["input.b"][...] = input_conv_backward(dh, c_in)
        return float(loss), grads

    def evaluate(self, params, batch: Batch | np.ndarray):
        """Forward only: (mean NLL in nats, nll: (T, B), predicted class: (T, B)), on the
        compiled path when this model runs on it."""
        x, gc = self._unpack(batch)
        if self.backend == "cpu":
            loss, _, nll, pred = self._cpu_loss_and_grads(params, x, gc, backward=False)
            return loss, nll, pred
        if self.backend == "gpu":
            gpu = self.gpu()
            loss, _, nll, pred = gpu.loss_and_grads(params, x, gc, backward=False)
            return loss, gpu.dev.to_host(nll), gpu.dev.to_host(pred)
        loss, nll, logits = self.loss(params, Batch(x, gc))
        return loss, nll, logits.argmax(-1)

    def gpu(self):
        """The GPU step of this model (wavecore/_gpu/model.py), on the device of backend="gpu"."""
        if self._gpu is None:
            from ._gpu import GpuModel, device
            self._gpu = GpuModel(self, device.get())
        return self._gpu

    def _cpu_loss_and_grads(self, params, x, gc, backward=True):
        """The compiled step (wavecore/_cpu/model.pyx): (loss, grads, nll: (T, B), predicted).
        backward=False: forward only; grads is None and predicted (T, B) the argmax classes."""
        if params.dtype != self.dtype or not params.flags.c_contiguous or params.shape != (self.size,):
            raise ValueError(f"params must be a contiguous {self.dtype} buffer of shape "
                             f"({self.size},), got {params.dtype} {params.shape}")
        kernel = _backend.cpu_kernel("model")
        key = (x.shape[0], x.shape[1], self.dtype, self.threads)
        ws = self._workspaces.pop(key, None)
        if ws is None:
            ws = kernel.Workspace(self.config, x.shape[0], x.shape[1], self.dtype, self.threads,
                                  self.size if backward else 1)
        elif backward and ws.gpart.shape[1] != self.size:
            ws.gpart = np.empty((self.threads, self.size), self.dtype)
        self._workspaces[key] = ws                       # most recent last; keep two shapes
        while len(self._workspaces) > 2:
            self._workspaces.pop(next(iter(self._workspaces)))
        x = np.ascontiguousarray(x, dtype=np.int64)
        T = x.shape[0] - self.config.receptive_field
        grads = np.empty_like(params) if backward else np.empty(1, self.dtype)
        pred = None if backward else np.empty(T * x.shape[1], np.int64)
        with _backend.blas_threads(1):          # the kernel's OpenMP blocks own the threads
            loss, nll = kernel.loss_and_grads(self.config, self.offsets, params, x, gc, grads,
                                              ws, self.threads, pred)
        if not backward:
            return float(loss), None, nll, pred.reshape(T, x.shape[1])
        return float(loss), grads, nll, None
