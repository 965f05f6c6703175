"""cuBLAS GEMMs called directly (ctypes), on a handle and workspace of wavecore's own.

Why not CuPy's wrappers (``cupy_backends.cuda.libs.cublas``): each of them first binds CuPy's
shared handle to the current stream, and that binding refuses to run while the stream is being
captured into a CUDA graph (NotImplementedError, cupy/cupy#6290) — which would keep the whole
training step out of graphs. cuBLAS itself supports stream capture; in host pointer mode alpha
and beta are captured by value. A handle of our own also keeps CuPy's pointer-mode, math-mode
and stream settings and ours apart, and a workspace set once means nothing is allocated while
a stream captures.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import re

import numpy as np

OP_N, OP_T = 0, 1
POINTER_MODE_HOST = 0
DEFAULT_MATH, TF32_TENSOR_OP_MATH = 0, 3
WORKSPACE_BYTES = 32 << 20
_NAMES = ("libcublas.so.13", "libcublas.so.12", "libcublas.so.11",
          "cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll")

_vp, _int = ctypes.c_void_p, ctypes.c_int
_GEMM = [_vp, _int, _int, _int, _int, _int, _vp, _vp, _int, _vp, _int, _vp, _vp, _int]
_SIGNATURES = {                     # name: argument types (cublas_api.h); all return cublasStatus_t
    "cublasCreate_v2": [ctypes.POINTER(_vp)],
    "cublasSetStream_v2": [_vp, _vp],
    "cublasSetPointerMode_v2": [_vp, _int],
    "cublasSetWorkspace_v2": [_vp, _vp, ctypes.c_size_t],
    "cublasSetMathMode": [_vp, _int],
    "cublasSgemm_v2": _GEMM,        # handle, transa, transb, m, n, k, *alpha, A, lda, B, ldb,
    "cublasDgemm_v2": _GEMM,        # *beta, C, ldc
}


def _loaded() -> list[str]:
    """Paths of libcublas already mapped into this process (Linux)."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return []
    return sorted(set(re.findall(r"(/\S*/libcublas\.so[.\d]*)$", maps, re.M)))


def find() -> str | None:
    """The libcublas to use: the one CuPy's cuBLAS module loads, else the one cuda-pathfinder
    finds (as CuPy 14 finds CUDA libraries), else one the system's loader knows; None if none."""
    try:
        import cupy_backends.cuda.libs.cublas  # noqa: F401  (loads CuPy's libcublas)
    except Exception:
        pass
    got = _loaded()
    if got:
        return got[0]
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib  # CUDA 13's CuPy finds its libraries so
        return load_nvidia_dynamic_lib("cublas").abs_path
    except Exception:
        pass
    for name in (ctypes.util.find_library("cublas"),) + _NAMES:
        if name:
            try:
                ctypes.CDLL(name)
                return name
            except OSError:
                continue
    return None


def bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Give the library's functions their C signatures (ctypes would otherwise pass Python ints
    as C int and truncate pointers); raises AttributeError naming a missing function."""
    for name, args in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, ctypes.c_int
    if hasattr(lib, "cublasGetStatusString"):
        lib.cublasGetStatusString.argtypes = [_int]
        lib.cublasGetStatusString.restype = ctypes.c_char_p
    return lib


class Cublas:
    """One cuBLAS handle in host pointer mode with a fixed workspace; ``gemm`` takes
    column-major operands as cuBLAS does (``CudaDevice.gemm`` maps row-major views onto it)."""

    def __init__(self, lib: ctypes.CDLL, workspace_ptr: int, workspace_bytes: int, owner=None):
        """owner: the workspace's array, kept alive as long as the handle."""
        self.lib, self.owner = bind(lib), owner
        self.handle = _vp()
        self._check(lib.cublasCreate_v2(ctypes.byref(self.handle)), "cublasCreate")
        self._check(lib.cublasSetPointerMode_v2(self.handle, POINTER_MODE_HOST),
                    "cublasSetPointerMode")
        self.workspace = (workspace_ptr, workspace_bytes)
        self.stream = None

    @classmethod
    def load(cls, xp) -> Cublas:
        """On the current device, with a workspace allocated by xp (CuPy)."""
        path = find()
        if path is None:
            raise OSError("cuBLAS (libcublas) was not found: install the CUDA toolkit's cuBLAS or "
                          "the nvidia-cublas wheel that matches your CuPy")
        ws = xp.empty(WORKSPACE_BYTES, np.uint8)
        return cls(ctypes.CDLL(path), ws.data.ptr, ws.nbytes, owner=ws)

    def _check(self, status: int, what: str) -> None:
        if status:
            text = ""
            if hasattr(self.lib, "cublasGetStatusString"):
                text = ": " + (self.lib.cublasGetStatusString(status) or b"").decode()
            raise RuntimeError(f"{what} failed with cuBLAS status {status}{text}")

    def set_stream(self, stream_ptr: int) -> None:
        """Issue later GEMMs on this stream (setting a stream resets cuBLAS's workspace, so ours
        is set again)."""
        if stream_ptr == self.stream:
            return
        self._check(self.lib.cublasSetStream_v2(self.handle, stream_ptr), "cublasSetStream")
        self._check(self.lib.cublasSetWorkspace_v2(self.handle, self.workspace[0],
                                                   self.workspace[1]),
                    "cublasSetWorkspace")
        self.stream = stream_ptr

    def set_tf32(self, on: bool) -> None:
        """float32 GEMMs on TF32 tensor cores (10-bit mantissa products; PyTorch's cuDNN
        convolutions use them by default) or in strict float32 (the default here)."""
        self._check(self.lib.cublasSetMathMode(self.handle,
                                               TF32_TENSOR_OP_MATH if on else DEFAULT_MATH),
                    "cublasSetMathMode")

    def gemm(self, dtype, ta: bool, tb: bool, m: int, n: int, k: int, alpha: float,
             A: int, lda: int, B: int, ldb: int, beta: float, C: int, ldc: int) -> None:
        """C = alpha op(A) op(B) + beta C, column-major, pointers as ints."""
        if np.dtype(dtype) == np.float64:
            fn, scalar = self.lib.cublasDgemm_v2, ctypes.c_double
        else:
            fn, scalar = self.lib.cublasSgemm_v2, ctypes.c_float
        al, be = scalar(alpha), scalar(beta)
        self._check(fn(self.handle, OP_T if ta else OP_N, OP_T if tb else OP_N, m, n, k,
                       ctypes.byref(al), A, lda, B, ldb, ctypes.byref(be), C, ldc), "cublas gemm")
