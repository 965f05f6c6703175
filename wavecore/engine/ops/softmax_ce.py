"""Softmax cross-entropy over classes, mean over every (t, b) position."""
import numpy as np


def log_softmax(logits):
    m = logits.max(axis=-1, keepdims=True)
    s = logits - m
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def softmax_ce_forward(logits, targets):
    """logits: (T, B, A); targets: (T, B) int -> loss (scalar mean NLL in nats).

    The per-position NLL, nll: (T, B), is cache[2]."""
    logp = log_softmax(logits)                                   # logp: (T, B, A)
    nll = -np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    return nll.mean(), (np.exp(logp), targets, nll)


def softmax_ce_backward(dloss, cache):
    """dloss: scalar -> (dlogits: (T, B, A),) = (softmax - onehot) * dloss / (T*B)."""
    p, targets, _ = cache
    d = p.copy()
    np.put_along_axis(d, targets[..., None], np.take_along_axis(d, targets[..., None], -1) - 1, -1)
    return (d * (dloss / targets.size),)
