"""Gated unit: z = tanh(f) * sigmoid(g), with fg = [f; g] on the last axis."""
import numpy as np


def sigmoid(x):
    """Overflow-free logistic: 0.5 * (1 + tanh(x / 2))."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def gate_forward(fg):
    """fg: (T, B, 2D) -> z: (T, B, D)."""
    D = fg.shape[-1] // 2
    t = np.tanh(fg[..., :D])
    s = sigmoid(fg[..., D:])
    return t * s, (t, s)


def gate_backward(dz, cache):
    """dz: (T, B, D) -> (dfg: (T, B, 2D),)."""
    t, s = cache
    dfg = np.empty(t.shape[:-1] + (2 * t.shape[-1],), dtype=dz.dtype)
    D = t.shape[-1]
    dfg[..., :D] = dz * s * (1.0 - t * t)
    dfg[..., D:] = dz * t * s * (1.0 - s)
    return (dfg,)
