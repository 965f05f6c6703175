# Input causal conv from classes (reference: wavecore/engine/ops/input_conv.py). Serial over a
# block of rows; the caller splits rows across threads.
from cython cimport floating


cdef inline void input_conv_forward(const long long* x, Py_ssize_t m, Py_ssize_t B,
                                    const floating* E, Py_ssize_t A, Py_ssize_t R,
                                    const floating* b, floating* h) noexcept nogil:
    """Rows i < m of h: (m, R) = E0[x[i]] + E1[x[i+B]] + b; x: classes, rows (t, b); E: (2, A, R)."""
    cdef Py_ssize_t i, j
    cdef const floating* e0
    cdef const floating* e1
    for i in range(m):
        e0 = E + x[i] * R
        e1 = E + (A + x[i + B]) * R
        for j in range(R):
            h[i * R + j] = e0[j] + e1[j] + b[j]


cdef inline void input_conv_backward(const floating* dh, const long long* x, Py_ssize_t m,
                                     Py_ssize_t B, Py_ssize_t A, Py_ssize_t R,
                                     floating* dE, floating* db) noexcept nogil:
    """Scatter-add rows i < m of dh: (m, R) into dE: (2, A, R) and db: (R,) (accumulated)."""
    cdef Py_ssize_t i, j
    cdef floating* d0
    cdef floating* d1
    for i in range(m):
        d0 = dE + x[i] * R
        d1 = dE + (A + x[i + B]) * R
        for j in range(R):
            d0[j] += dh[i * R + j]
            d1[j] += dh[i * R + j]
            db[j] += dh[i * R + j]
