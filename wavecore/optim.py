"""Adam with bias correction and optional global-norm clipping, over one flat buffer."""
from __future__ import annotations

import numpy as np

from . import backend as _backend


class Adam:
    """Adam (Kingma & Ba 2015) on a flat parameter buffer, updated in place.

    ``m`` and ``v`` have the layout of the parameters, so the model's named
    views apply to them too, and a checkpoint stores them as two arrays.
    """

    def __init__(self, size: int, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, clip_norm: float | None = None, dtype=np.float32,
                 backend: str = "auto", threads: int | None = None):
        if lr <= 0 or not 0 <= beta1 < 1 or not 0 <= beta2 < 1 or eps <= 0:
            raise ValueError(f"bad Adam settings lr={lr} beta1={beta1} beta2={beta2} eps={eps}")
        if clip_norm is not None and clip_norm <= 0:
            raise ValueError(f"clip_norm must be positive or None, got {clip_norm}")
        self.lr, self.beta1, self.beta2, self.eps, self.clip_norm = lr, beta1, beta2, eps, clip_norm
        # backend="gpu": the moments live on the device and one kernel (_gpu/kernels/optim.cu)
        # updates parameters that live there too
        self._dev = None
        if backend == "gpu":
            from ._gpu import device
            self._dev = device.get()
        xp = np if self._dev is None else self._dev.xp
        self.m = xp.zeros(size, dtype=dtype)
        self.v = xp.zeros(size, dtype=dtype)
        self.step_count = 0
        # the compiled update (wavecore/_cpu/optim.pyx) is one pass; NumPy's is six
        self._kernel = _backend.cpu_kernel("optim") if backend in ("auto", "cpu") else None
        self.threads = _backend.default_threads() if threads is None else int(threads)

    def grad_norm(self, grads: np.ndarray) -> float:
        """Global L2 norm, accumulated in float64 in a fixed order."""
        if self._dev is not None:
            from ._gpu import ops
            return float(np.sqrt(ops.sum_squares(self._dev, grads)))
        if self._kernel is not None:
            return float(np.sqrt(self._kernel.sum_squares(grads)))
        g = grads.astype(np.float64, copy=False)
        return float(np.sqrt(np.dot(g, g)))

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float | None = None,
             norm: float | None = None) -> float:
        """One update of ``params`` in place; returns the gradient norm before clipping.

        The caller checks that loss and norm are finite first (the trainer's NaN guard) and
        may pass the norm it computed for that.
        """
        lr = self.lr if lr is None else lr
        norm = self.grad_norm(grads) if norm is None else norm
        scale = 1.0
        if self.clip_norm is not None and norm > self.clip_norm:
            scale = self.clip_norm / (norm + 1e-12)
        self.step_count += 1
        b1, b2, t = self.beta1, self.beta2, self.step_count
        step = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)     # bias correction folded into the step
        eps_hat = self.eps * np.sqrt(1 - b2 ** t)
        if self._dev is not None:
            from ._gpu import ops
            ops.adam_update(self._dev, params, grads, self.m, self.v, step, b1, b2, eps_hat, scale)
            return norm
        if self._kernel is not None and params.dtype == grads.dtype == self.m.dtype:
            self._kernel.adam_update(params, grads, self.m, self.v, step, b1, b2, eps_hat, scale,
                                     self.threads)
            return norm
        g = grads * grads.dtype.type(scale) if scale != 1.0 else grads
        self.m *= b1
        self.m += (1 - b1) * g
        self.v *= b2
        self.v += (1 - b2) * (g * g)
        params -= (step * self.m / (np.sqrt(self.v) + eps_hat)).astype(params.dtype)
        return norm

    def state(self) -> dict:
        """The moments on the host (copied from the device on backend="gpu") and the step."""
        host = (lambda a: a) if self._dev is None else self._dev.to_host
        return {"m": host(self.m), "v": host(self.v), "step": self.step_count}

    def load_state(self, state: dict) -> None:
        if state["m"].shape != self.m.shape or state["v"].shape != self.v.shape:
            raise ValueError(f"Adam state has {state['m'].shape}, the model needs {self.m.shape}")
        xp = np if self._dev is None else self._dev.xp
        self.m[...] = xp.asarray(state["m"])
        self.v[...] = xp.asarray(state["v"])
        self.step_count = int(state["step"])
