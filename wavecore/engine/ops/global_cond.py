"""Global conditioning: a per-stream bias V @ e[id] added to a layer's [f; g]."""
import numpy as np


def global_cond_forward(ids, embed, V):
    """ids: (B,) int; embed: (n_ids, G); V: (G, 2D) -> bias: (B, 2D)."""
    e = embed[ids]                              # e: (B, G)
    return e @ V, (ids, e, embed.shape, V)


def global_cond_backward(dbias, cache):
    """dbias: (B, 2D) -> (dembed: (n_ids, G), dV: (G, 2D))."""
    ids, e, shape, V = cache
    dembed = np.zeros(shape, dtype=dbias.dtype)
    np.add.at(dembed, ids, dbias @ V.T)
    return dembed, e.T @ dbias
