# Fused softmax + cross-entropy forward and backward (reference: wavecore/engine/ops/softmax_ce.py).
from cython cimport floating
from wavecore.engine._cpu.fastmath cimport exp_, log_


cdef inline void softmax_ce(floating* logits, const long long* targets, Py_ssize_t m, int A,
                            floating scale, floating* nll) noexcept nogil:
    """logits: (m, A) are overwritten with dlogits = (softmax - onehot) * scale;
    nll: (m,) = -log softmax[target] per row (the caller sums it, in order)."""
    cdef Py_ssize_t i, j
    cdef floating mx, s, inv, lt
    cdef floating* row
    for i in range(m):
        row = logits + i * A
        mx = row[0]
        for j in range(1, A):
            mx = row[j] if row[j] > mx else mx
        lt = row[targets[i]] - mx
        s = 0
        for j in range(A):
            row[j] = exp_(row[j] - mx)
            s = s + row[j]
        nll[i] = log_(s) - lt
        inv = scale / s
        for j in range(A):
            row[j] = row[j] * inv
        row[targets[i]] = row[targets[i]] - scale
