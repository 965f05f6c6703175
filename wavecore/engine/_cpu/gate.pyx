# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Python entry points to the gate kernels (gate.pxd), for tests against wavecore/engine/ops/gate.py."""
import numpy as np
from cython cimport floating


def gate(floating[:, ::1] fg, floating[:, ::1] dz):
    """fg: (n, 2D), dz: (n, D) -> (z: (n, D), dfg: (n, 2D)) through the compiled kernels."""
    cdef Py_ssize_t n = fg.shape[0], D = fg.shape[1] // 2
    ts = np.array(fg, copy=True)
    z = np.empty((n, D), dtype=ts.dtype)
    cdef floating[:, ::1] tsv = ts
    cdef floating[:, ::1] zv = z
    if n:
        with nogil:
            gate_forward(&tsv[0, 0], n, D, &zv[0, 0], D)
            gate_backward(&dz[0, 0], &tsv[0, 0], n, D)
    return z, ts
