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

from .._gpu import probe
from .._gpu.device import compiler
from ..kernels import cpu_kernel
from .base import Backend, BackendError, NumpyBackend, blas_threads, default_threads
from .cpu import CpuBackend

__all__ = ["BACKENDS", "Backend", "BackendError", "CpuBackend", "NumpyBackend", "blas_threads",
           "cpu_available", "cpu_training_available", "default_threads", "for_sampler",
           "gpu_report", "gpu_status", "make", "resolve"]

BACKENDS = ("numpy", "cpu", "gpu", "auto")


def cpu_available() -> bool:
    return cpu_kernel("mu_law") is not None


def cpu_training_available() -> bool:
    """True once the compiled training kernels exist (wavecore.engine._cpu.model)."""
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
        import cupy  # the gpu extra, only when the GPU is asked for
    except Exception as e:  # ImportError, or a broken CUDA install raising anything
        return False, (f"CuPy is not importable ({type(e).__name__}: {e}); pip install "
                       "'wavecore[gpu]' (CUDA 12) or 'wavecore[gpu-cuda13]' (CUDA 13)")
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
                           "reinstall with `pip install .` (needs a C compiler) or use "
                           "backend='numpy'")
    if backend == "gpu":
        ok, why = gpu_status()
        if not ok:
            raise BackendError(f"backend='gpu' is unavailable: {why}")
    return backend


def make(backend="auto", threads: int | None = None) -> Backend:
    """The backend object of a name ("auto" picks cpu where built, else numpy); a Backend
    given is returned as it is."""
    if isinstance(backend, Backend):
        return backend
    name = resolve(backend)
    if name == "gpu":
        from .gpu import GpuBackend  # the GPU path (it subclasses Backend), when asked for
        return GpuBackend(threads)
    return (CpuBackend if name == "cpu" else NumpyBackend)(threads)


def for_sampler(net, backend="auto", threads: int | None = None) -> Backend:
    """Where a cached sampler runs: "auto" is the model's GPU when the model runs there, else
    the compiled CPU loop where built, else NumPy; a backend object is used as it is (net may be
    None: no model's path to share)."""
    if isinstance(backend, Backend):
        return backend
    if backend == "auto":
        if net is not None and net.backend.name == "gpu":
            return net.backend
        backend = "cpu" if cpu_kernel("sampler") is not None else "numpy"
    if backend == "cpu" and cpu_kernel("sampler") is None:
        raise BackendError("the compiled sampler is not built in this install")
    if backend not in BACKENDS:
        raise BackendError("CachedSampler backend must be auto, cpu, gpu or numpy, "
                           f"got {backend!r}")
    if net is not None and backend == net.backend.name and threads is None:
        return net.backend
    return make(backend, threads)


def gpu_report(compile: bool = True) -> dict:
    """What the GPU path finds here (for ``wavecore info`` and bench/gpu_check.py): CuPy's
    version or why it is not importable, the CUDA runtime, driver and NVRTC versions, the
    device, and whether the GPU kernels compile and load (``compile=False`` skips that); with
    WAVECORE_GPU=emulate it says so and compiles them for the CPU emulator. ``summary`` holds
    it in one line. Never raises: what fails is said in the dict (wavecore/engine/_gpu/probe.py)."""
    try:
        return probe.report(gpu_status, compile)
    except Exception as e:
        why = " ".join(f"{type(e).__name__}: {e}".split())
        return {"available": False, "reason": f"the GPU report failed ({why})",
                "summary": f"the GPU report failed ({why})"}
