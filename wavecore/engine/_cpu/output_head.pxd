# Output head (reference: wavecore/engine/ops/output_head.py). Serial over a block of rows.
from cython cimport floating
from wavecore.engine._cpu.blas cimport gemm, colsum, weight


cdef inline void output_head_forward(bint lp, floating* y, Py_ssize_t m, int S, int A,
                                     const floating* W1, const floating* b1, const floating* W2,
                                     const floating* b2, floating* o,
                                     floating* logits) noexcept nogil:
    """y: (m, S) skip sum, made relu(y) in place; o: (m, S) = relu(y @ W1 + b1);
    logits: (m, A) = o @ W2 + b2."""
    cdef Py_ssize_t i, j
    for i in range(m * S):
        y[i] = y[i] if y[i] > 0 else 0
    for i in range(m):
        for j in range(S):
            o[i * S + j] = b1[j]
        for j in range(A):
            logits[i * A + j] = b2[j]
    gemm(weight(lp), False, False, <int>m, S, S, <floating>1, y, S, W1, S, <floating>1, o, S)
    for i in range(m * S):
        o[i] = o[i] if o[i] > 0 else 0
    gemm(weight(lp), False, False, <int>m, A, S, <floating>1, o, S, W2, A, <floating>1, logits, A)


cdef inline void output_head_backward(bint lp, const floating* dlogits, const floating* y,
                                      const floating* o, Py_ssize_t m, int S, int A,
                                      const floating* W1, const floating* W2, floating* dW1,
                                      floating* db1, floating* dW2, floating* db2, floating* da,
                                      floating* dy, const floating* ones) noexcept nogil:
    """dlogits: (m, A) -> dW1, db1, dW2, db2 accumulated (+=); da: (m, S) scratch;
    dy: (m, S) = d(skip sum), overwritten."""
    cdef Py_ssize_t i
    gemm(lp, True, False, S, A, <int>m, <floating>1, o, S, dlogits, A, <floating>1, dW2, A)
    colsum(<int>m, A, dlogits, A, ones, <floating>1, db2)
    gemm(weight(lp), False, True, <int>m, S, A, <floating>1, dlogits, A, W2, A, <floating>0, da, S)
    for i in range(m * S):
        da[i] = da[i] if o[i] > 0 else 0
    gemm(lp, True, False, S, S, <int>m, <floating>1, y, S, da, S, <floating>1, dW1, S)
    colsum(<int>m, S, da, S, ones, <floating>1, db1)
    gemm(weight(lp), False, True, <int>m, S, S, <floating>1, da, S, W1, S, <floating>0, dy, S)
    for i in range(m * S):
        dy[i] = dy[i] if y[i] > 0 else 0
