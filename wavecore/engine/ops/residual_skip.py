"""Residual and skip 1x1 convs of one layer.

h_next = h[d:] + z @ Wr + br on every position the next layer needs;
skip = z[-T:] @ Ws + bs on the T loss-bearing positions only.
The last layer has no residual output (Wr is None): nothing reads it.
"""
import numpy as np

from .bf16 import matmul as mm


def residual_skip_forward(h, z, Wr, br, Ws, bs, T):
    """h: (Tin, B, R); z: (Tout, B, D), Tout = Tin - d; Wr: (D, R) | None; br: (R,) | None;
    Ws: (D, S); bs: (S,) -> (h_next: (Tout, B, R) | None, skip: (T, B, S))."""
    Tout, B, D = z.shape
    z2 = z.reshape(Tout * B, D)
    h_next = None
    if Wr is not None:
        h_next = h[h.shape[0] - Tout:] + (mm(z2, Wr) + br).reshape(Tout, B, -1)
    skip = (mm(z2[(Tout - T) * B:], Ws) + bs).reshape(T, B, -1)
    return (h_next, skip), (h.shape, z, Wr, Ws, T)


def residual_skip_backward(dy, cache):
    """dy = (dh_next: (Tout, B, R) | None, dskip: (T, B, S)) ->
    (dh: (Tin, B, R), dz: (Tout, B, D), dWr | None, dbr | None, dWs: (D, S), dbs: (S,))."""
    dh_next, dskip = dy
    hshape, z, Wr, Ws, T = cache
    Tout, B, D = z.shape
    z2 = z.reshape(Tout * B, D)
    ds2 = dskip.reshape(T * B, -1)
    dz = np.zeros_like(z2)                       # dz: (Tout*B, D)
    dz[(Tout - T) * B:] = mm(ds2, Ws.T)
    dWs = mm(z2[(Tout - T) * B:].T, ds2)
    dh = np.zeros(hshape, dtype=z.dtype)
    dWr = dbr = None
    if Wr is not None:
        dn2 = dh_next.reshape(Tout * B, -1)
        dz += mm(dn2, Wr.T)
        dWr = mm(z2.T, dn2)
        dbr = dn2.sum(axis=0)
        dh[hshape[0] - Tout:] = dh_next
    return dh, dz.reshape(Tout, B, D), dWr, dbr, dWs, ds2.sum(axis=0)
