# Row-major GEMM and column sums over scipy's BLAS; shared by every kernel (inline, no .pyx).
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm


cdef inline void gemm(bint ta, bint tb, int M, int N, int K, floating alpha,
                      const floating* A, int lda, const floating* B, int ldb,
                      floating beta, floating* C, int ldc) noexcept nogil:
    """Row-major C (M x N) = alpha * op(A) (M x K) @ op(B) (K x N) + beta * C.

    lda/ldb/ldc are row strides in elements. A row-major C is a column-major C^T,
    so BLAS computes C^T = op(B)^T op(A)^T with the operands swapped.
    """
    cdef char ca = b'T' if ta else b'N'
    cdef char cb = b'T' if tb else b'N'
    if M <= 0 or N <= 0:
        return
    if floating is float:
        sgemm(&cb, &ca, &N, &M, &K, &alpha, <float*>B, &ldb, <float*>A, &lda, &beta, C, &ldc)
    else:
        dgemm(&cb, &ca, &N, &M, &K, &alpha, <double*>B, &ldb, <double*>A, &lda, &beta, C, &ldc)


cdef inline void colsum(int M, int N, const floating* A, int lda, const floating* ones,
                        floating beta, floating* out) noexcept nogil:
    """out (N,) = beta * out + sum of the M rows of A (M x N): one GEMM with a ones row,
    so the reduction order is BLAS's, fixed for a given thread count."""
    gemm(False, False, 1, N, M, <floating>1, ones, M, A, lda, beta, out, N)
