"""Dilated causal conv, kernel 2: [f; g][t] = h[t-d] @ W[:R] + h[t] @ W[R:] + c
(valid, no padding)."""
import numpy as np

from .bf16 import matmul as mm


def dilated_conv_forward(h, W, c, d):
    """h: (Tin, B, R); W: (2R, 2D) rows [past; current]; c: (2D,) -> fg: (Tin-d, B, 2D)."""
    Tin, B, R = h.shape
    h2 = h.reshape(Tin * B, R)                   # time-major: shifts are contiguous row slices
    past, cur = h2[: (Tin - d) * B], h2[d * B:]  # (Tin-d)*B rows each
    fg = mm(past, W[:R]) + mm(cur, W[R:]) + c          # fg: ((Tin-d)*B, 2D)
    return fg.reshape(Tin - d, B, -1), (h, W, d)


def dilated_conv_backward(dfg, cache):
    """dfg: (Tin-d, B, 2D) -> (dh: (Tin, B, R), dW: (2R, 2D), dc: (2D,))."""
    h, W, d = cache
    Tin, B, R = h.shape
    n = (Tin - d) * B
    h2 = h.reshape(Tin * B, R)
    dfg2 = dfg.reshape(n, -1)                    # dfg2: ((Tin-d)*B, 2D)
    dW = np.empty_like(W)
    dW[:R] = mm(h2[:n].T, dfg2)
    dW[R:] = mm(h2[d * B:].T, dfg2)
    dh = np.zeros_like(h2)                       # dh: (Tin*B, R)
    dh[:n] += mm(dfg2, W[:R].T)
    dh[d * B:] += mm(dfg2, W[R:].T)
    return dh.reshape(Tin, B, R), dW, dfg2.sum(axis=0)
