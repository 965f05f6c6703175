# Input causal conv from classes (reference: wavecore/ops/input_conv.py).
from cython cimport floating
from cython.parallel cimport prange


cdef inline void input_conv_forward(const long long* x, Py_ssize_t M, Py_ssize_t B,
                                    const floating* E, Py_ssize_t A, Py_ssize_t R,
                                    const floating* b, floating* h, int threads) noexcept nogil:
    """x: (M, B) classes; E: (2, A, R); b: (R,) -> h: ((M-1)*B, R), row i = E0[x[i]] + E1[x[i+B]] + b."""
    cdef Py_ssize_t i, j
    cdef const floating* e0
    cdef const floating* e1
    for i in prange((M - 1) * B, num_threads=threads, schedule="static"):
        e0 = E + x[i] * R
        e1 = E + (A + x[i + B]) * R
        for j in range(R):
            h[i * R + j] = e0[j] + e1[j] + b[j]


cdef inline void input_conv_backward(const floating* dh, const long long* x, Py_ssize_t M,
                                     Py_ssize_t B, Py_ssize_t A, Py_ssize_t R,
                                     floating* dE, floating* db) noexcept nogil:
    """Scatter-add dh: ((M-1)*B, R) into dE: (2, A, R) (zeroed here) and db: (R,).
    Serial, in row order: deterministic, and cheap next to the GEMMs."""
    cdef Py_ssize_t i, j, n = (M - 1) * B
    cdef floating* d0
    cdef floating* d1
    for j in range(2 * A * R):
        dE[j] = 0
    for j in range(R):
        db[j] = 0
    for i in range(n):
        d0 = dE + x[i] * R
        d1 = dE + (A + x[i + B]) * R
        for j in range(R):
            d0[j] += dh[i * R + j]
            d1[j] += dh[i * R + j]
            db[j] += dh[i * R + j]
