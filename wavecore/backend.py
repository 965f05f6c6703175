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

import os

import numpy as np

from . import workspace
from ._gpu import probe
from ._gpu.device import compiler
from .advance import CpuAdvance
from .compute import Backend, BackendError, blas_threads, no_options
from .kernels import cpu_kernel
from .reference import reference_loss_and_grads

BACKENDS = ("numpy", "cpu", "gpu", "auto")


def cpu_available() -> bool:
    return cpu_kernel("mu_law") is not None


def cpu_training_available() -> bool:
    """True once the compiled training kernels exist (wavecore._cpu.model)."""
    return cpu_kernel("model") is not None


def gpu_status() -> tuple[bool, str]:
    """(available, reason). Never raises; imports CuPy only when called. With the environment
    variable WAVECORE_GPU=emulate the GPU code runs on the CPU emulator (a testing aid)."""
    if os.environ.get("WAVECORE_GPU", "") == "emulate":
        if compiler() is None:
            return False, "WAVECORE_GPU=emulate needs a C++ compiler (set CXX or install g++)"
        return True, "the CPU emulator of the GPU kernels (WAVECORE_GPU=emulate; slow, for tests)"
    return cuda_status()


def cuda_status() -> tuple[bool, str]:
    """(available, reason) of CuPy and a CUDA device. Never raises."""
    try:
        import cupy                 # the gpu extra, only when the GPU is asked for
    except Exception as e:  # ImportError, or a broken CUDA install raising anything
        return False, (f"CuPy is not importable ({type(e).__name__}: {e}); pip install 'wavecore[gpu]' "
                       "(CUDA 12) or 'wavecore[gpu-cuda13]' (CUDA 13)")
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
        from ._gpu.backend import GpuBackend    # the GPU path (it subclasses Backend), when asked for
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


class NumpyBackend(Backend):
    """The reference: wavecore/ops/ and NumPy."""

    name = "numpy"

    def loss_and_grads(self, net, params, x, gc, y=None):
        return reference_loss_and_grads(net, params, x, gc, y)


class CpuBackend(Backend):
    """The Cython kernels: the whole step in one call (wavecore/_cpu/model.pyx), the sampler's
    loop in one nogil call (_cpu/sampler.pyx), Adam in one pass (_cpu/optim.pyx)."""

    name = "cpu"

    def __init__(self, threads: int | None = None):
        super().__init__(threads)
        self._workspaces: dict = {}           # step buffers by window shape (the three most recent kept)
        self._optim = cpu_kernel("optim")

    def uses_recompute(self, cfg, N, B, dtype, size) -> bool:
        """Whether a training step over (N, B) windows recomputes each layer's gate activations
        in its backward pass instead of keeping them (wavecore/workspace.py): "on", "off", or
        "auto": when keeping them would take more than a third of the memory available now."""
        if self.recompute not in ("on", "off", "auto"):
            raise ValueError(f"recompute must be 'on', 'off' or 'auto', got {self.recompute!r}")
        if self.recompute != "auto":
            return self.recompute == "on"
        return workspace.step_bytes(cfg, N, B, dtype, self.threads, size, False) > workspace.available_memory() / 3

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

    def _step(self, net, params, x, gc, y, backward):
        if params.dtype != net.dtype or not params.flags.c_contiguous or params.shape != (net.size,):
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


def gpu_report(compile: bool = True) -> dict:
    """What the GPU path finds here (for ``wavecore info`` and bench/gpu_check.py): CuPy's
    version or why it is not importable, the CUDA runtime, driver and NVRTC versions, the
    device, and whether the GPU kernels compile and load (``compile=False`` skips that); with
    WAVECORE_GPU=emulate it says so and compiles them for the CPU emulator. ``summary`` holds
    it in one line. Never raises: what fails is said in the dict (wavecore/_gpu/probe.py)."""
    try:
        return probe.report(gpu_status, compile)
    except Exception as e:
        why = " ".join(f"{type(e).__name__}: {e}".split())
        return {"available": False, "reason": f"the GPU report failed ({why})",
                "summary": f"the GPU report failed ({why})"}
