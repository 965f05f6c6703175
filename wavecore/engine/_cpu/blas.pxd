# Row-major GEMM and column sums over scipy's BLAS, or the bf16 GEMM of bf16.h; shared by every
# kernel (inline, no .pyx).
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm


cdef extern from "bf16.h" nogil:
    int wc_sbgemm(int ta, int tb, long M, long N, long K, const float* A, long lda,
                  const float* B, long ldb, int beta, float* C, long ldc, int keep_b)


cdef inline int weight(bint lp) noexcept nogil:
    """gemm's mode for a product whose B is a weight of the step: in bf16, packed once per
    thread per step (not once per call) and kept."""
    return 2 if lp else 0


cdef inline void gemm(int lp, bint ta, bint tb, int M, int N, int K, floating alpha,
                      const floating* A, int lda, const floating* B, int ldb,
                      floating beta, floating* C, int ldc) noexcept nogil:
    """Row-major C (M x N) = alpha * op(A) (M x K) @ op(B) (K x N) + beta * C.

    lda/ldb/ldc are row strides in elements. A row-major C is a column-major C^T,
    so BLAS computes C^T = op(B)^T op(A)^T with the operands swapped.
    lp (float only, alpha 1, beta 0 or 1): 1 = the operands rounded to bf16, fp32 accumulation
    (wc_sbgemm; the caller has checked that the processor has it); 2 = the same, B a weight
    (``weight(lp)``). Should the bf16 GEMM find no memory for its packing, BLAS's fp32 runs.
    """
    cdef char ca = b'T' if ta else b'N'
    cdef char cb = b'T' if tb else b'N'
    if M <= 0 or N <= 0:
        return
    if floating is float:
        if lp and wc_sbgemm(ta, tb, M, N, K, A, lda, B, ldb, beta != 0, C, ldc, lp == 2) == 0:
            return
        sgemm(&cb, &ca, &N, &M, &K, &alpha, <float*>B, &ldb, <float*>A, &lda, &beta, C, &ldc)
    else:
        dgemm(&cb, &ca, &N, &M, &K, &alpha, <double*>B, &ldb, <double*>A, &lda, &beta, C, &ldc)


cdef inline void colsum(int M, int N, const floating* A, int lda, const floating* ones,
                        floating beta, floating* out) noexcept nogil:
    """out (N,) = beta * out + sum of the M rows of A (M x N): one GEMM with a ones row,
    so the reduction order is BLAS's, fixed for a given thread count."""
    gemm(False, False, False, 1, N, M, <floating>1, ones, M, A, lda, beta, out, N)
