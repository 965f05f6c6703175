"""The WaveNet: a flat parameter buffer with named views, the reference forward and the
hand-written backward; the compute path that runs a step is the model's backend object.

Layout is time-major, ``(T, B, C)``. A batch is ``x: (N, B)`` μ-law classes with
``N = receptive_field + T``: the network reads ``x[:-1]`` and predicts ``x[RF:]``,
so exactly the last T positions carry loss and every convolution is valid
(unpadded): layer l's input is ``d_l`` rows longer than its output. A batch whose inputs were
corrupted carries its clean targets apart, ``y: (T, B)``, and every path's loss reads those.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import backends as _backend
from . import layout
from .config import WaveNetConfig
from .ops import bf16
from .reference import forward, reference_forward


@dataclass
class Batch:
    """Training windows: ``x: (N, B)`` int classes, N = receptive_field + T; ``gc: (B,)`` ids;
    ``y: (T, B)`` the targets, when they are not ``x[RF:]`` (inputs corrupted, targets clean)."""
    x: np.ndarray
    gc: np.ndarray | None = None
    y: np.ndarray | None = None

    def part(self, lo: int, hi: int) -> Batch:
        """Windows lo..hi-1 (a rank's share)."""
        return Batch(self.x[:, lo:hi], None if self.gc is None else self.gc[lo:hi],
                     None if self.y is None else self.y[:, lo:hi])


def _init_std(cfg: WaveNetConfig, name: str) -> float:
    R, D, S, L = cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels, cfg.n_layers
    return {"input.E": np.sqrt(0.5), "layers.W": np.sqrt(1.0 / (2 * R)),
            "layers.Wr": np.sqrt(1.0 / D), "skip.W": np.sqrt(1.0 / (D * L)),
            "gc.embed": 1.0, "layers.V": np.sqrt(1.0 / cfg.gc_channels),
            "out.W1": np.sqrt(2.0 / S), "out.W2": np.sqrt(1.0 / S)}.get(name, 0.0)


class WaveNet:
    """A WaveNet of a given config and dtype on a compute path.

    backend: "auto" (the compiled CPU kernels where built, else the NumPy reference), "cpu",
    "numpy", "gpu" or a backend object (wavecore.engine.backends); the model delegates its step and
    evaluation to it. ``logits`` and ``loss`` are the NumPy reference on every backend.
    precision: "fp32", "bf16" (GEMM operands in bf16, fp32 accumulation) or "auto"
    (wavecore.engine.precision); ``net.precision`` is the one that runs.

    >>> net = WaveNet(WaveNetConfig(layers=3, stacks=2, residual_channels=4,
    ...               dilation_channels=4, skip_channels=8, classes=16))
    >>> params = net.init_params(seed=0)
    >>> loss, grads = net.loss_and_grads(params, Batch(x))   # x: (RF + T, B)
    """

    def __init__(self, config: WaveNetConfig, dtype=np.float32, backend="auto",
                 threads: int | None = None, precision: str = "fp32"):
        self.config = config
        self.backend = _backend.make(backend, threads)
        self.threads = self.backend.threads
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"WaveNet dtype must be float32 or float64, got {self.dtype}")
        self.precision = self.backend.resolve_precision(precision, self.dtype)
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
        return {name: flat[o:o + int(np.prod(s))].reshape(s)
                for name, (o, s) in self.offsets.items()}

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
            raise ValueError(f"x classes must lie in [0, {cfg.classes}), "
                             f"got [{x.min()}, {x.max()}]")
        if cfg.gc_ids:
            if gc is None:
                raise ValueError(f"this model is conditioned on {cfg.gc_ids} ids: "
                                 "pass gc of shape (B,)")
            gc = np.asarray(gc)
            if gc.shape != (x.shape[1],) or not np.issubdtype(gc.dtype, np.integer):
                raise ValueError(f"gc must be int ids of shape ({x.shape[1]},), "
                                 f"got {gc.dtype} {gc.shape}")
            if gc.min() < 0 or gc.max() >= cfg.gc_ids:
                raise ValueError(f"unknown conditioning id: ids must lie in [0, {cfg.gc_ids}), "
                                 f"got [{gc.min()}, {gc.max()}]")
        elif gc is not None:
            raise ValueError("this model has no global conditioning (gc_ids=0) but gc was given")
        return x, gc

    def _unpack(self, batch):
        """(x, gc, y): y is None where the targets are x[RF:]."""
        if not isinstance(batch, Batch):
            batch = Batch(batch)
        x, gc = self._check(batch.x, batch.gc, self.config.receptive_field + 1)
        y = batch.y
        if y is not None:
            y = np.asarray(y)
            T = x.shape[0] - self.config.receptive_field
            if y.shape != (T, x.shape[1]) or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"y must be int targets of shape ({T}, {x.shape[1]}), "
                                 f"got {y.dtype} {y.shape}")
            if y.size and (y.min() < 0 or y.max() >= self.config.classes):
                raise ValueError(f"y classes must lie in [0, {self.config.classes}), "
                                 f"got [{y.min()}, {y.max()}]")
        return x, gc, y

    # -- forward / backward -------------------------------------------------
    def logits(self, params, x, gc=None) -> np.ndarray:
        """x: (M, B) classes -> logits: (M - RF + 1, B, A); row i predicts x[RF - 1 + i + 1].
        The NumPy reference on every backend (device parameters are copied to the host)."""
        x, gc = self._check(x, gc, self.config.receptive_field)
        with bf16.rounding(self.precision == "bf16"):
            return forward(self.config, self.views(self.backend.to_host(params)), x, gc)[0]

    def loss(self, params, batch: Batch | np.ndarray):
        """Forward only: (mean NLL in nats, nll: (T, B) per position, logits: (T, B, A)), on the
        NumPy reference (device parameters are copied to the host)."""
        x, gc, y = self._unpack(batch)
        return reference_forward(self, self.backend.to_host(params), x, gc, y)

    def loss_and_grads(self, params, batch: Batch | np.ndarray):
        """Mean cross-entropy over the last T = N - RF positions and its gradient (flat, like
        params; on the GPU backend a device buffer valid until the next step)."""
        x, gc, y = self._unpack(batch)
        return self.backend.loss_and_grads(self, params, x, gc, y)

    def evaluate(self, params, batch: Batch | np.ndarray):
        """Forward only, on the backend: (mean NLL in nats, nll: (T, B),
        predicted class: (T, B))."""
        x, gc, y = self._unpack(batch)
        return self.backend.evaluate(self, params, x, gc, y)
