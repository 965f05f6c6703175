"""What every compute path provides: the ``Backend`` base class (arrays, the step, Adam, the
sampler's "advance"), with the NumPy reference as its default, and the thread helpers. The
paths themselves: wavecore/engine/backends.py (numpy, cpu, and which one runs),
wavecore/engine/_gpu/backend.py."""
from __future__ import annotations

import contextlib
import os

import numpy as np
from threadpoolctl import ThreadpoolController

from .. import precision as _precision
from ..advance import NumpyAdvance
from ..reference import reference_forward, reference_loss_and_grads


class BackendError(RuntimeError):
    """The requested backend cannot run here (not built, no CuPy, no device)."""


def default_threads() -> int:
    """Cores this process may use (the affinity mask where the OS exposes it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


_controller = None


@contextlib.contextmanager
def blas_threads(n: int):
    """Run the BLAS libraries with ``n`` threads inside the block (threadpoolctl)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    with _controller.limit(limits=n, user_api="blas"):
        yield


# -- the backend objects ------------------------------------------------------------------
class Backend:
    """One compute path. Arrays live in ``xp`` (numpy or cupy); a step's gradient is an array
    there, valid until the next step of the same window shape."""

    name = "?"
    xp = np
    recompute = "auto"      # "on", "off" or "auto": see CpuBackend.uses_recompute

    def __init__(self, threads: int | None = None):
        self.threads = default_threads() if threads is None else int(threads)
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<wavecore backend {self.name}, {self.threads} thread(s)>"

    # where arrays live
    def to_device(self, a, dtype=None):
        """A contiguous array of this backend (no copy when it already is one)."""
        return np.ascontiguousarray(a, dtype=dtype)

    def to_host(self, a) -> np.ndarray:
        return np.asarray(a)

    def zeros(self, n: int, dtype):
        return self.xp.zeros(n, dtype=dtype)

    # the step
    def loss_and_grads(self, net, params, x, gc, y=None):
        """x: (N, B) host classes (targets y: (T, B), or x[RF:] where None) -> (mean NLL in
        nats, grads: flat, on this backend)."""
        raise NotImplementedError

    def evaluate(self, net, params, x, gc, y=None):
        """Forward only -> (mean NLL, nll: (T, B) host, predicted class: (T, B) host)."""
        raise NotImplementedError

    # data parallelism (wavecore.engine.distributed)
    def allreduce_(self, world, buf) -> None:
        """Sum a flat buffer of this backend over the ranks, in place (one message)."""
        world.allreduce_(buf)

    # Adam
    def sum_squares(self, g) -> float:
        g = np.asarray(g).astype(np.float64, copy=False)
        return float(np.dot(g, g))

    def adam_update(self, p, g, m, v, step, b1, b2, eps_hat, scale) -> None:
        """m = b1 m + (1-b1) s g; v = b2 v + (1-b2) (s g)^2; p -= step m / (sqrt(v) + eps_hat)."""
        g = g * g.dtype.type(scale) if scale != 1.0 else g
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        p -= (step * m / (np.sqrt(v) + eps_hat)).astype(p.dtype)

    # the sampler
    def sampler(self, net, params, **options):
        """The cached sampler's per-backend part: ``start(B, gcb)`` makes the stream state,
        ``advance(state, forced=, U=, temps=, out=, logits=)`` runs k steps of it."""
        raise NotImplementedError

    # what this path supports (asked here, never by comparing names elsewhere)
    def bf16_refusal(self, dtype) -> str | None:
        """Why bf16 GEMMs cannot run on this path with ``dtype`` parameters (one line), or None
        where they can."""
        return f"precision bf16 is not built for the {self.name} backend; it runs fp32"

    def bf16_faster(self, dtype) -> bool:
        """Whether bf16 was measured faster than fp32 here (what ``auto`` picks)."""
        return False

    def resolve_precision(self, precision: str, dtype) -> str:
        """The precision a model with ``dtype`` parameters runs on this path: "fp32" or "bf16"
        for "fp32", "bf16" or "auto" (wavecore.engine.precision); raises PrecisionError where
        the one asked for cannot run."""
        _precision.check(precision)
        if precision == "auto":
            return "bf16" if self.bf16_faster(dtype) else "fp32"
        if precision == "bf16" and (why := self.bf16_refusal(dtype)):
            raise _precision.PrecisionError(why)
        return precision

    def uses_recompute(self, cfg, N, B, dtype, size) -> bool:
        """Whether a training step over (N, B) windows recomputes each layer's gate activations
        in its backward pass instead of keeping them (only the CPU path can)."""
        return False


def no_options(be, options):
    given = {k: v for k, v in options.items() if v not in (None, "auto")}
    if given:
        raise BackendError(f"{', '.join(given)}: only the gpu sampler takes this, not {be.name}")


class NumpyBackend(Backend):
    """The reference: wavecore/engine/ops/ and NumPy. It emulates bf16 in any dtype
    (wavecore.engine.ops.bf16: the reference every bf16 kernel is compared with)."""

    name = "numpy"

    def loss_and_grads(self, net, params, x, gc, y=None):
        return reference_loss_and_grads(net, params, x, gc, y)

    def evaluate(self, net, params, x, gc, y=None):
        loss, nll, logits = reference_forward(net, self.to_host(params), x, gc, y)
        return loss, nll, logits.argmax(-1)

    def sampler(self, net, params, **options):
        no_options(self, options)
        return NumpyAdvance(net, self.to_host(params))

    def bf16_refusal(self, dtype) -> str | None:
        return None
