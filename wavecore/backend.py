"""Which compute path runs: the NumPy reference, the Cython CPU kernels or the GPU.

CuPy is imported lazily, only when the GPU is asked for, so ``import wavecore``
never needs CUDA.
"""
from __future__ import annotations

import contextlib
import importlib
import os

# Idle OpenMP threads that spin steal the cores that BLAS and NumPy work between kernel calls
# needs (when BLAS threads and OpenMP took turns on 2 cores, a reference-config step took
# 1.54 s spinning and 0.80 s passive). The training step now keeps BLAS single-threaded inside
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
    """Turn a requested backend into the one that will run, or raise BackendError."""
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


def cpu_training_available() -> bool:
    """True once the compiled training kernels exist (wavecore._cpu.model)."""
    return cpu_kernel("model") is not None


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
