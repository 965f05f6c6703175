# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled μ-law codec; NumPy reference in wavecore/engine/ops/mu_law.py (same arithmetic, float64)."""
import numpy as np
from cython.parallel import prange
from libc.math cimport log1p, expm1, fabs, floor

ctypedef fused floating:
    float
    double


def mu_law_encode(const floating[::1] x, int classes=256, double mu=255.0):
    """[-1, 1] audio (float32 or float64) -> int64 classes; values outside are clipped."""
    cdef Py_ssize_t n = x.shape[0], i
    out = np.empty(n, dtype=np.int64)
    cdef long long[::1] o = out
    cdef double scale = 0.5 * (classes - 1), inv = 1.0 / log1p(mu), v, y
    for i in prange(n, nogil=True, schedule="static"):
        v = x[i]
        if v > 1.0:
            v = 1.0
        elif v < -1.0:
            v = -1.0
        y = log1p(mu * fabs(v)) * inv
        if v < 0:
            y = -y
        o[i] = <long long>floor((y + 1.0) * scale + 0.5)
    return out


def mu_law_decode(const long long[::1] c, int classes=256, double mu=255.0):
    """int64 classes -> float32 audio in [-1, 1]."""
    cdef Py_ssize_t n = c.shape[0], i
    out = np.empty(n, dtype=np.float32)
    cdef float[::1] o = out
    cdef double lg = log1p(mu), step = 2.0 / (classes - 1), y, v
    for i in prange(n, nogil=True, schedule="static"):
        y = c[i] * step - 1.0
        v = expm1(fabs(y) * lg) / mu
        o[i] = <float>(-v if y < 0 else v)
    return out
