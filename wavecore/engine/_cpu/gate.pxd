# Gated unit z = tanh(f) * sigmoid(g) (reference: wavecore/engine/ops/gate.py). Serial over a block.
from cython cimport floating
from wavecore.engine._cpu.fastmath cimport tanh_, sigmoid_


cdef extern from "simd.h" nogil:
    void wc_gate_f(float* fg, long m, long D, float* z, long ldz)


cdef inline void gate_forward(floating* fg, Py_ssize_t m, Py_ssize_t D, floating* z,
                              Py_ssize_t ldz) noexcept nogil:
    """fg: (m, 2D) is overwritten with ts = [tanh f; sigmoid g] (what backward needs);
    z: (m, D) with row stride ldz = tanh f * sigmoid g."""
    cdef Py_ssize_t i, j
    cdef floating* r
    if floating is float:
        wc_gate_f(fg, m, D, z, ldz)            # vectorised, with an AVX2+FMA clone
        return
    for i in range(m):
        r = fg + i * 2 * D
        for j in range(D):                      # branch-free loops: they vectorise
            r[j] = tanh_(r[j])
        for j in range(D, 2 * D):
            r[j] = sigmoid_(r[j])
        for j in range(D):
            z[i * ldz + j] = r[j] * r[D + j]


cdef inline void gate_recompute(const floating* ts, Py_ssize_t m, Py_ssize_t D,
                                floating* z) noexcept nogil:
    """z: (m, D) = t * s from the stored ts: (m, 2D)."""
    cdef Py_ssize_t i, j
    for i in range(m):
        for j in range(D):
            z[i * D + j] = ts[i * 2 * D + j] * ts[i * 2 * D + D + j]


cdef inline void gate_backward(const floating* dz, floating* ts, Py_ssize_t m,
                               Py_ssize_t D) noexcept nogil:
    """dz: (m, D); ts: (m, 2D) is overwritten with dfg: (m, 2D)."""
    cdef Py_ssize_t i, j
    cdef floating t, s, g
    for i in range(m):
        for j in range(D):
            t = ts[i * 2 * D + j]
            s = ts[i * 2 * D + D + j]
            g = dz[i * D + j]
            ts[i * 2 * D + j] = g * s * (1 - t * t)
            ts[i * 2 * D + D + j] = g * t * s * (1 - s)
