"""Which compute path runs, decided here and nowhere else: the NumPy reference ("numpy"), the
Cython CPU kernels ("cpu") or the GPU ("gpu": CuPy on CUDA, or the CPU emulator of its kernels).

``make(name, threads)`` returns one backend object. It owns everything that differs between
the paths: the training step and forward-only evaluation (with their workspaces), the Adam
update over the flat buffer, the sampler's "advance k steps", and where arrays live and how
they move (``to_device`` / ``to_host``). ``WaveNet``, ``Adam``, ``Trainer`` and
``CachedSampler`` each hold one and delegate to it.

CuPy is imported lazily, only when the GPU is asked for, so ``import wavecore`` never needs CUDA.
"""
from __future__ import annotations

import contextlib
import importlib
import os

import numpy as np

# Idle OpenMP threads that spin steal the cores that BLAS and NumPy work between kernel calls
# needs (when BLAS threads and OpenMP took turns on 2 cores, a reference-config step took
# 1.54 s spinning and 0.80 s passive). The training step keeps BLAS single-threaded inside
# its OpenMP blocks, where the two policies measure within 3 %; passive stays the default so
# that nothing spins while Python evaluates, renders or writes. A value the user set wins;
# it must be set before the first kernel loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BACKENDS = ("numpy", "cpu", "gpu", "auto")
_kernels: dict = {}


class BackendError(RuntimeError):
    """The requested backend cannot run here (not built, no CuPy, no device)."""


def cpu_kernel(stem: str):
    """The compiled module ``wavecore._cpu.<stem>``, or None when it is not built."""
    if stem not in _kernels:
        try:
            _kernels[stem] = importlib.import_module(f"wavecore._cpu.{stem}")
        except ImportError:
            _kernels[stem] = None
    return _kernels[stem]


def cpu_available() -> bool:
    return cpu_kernel("mu_law") is not None


def cpu_training_available() -> bool:
    """True once the compiled training kernels exist (wavecore._cpu.model)."""
    return cpu_kernel("model") is not None


def gpu_status() -> tuple[bool, str]:
    """(available, reason). Never raises; imports CuPy only when called. With the environment
    variable WAVECORE_GPU=emulate the GPU code runs on the CPU emulator (a testing aid)."""
    if os.environ.get("WAVECORE_GPU", "") == "emulate":
        from ._gpu.device import compiler
        if compiler() is None:
            return False, "WAVECORE_GPU=emulate needs a C++ compiler (set CXX or install g++)"
        return True, "the CPU emulator of the GPU kernels (WAVECORE_GPU=emulate; slow, for tests)"
    return cuda_status()


def cuda_status() -> tuple[bool, str]:
    """(available, reason) of CuPy and a CUDA device. Never raises."""
    try:
        import cupy
    except Exception as e:  # ImportError, or a broken CUDA install raising anything
        return False, f"CuPy is not importable ({type(e).__name__}: {e}); pip install 'wavecore[gpu]'"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        return False, f"CuPy found no usable CUDA driver or device ({e})"
    if n < 1:
        return False, "CuPy is installed but there is no CUDA device"
    try:
        name = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"].decode()
    except Exception as e:
        return False, f"CuPy cannot query the CUDA device ({e})"
    return True, f"{n} CUDA device(s); using {name}"


def resolve(backend: str = "auto") -> str:
    """Turn a requested backend name into the one that will run, or raise BackendError."""
    if isinstance(backend, Backend):
        return backend.name
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "cpu" if cpu_training_available() else "numpy"
    if backend == "cpu" and not cpu_training_available():
        raise BackendError("the Cython CPU training kernels are not built in this install; "
                           "reinstall with `pip install .` (needs a C compiler) or use backend='numpy'")
    if backend == "gpu":
        ok, why = gpu_status()
        if not ok:
            raise BackendError(f"backend='gpu' is unavailable: {why}")
    return backend


def make(backend="auto", threads: int | None = None) -> "Backend":
    """The backend object of a name ("auto" picks cpu where built, else numpy); a Backend
    given is returned as it is."""
    if isinstance(backend, Backend):
        return backend
    name = resolve(backend)
    if name == "gpu":
        from ._gpu.backend import GpuBackend
        return GpuBackend(threads)
    return (CpuBackend if name == "cpu" else NumpyBackend)(threads)


