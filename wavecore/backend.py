"""Which compute path runs: the NumPy reference, the Cython CPU kernels or the GPU.

CuPy is imported lazily, only when the GPU is asked for, so ``import wavecore``
never needs CUDA.
"""
from __future__ import annotations

import importlib

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
    """(available, reason). Never raises; imports CuPy only when called."""
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
    return True, f"{n} CUDA device(s)"


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
        raise BackendError("backend='gpu': the CuPy training kernels are not part of this version yet")
    return backend


def cpu_training_available() -> bool:
    """True once the compiled training kernels exist (wavecore._cpu.model)."""
    return cpu_kernel("model") is not None
