"""The WaveNet: a flat parameter buffer with named views, the reference forward and the
hand-written backward; the compute path that runs a step is the model's backend object.

Layout is time-major, ``(T, B, C)``. A batch is ``x: (N, B)`` μ-law classes with
``N = receptive_field + T``: the network reads ``x[:-1]`` and predicts ``x[RF:]``,
so exactly the last T positions carry loss and every convolution is valid
(unpadded): layer l's input is ``d_l`` rows longer than its output.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import backend as _backend
from . import layout
from .config import WaveNetConfig
from .layout import param_layout  # noqa: F401  (wavecore.model.param_layout, as before)
from .ops import (
    dilated_conv_backward,
    dilated_conv_forward,
    gate_backward,
    gate_forward,
    global_cond_backward,
    global_cond_forward,
    input_conv_backward,
    input_conv_forward,
    output_head_backward,
    output_head_forward,
    residual_skip_backward,
    residual_skip_forward,
    softmax_ce_backward,
    softmax_ce_forward,
)


@dataclass
class Batch:
    """Training windows: ``x: (N, B)`` int classes, N = receptive_field + T; ``gc: (B,)`` ids."""
    x: np.ndarray
    gc: np.ndarray | None = None


def _init_std(cfg: WaveNetConfig, name: str) -> float:
    R, D, S, L = cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels, cfg.n_layers
    return {"input.E": np.sqrt(0.5), "layers.W": np.sqrt(1.0 / (2 * R)),
            "layers.Wr": np.sqrt(1.0 / D), "skip.W": np.sqrt(1.0 / (D * L)),
            "gc.embed": 1.0, "layers.V": np.sqrt(1.0 / cfg.gc_channels),
            "out.W1": np.sqrt(2.0 / S), "out.W2": np.sqrt(1.0 / S)}.get(name, 0.0)


class WaveNet:
    """A WaveNet of a given config and dtype on a compute path.

    backend: "auto" (the compiled CPU kernels where built, else the NumPy reference), "cpu",
    "numpy", "gpu" or a backend object (wavecore.backend); the model delegates its step and
    evaluation to it. ``logits`` and ``loss`` are the NumPy reference on every backend.

    >>> net = WaveNet(WaveNetConfig(layers=3, stacks=2, residual_channels=4,
    ...               dilation_channels=4, skip_channels=8, classes=16))
    >>> params = net.init_params(seed=0)
    >>> loss, grads = net.loss_and_grads(params, Batch(x))   # x: (RF + T, B)
    """

    def __init__(self, config: WaveNetConfig, dtype=np.float32, backend="auto",
                 threads: int | None = None):
        self.config = config
        self.backend = _backend.make(backend, threads)
        self.threads = self.backend.threads
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"WaveNet dtype must be float32 or float64, got {self.dtype}")
        self.layout = layout.param_layout(config)
        self.offsets: dict[str, tuple[int, tuple[int, ...]]] = layout.offsets(config)
        self.offset_table = layout.offset_table(config).astype(np.intp)   # what kernels index
        self.size = layout.size(config)

    # -- parameters ---------------------------------------------------------
    def views(self, flat) -> dict:
        """Named views into a flat buffer (parameters, gradients or Adam moments alike; NumPy
        or device arrays)."""
        if flat.shape != (self.size,):
            raise ValueError(f"flat buffer has shape {flat.shape}, this model needs ({self.size},)")
        return {name: flat[o:o + int(np.prod(s))].reshape(s) for name, (o, s) in self.offsets.items()}

    def init_params(self, seed: int = 0) -> np.ndarray:
        """Seeded initialisation on the host: normal weights scaled by fan-in, zero biases."""
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

    def _unpack(self, batch):
        if isinstance(batch, Batch):
            return self._check(batch.x, batch.gc, self.config.receptive_field + 1)
        return self._check(batch, None, self.config.receptive_field + 1)

    # -- forward / backward -------------------------------------------------
    def logits(self, params, x, gc=None) -> np.ndarray:
        """x: (M, B) classes -> logits: (M - RF + 1, B, A); row i predicts x[RF - 1 + i + 1].
        The NumPy reference on every backend (device parameters are copied to the host)."""
        x, gc = self._check(x, gc, self.config.receptive_field)
        return _forward(self.config, self.views(self.backend.to_host(params)), x, gc)[0]

    def loss(self, params, batch: Batch | np.ndarray):
        """Forward only: (mean NLL in nats, nll: (T, B) per position, logits: (T, B, A)), on the
        NumPy reference (device parameters are copied to the host)."""
        x, gc = self._unpack(batch)
        return reference_forward(self, self.backend.to_host(params), x, gc)

    def loss_and_grads(self, params, batch: Batch | np.ndarray):
        """Mean cross-entropy over the last T = N - RF positions and its gradient (flat, like
        params; on the GPU backend a device buffer valid until the next step)."""
        x, gc = self._unpack(batch)
        return self.backend.loss_and_grads(self, params, x, gc)

    def evaluate(self, params, batch: Batch | np.ndarray):
        """Forward only, on the backend: (mean NLL in nats, nll: (T, B), predicted class: (T, B))."""
        x, gc = self._unpack(batch)
        return self.backend.evaluate(self, params, x, gc)


def _forward(cfg, p, x_in, gc):
    """The reference forward. p: named views; x_in: (M, B) -> logits: (M - RF + 1, B, A) and
    the caches for backward."""
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


def reference_forward(net, params, x, gc):
    """Forward only on the NumPy reference: (mean NLL, nll: (T, B), logits: (T, B, A))."""
    logits, _ = _forward(net.config, net.views(params), x[:-1], gc)
    loss, c_ce = softmax_ce_forward(logits, x[net.config.receptive_field:])
    return float(loss), c_ce[2], logits


def reference_loss_and_grads(net, params, x, gc):
    """The reference step: mean NLL over the last T positions and its gradient (flat)."""
    cfg = net.config
    p = net.views(params)
    logits, (c_in, layers, c_out) = _forward(cfg, p, x[:-1], gc)
    loss, c_ce = softmax_ce_forward(logits, x[cfg.receptive_field:])

    grads = np.zeros_like(params)
    g = net.views(grads)
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
