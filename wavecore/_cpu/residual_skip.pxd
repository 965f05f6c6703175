# Residual and skip 1x1 convs (reference: wavecore/ops/residual_skip.py). The skip convs of
# all layers are one GEMM: [z_1 ... z_L] (TB, L*D) @ [Ws_1; ...; Ws_L] (L*D, S).
from cython cimport floating
from cython.parallel cimport prange
from wavecore._cpu.blas cimport gemm, colsum


cdef inline void residual_forward(const floating* h, Py_ssize_t shift, const floating* z,
                                  Py_ssize_t n, int R, int D, const floating* Wr,
                                  const floating* br, floating* hn, int threads) noexcept nogil:
    """hn: (n, R) = h[shift:] + z @ Wr + br; shift = d*B rows; z: (n, D); Wr: (D, R)."""
    cdef Py_ssize_t i, j
    for i in prange(n, num_threads=threads, schedule="static"):
        for j in range(R):
            hn[i * R + j] = h[(i + shift) * R + j] + br[j]
    gemm(False, False, <int>n, R, D, <floating>1, z, D, Wr, R, <floating>1, hn, R)


cdef inline void residual_backward(const floating* dhn, const floating* z, Py_ssize_t n, int R,
                                   int D, const floating* Wr, floating* dz, floating* dWr,
                                   floating* dbr, const floating* ones) noexcept nogil:
    """dhn: (n, R) -> dz: (n, D) = dhn @ Wr^T (overwritten); dWr: (D, R); dbr: (R,)."""
    gemm(False, True, <int>n, D, R, <floating>1, dhn, R, Wr, R, <floating>0, dz, D)
    gemm(True, False, D, R, <int>n, <floating>1, z, D, dhn, R, <floating>0, dWr, R)
    colsum(<int>n, R, dhn, R, ones, <floating>0, dbr)


cdef inline void skip_forward(const floating* Z, Py_ssize_t TB, int LD, const floating* Ws,
                              const floating* bs, int L, int S, floating* out,
                              int threads) noexcept nogil:
    """Z: (TB, L*D); Ws: (L*D, S); bs: (L, S) -> out: (TB, S) = Z @ Ws + sum_l bs[l]."""
    cdef Py_ssize_t i, j, l
    cdef floating acc
    for j in range(S):
        acc = 0
        for l in range(L):
            acc = acc + bs[l * S + j]
        out[j] = acc
    for i in prange(1, TB, num_threads=threads, schedule="static"):
        for j in range(S):
            out[i * S + j] = out[j]
    gemm(False, False, <int>TB, S, LD, <floating>1, Z, LD, Ws, S, <floating>1, out, S)


cdef inline void skip_backward(const floating* dskip, const floating* Z, Py_ssize_t TB, int LD,
                               const floating* Ws, int L, int S, floating* dZ, floating* dWs,
                               floating* dbs, const floating* ones) noexcept nogil:
    """dskip: (TB, S) -> dZ: (TB, L*D); dWs: (L*D, S); dbs: (L, S) (every row the same)."""
    cdef Py_ssize_t l, j
    gemm(False, True, <int>TB, LD, S, <floating>1, dskip, S, Ws, S, <floating>0, dZ, LD)
    gemm(True, False, LD, S, <int>TB, <floating>1, Z, LD, dskip, S, <floating>0, dWs, S)
    colsum(<int>TB, S, dskip, S, ones, <floating>0, dbs)
    for l in range(1, L):
        for j in range(S):
            dbs[l * S + j] = dbs[j]
