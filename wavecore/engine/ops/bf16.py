"""bf16 rounding and the bf16 matrix product: the reference of wavecore/engine/_cpu/bf16.h.

bf16 keeps float32's sign and 8-bit exponent and 7 of its 23 fraction bits (an 8-bit
significand, unit roundoff u = 2^-8). Values are rounded as the kernels round them when they
pack a GEMM's operands (VCVTNE2PS2BF16): first to float32 (the kernels' storage), then to
nearest even; float32 subnormals become signed zeros; NaN stays NaN (made quiet).

``matmul(a, b)`` is what every GEMM of the reference step calls. Inside ``rounding(True)``
(the bf16 precision of the NumPy backend) it rounds both operands to bf16 and multiplies them
in the operands' dtype, so in float64 it is the exact product of the bf16 operands: the
compiled bf16 GEMM differs from it only by its fp32 accumulation.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

_rounding: ContextVar[bool] = ContextVar("wavecore_bf16_rounding", default=False)


def bits(x) -> np.ndarray:
    """x (any shape) -> the bf16 bit patterns, uint16 of the same shape."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    r = (u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16        # to nearest even
    r = np.where((u & 0x7F800000) == 0, (u >> 16) & 0x8000, r)              # zero, subnormal
    r = np.where((u & 0x7FFFFFFF) > 0x7F800000, (u >> 16) | 0x0040, r)      # NaN, quiet
    return r.astype(np.uint16)


def from_bits(b, dtype=np.float32) -> np.ndarray:
    """bf16 bit patterns (uint16) -> their exact values in ``dtype``."""
    return (np.asarray(b, dtype=np.uint32) << 16).view(np.float32).astype(dtype, copy=False)


def round_bf16(x) -> np.ndarray:
    """x rounded to bf16, in x's float dtype (float32 or float64)."""
    x = np.asarray(x)
    return from_bits(bits(x), x.dtype if x.dtype == np.float64 else np.float32)


@contextmanager
def rounding(on: bool = True):
    """Within the block, ``matmul`` rounds its operands to bf16 (in this thread / context)."""
    token = _rounding.set(bool(on))
    try:
        yield
    finally:
        _rounding.reset(token)


def matmul(a, b):
    """a @ b; inside ``rounding(True)``, round_bf16(a) @ round_bf16(b)."""
    if _rounding.get():
        return round_bf16(a) @ round_bf16(b)
    return a @ b
