# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Adam update over the flat buffer in one pass (reference: wavecore/engine/optim.py)."""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt


def sum_squares(const floating[::1] g):
    """Sum of squares in float64, serial (a fixed order: bit-reproducible)."""
    cdef double acc = 0
    cdef Py_ssize_t i
    with nogil:
        for i in range(g.shape[0]):
            acc += <double>g[i] * g[i]
    return acc


def adam_update(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
                double step, double beta1, double beta2, double eps_hat, double scale,
                int threads):
    """m = b1 m + (1-b1) s g; v = b2 v + (1-b2) (s g)^2; p -= step * m / (sqrt(v) + eps_hat)."""
    cdef Py_ssize_t i
    cdef floating gi
    cdef floating b1 = <floating>beta1, b2 = <floating>beta2, c1 = <floating>(1 - beta1)
    cdef floating c2 = <floating>(1 - beta2), st = <floating>step, e = <floating>eps_hat
    cdef floating sc = <floating>scale
    for i in prange(p.shape[0], nogil=True, num_threads=threads, schedule="static"):
        gi = g[i] * sc
        m[i] = b1 * m[i] + c1 * gi
        v[i] = b2 * v[i] + c2 * gi * gi
        p[i] = p[i] - st * m[i] / (sqrt(v[i]) + e)
