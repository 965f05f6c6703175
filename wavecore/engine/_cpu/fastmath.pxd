# Transcendentals for the elementwise kernels. float64 uses libm (the reference path
# must agree to ~1e-12). float32 tanh is a vectorisable rational approximation
# (fastmath.h): libm's tanhf was 28% of a training step, measured with perf.
from cython cimport floating
from libc.math cimport tanh, exp, expf, log, logf


cdef extern from "fastmath.h" nogil:
    float wc_tanhf(float x)


cdef inline floating tanh_(floating x) noexcept nogil:
    if floating is float:
        return wc_tanhf(x)
    else:
        return tanh(x)


cdef inline floating sigmoid_(floating x) noexcept nogil:
    """0.5 * (1 + tanh(x / 2)): no overflow for any x."""
    return <floating>0.5 + <floating>0.5 * tanh_(<floating>0.5 * x)


cdef inline floating exp_(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating log_(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)
