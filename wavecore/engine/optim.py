"""Adam with bias correction and optional global-norm clipping, over one flat buffer."""
from __future__ import annotations

import numpy as np

from . import backends as _backend


class Adam:
    """Adam (Kingma & Ba 2015) on a flat parameter buffer, updated in place.

    ``m`` and ``v`` have the layout of the parameters, so the model's named
    views apply to them too, and a checkpoint stores them as two arrays.
    """

    def __init__(self, size: int, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, clip_norm: float | None = None, dtype=np.float32,
                 backend="auto", threads: int | None = None):
        """backend: a name or a backend object (a model's ``net.backend``): the moments live
        where it keeps arrays, and it runs the update (one pass on cpu and gpu)."""
        if lr <= 0 or not 0 <= beta1 < 1 or not 0 <= beta2 < 1 or eps <= 0:
            raise ValueError(f"bad Adam settings lr={lr} beta1={beta1} beta2={beta2} eps={eps}")
        if clip_norm is not None and clip_norm <= 0:
            raise ValueError(f"clip_norm must be positive or None, got {clip_norm}")
        self.lr, self.beta1, self.beta2, self.eps, self.clip_norm = lr, beta1, beta2, eps, clip_norm
        self.backend = _backend.make(backend, threads)
        self.m = self.backend.zeros(size, dtype)
        self.v = self.backend.zeros(size, dtype)
        self.step_count = 0

    def grad_norm(self, grads) -> float:
        """Global L2 norm, accumulated in float64 in a fixed order."""
        return float(np.sqrt(self.backend.sum_squares(grads)))

    def step(self, params, grads, lr: float | None = None, norm: float | None = None) -> float:
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
        self.backend.adam_update(params, grads, self.m, self.v, step, b1, b2, eps_hat, scale)
        return norm

    def reset(self) -> None:
        """Forget the moments and restart the bias correction (a new stage of a study, as the
        essay's runs did: their checkpoints kept only the weights)."""
        self.m[...] = 0
        self.v[...] = 0
        self.step_count = 0

    def state(self) -> dict:
        """The moments on the host (copied from the device on backend="gpu") and the step."""
        return {"m": self.backend.to_host(self.m), "v": self.backend.to_host(self.v),
                "step": self.step_count}

    def load_state(self, state: dict) -> None:
        if state["m"].shape != self.m.shape or state["v"].shape != self.v.shape:
            raise ValueError(f"Adam state has {state['m'].shape}, the model needs {self.m.shape}")
        self.m[...] = self.backend.to_device(state["m"], self.m.dtype)
        self.v[...] = self.backend.to_device(state["v"], self.v.dtype)
        self.step_count = int(state["step"])
