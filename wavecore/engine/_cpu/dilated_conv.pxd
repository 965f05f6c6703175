# Dilated causal conv, kernel 2, valid (reference: wavecore/engine/ops/dilated_conv.py).
# A block of m output rows reads `past` = h[t-d] rows and `cur` = h[t] rows (time-major:
# both are contiguous). Serial; the caller splits rows across threads.
from cython cimport floating
from wavecore.engine._cpu.blas cimport gemm, colsum


cdef inline void dilated_conv_forward(bint lp, const floating* past, const floating* cur, Py_ssize_t m,
                                      int R, const floating* W, const floating* c,
                                      const floating* gcb, Py_ssize_t B, Py_ssize_t row0, int D2,
                                      floating* fg) noexcept nogil:
    """fg: (m, 2D) = past @ W[:R] + cur @ W[R:] + c (+ gcb[(row0 + i) % B]); W: (2R, 2D)."""
    cdef Py_ssize_t i, j
    for i in range(m):
        for j in range(D2):
            fg[i * D2 + j] = c[j] + (gcb[((row0 + i) % B) * D2 + j] if gcb != NULL else 0)
    gemm(lp, False, False, <int>m, D2, R, <floating>1, past, R, W, D2, <floating>1, fg, D2)
    gemm(lp, False, False, <int>m, D2, R, <floating>1, cur, R, W + R * D2, D2, <floating>1, fg, D2)


cdef inline void dilated_conv_backward_weights(bint lp, const floating* past, const floating* cur,
                                               const floating* dfg, Py_ssize_t m, int R, int D2,
                                               floating* dW, floating* dc,
                                               const floating* ones) noexcept nogil:
    """dW: (2R, 2D) += [past; cur]^T dfg; dc: (2D,) += colsum(dfg), over m rows."""
    gemm(lp, True, False, R, D2, <int>m, <floating>1, past, R, dfg, D2, <floating>1, dW, D2)
    gemm(lp, True, False, R, D2, <int>m, <floating>1, cur, R, dfg, D2, <floating>1, dW + R * D2, D2)
    colsum(<int>m, D2, dfg, D2, ones, <floating>1, dc)


cdef inline void dilated_conv_backward_input(bint lp, const floating* dfg, Py_ssize_t n, Py_ssize_t shift,
                                             Py_ssize_t lo, Py_ssize_t hi, int R,
                                             const floating* W, int D2,
                                             floating* dh) noexcept nogil:
    """Rows lo..hi of dh: (n + shift, R) += dfg[i] W[:R]^T (i < n) + dfg[i - shift] W[R:]^T
    (i >= shift); dfg: (n, 2D). Rows of one block read dfg rows of other blocks."""
    cdef Py_ssize_t a, b
    a, b = lo, (hi if hi < n else n)                          # rows that are someone's past
    if b > a:
        gemm(lp, False, True, <int>(b - a), R, D2, <floating>1, dfg + a * D2, D2, W, D2,
             <floating>1, dh + a * R, R)
    a, b = (lo if lo > shift else shift), hi                  # rows that are someone's present
    if b > a:
        gemm(lp, False, True, <int>(b - a), R, D2, <floating>1, dfg + (a - shift) * D2, D2,
             W + R * D2, D2, <floating>1, dh + a * R, R)