def for_sampler(net, backend="auto", threads: int | None = None) -> "Backend":
    """Where a cached sampler runs: "auto" is the model's GPU when the model runs there, else
    the compiled CPU loop where built, else NumPy; a backend object is used as it is."""
    if isinstance(backend, Backend):
        return backend
    if backend == "auto":
        if net.backend.name == "gpu":
            return net.backend
        backend = "cpu" if cpu_kernel("sampler") is not None else "numpy"
    if backend == "cpu" and cpu_kernel("sampler") is None:
        raise BackendError("the compiled sampler is not built in this install")
    if backend not in BACKENDS:
        raise BackendError(f"CachedSampler backend must be auto, cpu, gpu or numpy, got {backend!r}")
    if backend == net.backend.name and threads is None:
        return net.backend
    return make(backend, threads)


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
        from threadpoolctl import ThreadpoolController
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
    def loss_and_grads(self, net, params, x, gc):
        """x: (N, B) host classes -> (mean NLL in nats, grads: flat, on this backend)."""
        raise NotImplementedError

    def evaluate(self, net, params, x, gc):
        """Forward only -> (mean NLL, nll: (T, B) host, predicted class: (T, B) host)."""
        from .model import reference_forward
        loss, nll, logits = reference_forward(net, self.to_host(params), x, gc)
        return loss, nll, logits.argmax(-1)

    # data parallelism (wavecore.distributed)
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
        from .sampler import NumpyAdvance
        _no_options(self, options)
        return NumpyAdvance(net, self.to_host(params))


def _no_options(be, options):
    given = {k: v for k, v in options.items() if v not in (None, "auto")}
    if given:
        raise BackendError(f"{', '.join(given)}: only the gpu sampler takes this, not {be.name}")


class NumpyBackend(Backend):
    """The reference: wavecore/ops/ and NumPy."""

    name = "numpy"

    def loss_and_grads(self, net, params, x, gc):
        from .model import reference_loss_and_grads
        return reference_loss_and_grads(net, params, x, gc)


class CpuBackend(Backend):
    """The Cython kernels: the whole step in one call (wavecore/_cpu/model.pyx), the sampler's
    loop in one nogil call (_cpu/sampler.pyx), Adam in one pass (_cpu/optim.pyx)."""

    name = "cpu"

    def __init__(self, threads: int | None = None):
        super().__init__(threads)
        self._workspaces: dict = {}           # step buffers by window shape (at most 2 kept)
        self._optim = cpu_kernel("optim")

    def uses_recompute(self, cfg, N, B, dtype, size) -> bool:
        """Whether a training step over (N, B) windows recomputes each layer's gate activations
        in its backward pass instead of keeping them (wavecore/workspace.py): "on", "off", or
        "auto": when keeping them would take more than a third of the memory available now."""
        if self.recompute not in ("on", "off", "auto"):
            raise ValueError(f"recompute must be 'on', 'off' or 'auto', got {self.recompute!r}")
        if self.recompute != "auto":
            return self.recompute == "on"
        from .workspace import available_memory, step_bytes
        return step_bytes(cfg, N, B, dtype, self.threads, size, False) > available_memory() / 3

    def _workspace(self, net, N, B, backward):
        kernel = cpu_kernel("model")
        size = net.size if backward else 1
        key = (net.config, N, B, net.dtype, backward)
        ws = self._workspaces.pop(key, None)
        if ws is None or backward and self.recompute != "auto" and ws.recompute != (self.recompute == "on"):
            ws = None                                    # free it before the next one is made
            recompute = backward and self.uses_recompute(net.config, N, B, net.dtype, size)
            ws = kernel.Workspace(net.config, N, B, net.dtype, self.threads, size, recompute)
        self._workspaces[key] = ws                       # most recent last; keep three shapes
        while len(self._workspaces) > 3:
            self._workspaces.pop(next(iter(self._workspaces)))
        return ws

    def _step(self, net, params, x, gc, backward):
        if params.dtype != net.dtype or not params.flags.c_contiguous or params.shape != (net.size,):
            raise ValueError(f"params must be a contiguous {net.dtype} buffer of shape "
                             f"({net.size},), got {params.dtype} {params.shape}")
        ws = self._workspace(net, x.shape[0], x.shape[1], backward)
        x = np.ascontiguousarray(x, dtype=np.int64)
        T, B = x.shape[0] - net.config.receptive_field, x.shape[1]
        grads = np.empty_like(params) if backward else np.empty(1, net.dtype)
        pred = None if backward else np.empty(T * B, np.int64)
        with blas_threads(1):                   # the kernel's OpenMP blocks own the threads
            loss, nll = cpu_kernel("model").loss_and_grads(
                net.config, net.offset_table, params, x, gc, grads, ws, self.threads, pred)
        return float(loss), grads, nll, pred

    def loss_and_grads(self, net, params, x, gc):
        loss, grads, _, _ = self._step(net, params, x, gc, True)
        return loss, grads

    def evaluate(self, net, params, x, gc):
        loss, _, nll, pred = self._step(net, params, x, gc, False)
        return loss, nll, pred.reshape(nll.shape)

    def sum_squares(self, g) -> float:
        return float(self._optim.sum_squares(g))

    def adam_update(self, p, g, m, v, step, b1, b2, eps_hat, scale) -> None:
        if not p.dtype == g.dtype == m.dtype:
            return super().adam_update(p, g, m, v, step, b1, b2, eps_hat, scale)
        self._optim.adam_update(p, g, m, v, step, b1, b2, eps_hat, scale, self.threads)

    def sampler(self, net, params, **options):
        from .sampler import CpuAdvance
        _no_options(self, options)
        return CpuAdvance(net, np.ascontiguousarray(params, dtype=net.dtype), self.threads)
