"""Input causal conv, kernel 2, from classes: h[t] = E0[x[t-1]] + E1[x[t]] + b."""
import numpy as np


def input_conv_forward(x, E, b):
    """x: (M, B) int classes; E: (2, A, R); b: (R,) -> h: (M-1, B, R).

    Output row t combines x[t] (previous sample) and x[t+1] (current sample).
    """
    h = E[0][x[:-1]] + E[1][x[1:]] + b          # h: (M-1, B, R)
    return h, (x, E.shape)


def input_conv_backward(dh, cache):
    """dh: (M-1, B, R) -> (dE: (2, A, R), db: (R,)); a scatter-add over classes."""
    x, shape = cache
    R = shape[2]
    dE = np.zeros(shape, dtype=dh.dtype)
    dh2 = dh.reshape(-1, R)
    np.add.at(dE[0], x[:-1].reshape(-1), dh2)
    np.add.at(dE[1], x[1:].reshape(-1), dh2)
    return dE, dh2.sum(axis=0)
