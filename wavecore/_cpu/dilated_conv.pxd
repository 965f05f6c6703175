# Dilated causal conv, kernel 2, valid (reference: wavecore/ops/dilated_conv.py).
from cython cimport floating
from cython.parallel cimport prange
from wavecore._cpu.blas cimport gemm, colsum


cdef inline void dilated_conv_forward(const floating* h, Py_ssize_t n_in, Py_ssize_t B, int R,
                                      const floating* W, const floating* c, const floating* gcb,
                                      Py_ssize_t d, int D2, floating* fg, int threads) noexcept nogil:
    """h: (n_in, R) rows (t, b); W: (2R, 2D); c: (2D,); gcb: (B, 2D) conditioning bias or NULL
    -> fg: (n, 2D), n = n_in - d*B, fg = h[:n] @ W[:R] + h[dB:] @ W[R:] + c (+ gcb[row % B])."""
    cdef Py_ssize_t n = n_in - d * B, i, j
    for i in prange(n, num_threads=threads, schedule="static"):
        for j in range(D2):
            fg[i * D2 + j] = c[j] + (gcb[(i % B) * D2 + j] if gcb != NULL else 0)
    gemm(False, False, <int>n, D2, R, <floating>1, h, R, W, D2, <floating>1, fg, D2)
    gemm(False, False, <int>n, D2, R, <floating>1, h + d * B * R, R, W + R * D2, D2, <floating>1, fg, D2)


cdef inline void dilated_conv_backward(const floating* dfg, const floating* h, Py_ssize_t n_in,
                                       Py_ssize_t B, int R, const floating* W, Py_ssize_t d, int D2,
                                       floating* dW, floating* dc, floating* dh,
                                       const floating* ones) noexcept nogil:
    """dfg: (n, 2D) -> dW: (2R, 2D), dc: (2D,) (overwritten); dh: (n_in, R) accumulated (+=)."""
    cdef int n = <int>(n_in - d * B)
    cdef Py_ssize_t s = d * B * R
    gemm(True, False, R, D2, n, <floating>1, h, R, dfg, D2, <floating>0, dW, D2)
    gemm(True, False, R, D2, n, <floating>1, h + s, R, dfg, D2, <floating>0, dW + R * D2, D2)
    colsum(n, D2, dfg, D2, ones, <floating>0, dc)
    gemm(False, True, n, R, D2, <floating>1, dfg, D2, W, D2, <floating>1, dh, R)
    gemm(False, True, n, R, D2, <floating>1, dfg, D2, W + R * D2, D2, <floating>1, dh + s, R)
