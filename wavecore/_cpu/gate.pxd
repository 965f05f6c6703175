# Gated unit z = tanh(f) * sigmoid(g) (reference: wavecore/ops/gate.py).
from cython cimport floating
from cython.parallel cimport prange
from wavecore._cpu.fastmath cimport tanh_, sigmoid_


cdef inline void gate_forward(floating* fg, Py_ssize_t n, Py_ssize_t D, floating* z,
                              int threads) noexcept nogil:
    """fg: (n, 2D) is overwritten with ts = [tanh(f); sigmoid(g)] (what backward needs);
    z: (n, D) = tanh(f) * sigmoid(g)."""
    cdef Py_ssize_t i, j
    cdef floating t, s
    for i in prange(n, num_threads=threads, schedule="static"):
        for j in range(D):
            t = tanh_(fg[i * 2 * D + j])
            s = sigmoid_(fg[i * 2 * D + D + j])
            fg[i * 2 * D + j] = t
            fg[i * 2 * D + D + j] = s
            z[i * D + j] = t * s


cdef inline void gate_recompute(const floating* ts, Py_ssize_t n, Py_ssize_t D, floating* z,
                                int threads) noexcept nogil:
    """z: (n, D) = t * s from the stored ts: (n, 2D)."""
    cdef Py_ssize_t i, j
    for i in prange(n, num_threads=threads, schedule="static"):
        for j in range(D):
            z[i * D + j] = ts[i * 2 * D + j] * ts[i * 2 * D + D + j]


cdef inline void gate_backward(const floating* dz, floating* ts, Py_ssize_t n, Py_ssize_t D,
                               int threads) noexcept nogil:
    """dz: (n, D); ts: (n, 2D) is overwritten with dfg: (n, 2D)."""
    cdef Py_ssize_t i, j
    cdef floating t, s, g
    for i in prange(n, num_threads=threads, schedule="static"):
        for j in range(D):
            t = ts[i * 2 * D + j]
            s = ts[i * 2 * D + D + j]
            g = dz[i * D + j]
            ts[i * 2 * D + j] = g * s * (1 - t * t)
            ts[i * 2 * D + D + j] = g * t * s * (1 - s)
