# Residual and skip 1x1 convs (reference: wavecore/engine/ops/residual_skip.py). The skip convs of
# all layers are one GEMM: [z_1 ... z_L] (TB, L*D) @ [Ws_1; ...; Ws_L] (L*D, S).
# Serial over a block of rows; the caller splits rows across threads.
from cython cimport floating
from wavecore.engine._cpu.blas cimport gemm, colsum, weight


cdef inline void residual_forward(bint lp, const floating* cur, const floating* z, Py_ssize_t m, int R,
                                  int D, const floating* Wr, const floating* br,
                                  floating* hn) noexcept nogil:
    """hn: (m, R) = cur + z @ Wr + br; cur = h[t] rows; z: (m, D); Wr: (D, R)."""
    cdef Py_ssize_t i, j
    for i in range(m):
        for j in range(R):
            hn[i * R + j] = cur[i * R + j] + br[j]
    gemm(lp, False, False, <int>m, R, D, <floating>1, z, D, Wr, R, <floating>1, hn, R)


cdef inline void residual_backward(bint lp, const floating* dhn, const floating* z, Py_ssize_t m, int R,
                                   int D, const floating* Wr, floating* dz, floating* dWr,
                                   floating* dbr, const floating* ones) noexcept nogil:
    """dhn: (m, R) -> dz: (m, D) = dhn @ Wr^T (overwritten); dWr: (D, R) += z^T dhn; dbr +=."""
    gemm(lp, False, True, <int>m, D, R, <floating>1, dhn, R, Wr, R, <floating>0, dz, D)
    gemm(lp, True, False, D, R, <int>m, <floating>1, z, D, dhn, R, <floating>1, dWr, R)
    colsum(<int>m, R, dhn, R, ones, <floating>1, dbr)


cdef inline void skip_forward(bint lp, const floating* Z, Py_ssize_t m, int LD, const floating* Ws,
                              const floating* bs, int L, int S, floating* out) noexcept nogil:
    """Z: (m, L*D); Ws: (L*D, S); bs: (L, S) -> out: (m, S) = Z @ Ws + sum_l bs[l]."""
    cdef Py_ssize_t i, j, l
    for j in range(S):
        out[j] = 0
        for l in range(L):
            out[j] += bs[l * S + j]
    for i in range(1, m):
        for j in range(S):
            out[i * S + j] = out[j]
    gemm(weight(lp), False, False, <int>m, S, LD, <floating>1, Z, LD, Ws, S, <floating>1, out, S)


cdef inline void skip_backward(bint lp, const floating* dskip, const floating* Z, Py_ssize_t m, int LD,
                               const floating* Ws, int S, floating* dZ, floating* dWs,
                               floating* dbs, const floating* ones) noexcept nogil:
    """dskip: (m, S) -> dZ: (m, L*D) (overwritten; it may be Z itself, read before); dWs:
    (L*D, S) +=; dbs: (S,) += (every layer's skip bias gets this same gradient; the caller
    copies it)."""
    gemm(lp, True, False, LD, S, <int>m, <floating>1, Z, LD, dskip, S, <floating>1, dWs, S)
    gemm(weight(lp), False, True, <int>m, LD, S, <floating>1, dskip, S, Ws, S, <floating>0, dZ, LD)
    colsum(<int>m, S, dskip, S, ones, <floating>1, dbs)
