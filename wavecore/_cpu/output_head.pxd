# Output head (reference: wavecore/ops/output_head.py).
from cython cimport floating
from cython.parallel cimport prange
from wavecore._cpu.blas cimport gemm, colsum


cdef inline void relu_inplace(floating* a, Py_ssize_t n, int threads) noexcept nogil:
    cdef Py_ssize_t i
    for i in prange(n, num_threads=threads, schedule="static"):
        a[i] = a[i] if a[i] > 0 else 0      # branch-free: vectorises


cdef inline void bias_rows(floating* a, const floating* b, Py_ssize_t n, int C,
                           int threads) noexcept nogil:
    cdef Py_ssize_t i, j
    for i in prange(n, num_threads=threads, schedule="static"):
        for j in range(C):
            a[i * C + j] = b[j]


cdef inline void output_head_forward(floating* y, Py_ssize_t n, int S, int A,
                                     const floating* W1, const floating* b1, const floating* W2,
                                     const floating* b2, floating* o, floating* logits,
                                     int threads) noexcept nogil:
    """y: (n, S) skip sum, made relu(y) in place; o: (n, S) = relu(y @ W1 + b1);
    logits: (n, A) = o @ W2 + b2."""
    relu_inplace(y, n * S, threads)
    bias_rows(o, b1, n, S, threads)
    gemm(False, False, <int>n, S, S, <floating>1, y, S, W1, S, <floating>1, o, S)
    relu_inplace(o, n * S, threads)
    bias_rows(logits, b2, n, A, threads)
    gemm(False, False, <int>n, A, S, <floating>1, o, S, W2, A, <floating>1, logits, A)


cdef inline void mask_inplace(floating* a, const floating* ref, Py_ssize_t n,
                              int threads) noexcept nogil:
    """a = a where ref > 0 else 0 (the relu derivative)."""
    cdef Py_ssize_t i
    for i in prange(n, num_threads=threads, schedule="static"):
        a[i] = a[i] if ref[i] > 0 else 0


cdef inline void output_head_backward(const floating* dlogits, const floating* y,
                                      const floating* o, Py_ssize_t n, int S, int A,
                                      const floating* W1, const floating* W2, floating* dW1,
                                      floating* db1, floating* dW2, floating* db2, floating* da,
                                      floating* dy, const floating* ones,
                                      int threads) noexcept nogil:
    """dlogits: (n, A) -> dW1, db1, dW2, db2; da: (n, S) scratch; dy: (n, S) = d(skip sum)."""
    gemm(True, False, S, A, <int>n, <floating>1, o, S, dlogits, A, <floating>0, dW2, A)
    colsum(<int>n, A, dlogits, A, ones, <floating>0, db2)
    gemm(False, True, <int>n, S, A, <floating>1, dlogits, A, W2, A, <floating>0, da, S)
    mask_inplace(da, o, n * S, threads)
    gemm(True, False, S, S, <int>n, <floating>1, y, S, da, S, <floating>0, dW1, S)
    colsum(<int>n, S, da, S, ones, <floating>0, db1)
    gemm(False, True, <int>n, S, S, <floating>1, da, S, W1, S, <floating>0, dy, S)
    mask_inplace(dy, y, n * S, threads)
