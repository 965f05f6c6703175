# Fused softmax + cross-entropy forward and backward (reference: wavecore/ops/softmax_ce.py).
from cython cimport floating
from cython.parallel cimport prange
from wavecore._cpu.fastmath cimport exp_, log_


cdef inline void softmax_ce(floating* logits, const long long* targets, Py_ssize_t n, int A,
                            floating scale, floating* nll, int threads) noexcept nogil:
    """logits: (n, A) are overwritten with dlogits = (softmax - onehot) * scale;
    nll: (n,) = -log softmax[target] per row (the caller sums it, in order)."""
    cdef Py_ssize_t i, j
    cdef floating m, s, inv, lt
    cdef floating* row
    for i in prange(n, num_threads=threads, schedule="static"):
        row = logits + i * A
        m = row[0]
        for j in range(1, A):
            if row[j] > m:
                m = row[j]
        lt = row[targets[i]] - m
        s = 0
        for j in range(A):
            row[j] = exp_(row[j] - m)
            s = s + row[j]
        nll[i] = log_(s) - lt
        inv = scale / s
        for j in range(A):
            row[j] = row[j] * inv
        row[targets[i]] = row[targets[i]] - scale
