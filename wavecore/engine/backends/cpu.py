"""The "cpu" backend object (made by wavecore.engine.backends.make): the Cython kernels of
wavecore/engine/_cpu."""
from __future__ import annotations

import numpy as np

from .. import precision as _precision
from .. import workspace
from ..advance import CpuAdvance
from ..kernels import cpu_kernel
from .base import Backend, blas_threads, no_options


class CpuBackend(Backend):
    """The Cython kernels: the whole step in one call (wavecore/engine/_cpu/model.pyx), the
    sampler's loop in one nogil call (_cpu/sampler.pyx), Adam in one pass (_cpu/optim.pyx)."""

    name = "cpu"

    def __init__(self, threads: int | None = None):
        super().__init__(threads)
        self._workspaces: dict = {}  # step buffers by window shape (the three most recent kept)
        self._optim = cpu_kernel("optim")

    def uses_recompute(self, cfg, N, B, dtype, size) -> bool:
        """Whether a training step over (N, B) windows recomputes each layer's gate activations
        in its backward pass instead of keeping them (wavecore/engine/workspace.py): "on", "off", or
        "auto": when keeping them would take more than a third of the memory available now."""
        if self.recompute not in ("on", "off", "auto"):
            raise ValueError(f"recompute must be 'on', 'off' or 'auto', got {self.recompute!r}")
        if self.recompute != "auto":
            return self.recompute == "on"
        return (workspace.step_bytes(cfg, N, B, dtype, self.threads, size, False)
                > workspace.available_memory() / 3)

    def bf16_refusal(self, dtype) -> str | None:
        f = _precision.features()
        if np.dtype(dtype) != np.float32:
            return f"precision bf16 needs float32 parameters, not {np.dtype(dtype).name}"
        if not f["avx512_bf16"]:
            return ("precision bf16: this processor has no AVX512-BF16 instructions"
                    + (" (it has AMX, but this build has no AMX kernel)" if f["amx_bf16"] else "")
                    + "; use --precision fp32 (or auto)")
        return None

    def bf16_faster(self, dtype) -> bool:
        return np.dtype(dtype) == np.float32 and _precision.bf16_fast()

    def _workspace(self, net, N, B, backward):
        kernel = cpu_kernel("model")
        size = net.size if backward else 1
        key = (net.config, N, B, net.dtype, backward)
        ws = self._workspaces.pop(key, None)
        if ws is None or (backward and self.recompute != "auto"
                          and ws.recompute != (self.recompute == "on")):
            ws = None                                    # free it before the next one is made
            recompute = backward and self.uses_recompute(net.config, N, B, net.dtype, size)
            ws = kernel.Workspace(net.config, N, B, net.dtype, self.threads, size, recompute)
        self._workspaces[key] = ws                       # most recent last; keep three shapes
        while len(self._workspaces) > 3:
            self._workspaces.pop(next(iter(self._workspaces)))
        return ws

    def _step(self, net, params, x, gc, y, backward):
        if (params.dtype != net.dtype or not params.flags.c_contiguous
                or params.shape != (net.size,)):
            raise ValueError(f"params must be a contiguous {net.dtype} buffer of shape "
                             f"({net.size},), got {params.dtype} {params.shape}")
        ws = self._workspace(net, x.shape[0], x.shape[1], backward)
        x = np.ascontiguousarray(x, dtype=np.int64)
        T, B = x.shape[0] - net.config.receptive_field, x.shape[1]
        grads = np.empty_like(params) if backward else np.empty(1, net.dtype)
        pred = None if backward else np.empty(T * B, np.int64)
        y = None if y is None else np.ascontiguousarray(y, dtype=np.int64)
        with blas_threads(1):                   # the kernel's OpenMP blocks own the threads
            loss, nll = cpu_kernel("model").loss_and_grads(
                net.config, net.offset_table, params, x, gc, grads, ws, self.threads, pred, y,
                net.precision == "bf16")
        return float(loss), grads, nll, pred

    def loss_and_grads(self, net, params, x, gc, y=None):
        loss, grads, _, _ = self._step(net, params, x, gc, y, True)
        return loss, grads

    def evaluate(self, net, params, x, gc, y=None):
        loss, _, nll, pred = self._step(net, params, x, gc, y, False)
        return loss, nll, pred.reshape(nll.shape)

    def sum_squares(self, g) -> float:
        return float(self._optim.sum_squares(g))

    def adam_update(self, p, g, m, v, step, b1, b2, eps_hat, scale) -> None:
        if not p.dtype == g.dtype == m.dtype:
            return super().adam_update(p, g, m, v, step, b1, b2, eps_hat, scale)
        self._optim.adam_update(p, g, m, v, step, b1, b2, eps_hat, scale, self.threads)

    def sampler(self, net, params, **options):
        no_options(self, options)
        return CpuAdvance(net, np.ascontiguousarray(params, dtype=net.dtype), self.threads)
