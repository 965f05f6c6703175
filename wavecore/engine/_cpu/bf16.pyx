# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Python entry points to the bf16 kernels (bf16.h): what the processor offers, the packing's
rounding and the bf16 GEMM, for wavecore.engine.precision, the tests and bench/."""
import numpy as np
from libc.stdint cimport uint16_t


cdef extern from "bf16.h" nogil:
    int WC_BF16_AVX512, WC_BF16_AMX, WC_CPU_AMD, WC_CPU_INTEL
    int wc_bf16_features()
    int wc_sbgemm(int ta, int tb, long M, long N, long K, const float* A, long lda,
                  const float* B, long ldb, int beta, float* C, long ldc, int keep_b)
    void wc_round_bf16(const float* x, long n, uint16_t* out)


def features():
    """{'avx512_bf16', 'amx_bf16', 'vendor'}: what this processor and OS offer to this build."""
    cdef int f = wc_bf16_features()
    vendor = "AMD" if f & WC_CPU_AMD else "Intel" if f & WC_CPU_INTEL else "other"
    return {"avx512_bf16": bool(f & WC_BF16_AVX512), "amx_bf16": bool(f & WC_BF16_AMX),
            "vendor": vendor}


def _need():
    if not wc_bf16_features() & WC_BF16_AVX512:
        raise RuntimeError("this processor has no AVX512-BF16 instructions")


def round_bits(const float[::1] x):
    """x (n,) float32 -> (n,) uint16: the bf16 bit patterns the kernels pack."""
    _need()
    out = np.empty(x.shape[0], np.uint16)
    cdef uint16_t[::1] o = out
    if x.shape[0]:
        with nogil:
            wc_round_bf16(&x[0], x.shape[0], &o[0])
    return out


def gemm(a, b, c=None, bint ta=False, bint tb=False):
    """op(a) @ op(b) (+ c, overwritten in place when given) in bf16 with fp32 accumulation;
    ta / tb: the array passed is the transpose of the operand. float32, C-contiguous."""
    _need()
    cdef const float[:, ::1] A = a
    cdef const float[:, ::1] B = b
    cdef long M = A.shape[1] if ta else A.shape[0], K = A.shape[0] if ta else A.shape[1]
    cdef long N = B.shape[0] if tb else B.shape[1], Kb = B.shape[1] if tb else B.shape[0]
    cdef int beta = c is not None
    if K != Kb:
        raise ValueError(f"inner dimensions differ: {K} and {Kb}")
    if c is None:
        c = np.empty((M, N), np.float32)
    cdef float[:, ::1] C = c
    if C.shape[0] != M or C.shape[1] != N:
        raise ValueError(f"c must have shape ({M}, {N}), got ({C.shape[0]}, {C.shape[1]})")
    cdef int rc = 0
    if M and N:
        with nogil:
            rc = wc_sbgemm(ta, tb, M, N, K, &A[0, 0] if A.shape[0] * A.shape[1] else NULL,
                           A.shape[1], &B[0, 0] if B.shape[0] * B.shape[1] else NULL, B.shape[1],
                           beta, &C[0, 0], N, 0)
    if rc:
        raise MemoryError("bf16 GEMM: no memory for the packing buffers")
    return c
