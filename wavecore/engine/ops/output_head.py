"""Output head: logits = relu(relu(skip_sum) @ W1 + b1) @ W2 + b2."""
import numpy as np

from .bf16 import matmul as mm


def output_head_forward(skip_sum, W1, b1, W2, b2):
    """skip_sum: (T, B, S); W1: (S, S); W2: (S, A) -> logits: (T, B, A)."""
    T, B, S = skip_sum.shape
    y = np.maximum(skip_sum.reshape(T * B, S), 0)    # y: (T*B, S)
    a = mm(y, W1) + b1
    o = np.maximum(a, 0)                              # o: (T*B, S)
    logits = mm(o, W2) + b2                           # logits: (T*B, A)
    return logits.reshape(T, B, -1), (skip_sum, y, o, W1, W2)


def output_head_backward(dlogits, cache):
    """dlogits: (T, B, A) -> (dskip_sum, dW1, db1, dW2, db2)."""
    skip_sum, y, o, W1, W2 = cache
    T, B, S = skip_sum.shape
    dl2 = dlogits.reshape(T * B, -1)
    dW2 = mm(o.T, dl2)
    da = mm(dl2, W2.T) * (o > 0)
    dW1 = mm(y.T, da)
    dy = mm(da, W1.T) * (y > 0)
    return dy.reshape(T, B, S), dW1, da.sum(axis=0), dW2, dl2.sum(axis=0)
