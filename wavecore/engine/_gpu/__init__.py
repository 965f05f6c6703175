"""The GPU backend: CuPy with cuBLAS GEMMs and the fused kernels of ``kernels/*.cu``.

Nothing here imports CuPy at import time; ``device.get()`` does, when the GPU is asked for.
"""
from .model import GpuModel

__all__ = ["GpuModel"]
