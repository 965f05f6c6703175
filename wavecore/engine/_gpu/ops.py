"""Launchers of the GPU kernels, one per reference op (wavecore/engine/ops/<stem>.py); the sources
are kernels/<stem>.cu. Buffers are 2-D row blocks of the time-major layout: ``(T*B, C)``."""
from __future__ import annotations

import numpy as np

BLOCK = 256
_partials: dict = {}                                  # sum_squares' per-block sums


def _k(dev, name, like):
    return dev.kernel(name, like.dtype)


def input_conv_forward(dev, x, E, b, h):
    """x: (M, B) int64; E: (2, A, R); b: (R,) -> h: ((M-1)*B, R)."""
    n, R = h.shape
    A = E.shape[1]
    _k(dev, "input_conv_forward", h)(dev.grid(n * R), BLOCK, x, E, b, h, n, x.shape[1], A, R)


def input_conv_backward(dev, x, dh, dE, shared=None):
    """dh: ((M-1)*B, R) -> dE: (2, A, R) (overwritten); the bias gradient is dh's column sum.
    shared: sum each block's rows in a shared-memory table first (default: when the (A, R)
    table fits the block's shared memory, opting in above 48 KiB)."""
    n, R = dh.shape
    A = dE.shape[1]
    dev.fill(dE, 0)
    table = A * R * dh.itemsize
    shared = table <= dev.max_shared if shared is None else shared
    blocks = max(1, min(dev.sm_count, -(-n // 512)))     # >= 512 rows per block's table
    _k(dev, "input_conv_backward", dh)((blocks, 2), BLOCK, x, dh, dE, n, x.shape[1], A, R,
                                        int(shared), shared_mem=table if shared else 0)


def gate_forward(dev, fg, c, gcb, z, zcat, B, tail):
    """fg: (n, 2D) in place += c (+ gcb: (B, 2D)); z: (n, D); rows >= tail also into zcat
    (a column block of the skip GEMM input, row stride zcat.strides[0])."""
    n, D = z.shape
    has_gc = gcb is not None
    _k(dev, "gate_forward", fg)(dev.grid(n * D), BLOCK, fg, c,
                                gcb if has_gc else dev.dummy(fg.dtype), int(has_gc), z, zcat,
                                zcat.strides[0] // zcat.itemsize, n, B, D, tail)


def gate_backward(dev, fg, dz, dzcat, tail):
    """fg (pre-activations) becomes dfg in place; dz: (n, D) or None; dzcat: the skip path's
    gradient for rows >= tail."""
    n, D2 = fg.shape
    has_res = dz is not None
    _k(dev, "gate_backward", fg)(dev.grid(n * D2 // 2), BLOCK, fg,
                                 dz if has_res else dev.dummy(fg.dtype), int(has_res), dzcat,
                                 dzcat.strides[0] // dzcat.itemsize, n, D2 // 2, tail)


def add_bias(dev, h_tail, br, h_next):
    """h_next = h_tail + br: the residual path before the GEMM adds z @ Wr; both (n, R)."""
    n, R = h_next.shape
    _k(dev, "add_bias", h_next)(dev.grid(n * R), BLOCK, h_tail, br, h_next, n, R)


def bias_relu(dev, x, b, y):
    """y = relu(x + b); x, y: (n, C) (the output head's ReLUs: on the skip sum plus the summed
    skip biases, and on y W1 + b1)."""
    n, C = y.shape
    _k(dev, "bias_relu", y)(dev.grid(n * C), BLOCK, x, b, y, n, C)


def relu_backward(dev, dx, y):
    """dx *= (y > 0), in place."""
    _k(dev, "relu_backward", dx)(dev.grid(dx.size), BLOCK, dx, y, dx.size)


def softmax_ce(dev, logits, b, targets, nll, pred=None, backward=True):
    """logits: (N, A) += b, then nll: (N,), and (backward) logits := dlogits of the mean loss;
    pred: (N,) int64 argmax when given."""
    N, A = logits.shape
    rows_per_block = BLOCK // 32
    grid = max(1, min(-(-N // rows_per_block), dev.sm_count * 32))
    _k(dev, "softmax_ce", logits)(grid, BLOCK, logits, b, targets, nll,
                                  pred if pred is not None else dev.dummy(np.int64),
                                  int(pred is not None), int(backward), 1.0 / max(N, 1), N, A)


def colsum(dev, X, out, ones):
    """out: (C,) = X: (n, C) summed over rows, as the GEMM ones[:n] @ X (CuPy's axis-0
    reduction reads the rows with a stride; cuBLAS reads them as a matrix). ones: a vector of
    at least n ones that outlives any graph this is captured into."""
    dev.gemm(ones[None, :X.shape[0]], X, out.reshape(1, -1))
    return out


def sum_squares(dev, g) -> float:
    """sum(g**2) accumulated in float64 (the gradient norm for clipping and the NaN guard)."""
    blocks = dev.grid(g.size)
    part = _partials.get((id(dev), blocks))
    if part is None:                                  # one buffer per grid size, reused
        part = _partials[(id(dev), blocks)] = dev.xp.empty(blocks, np.float64)
    _k(dev, "sum_squares", g)(blocks, BLOCK, g, g.size, part)
    return float(dev.to_host(part).sum())


def adam_update(dev, p, g, m, v, step, b1, b2, eps_hat, scale):
    _k(dev, "adam_update", p)(dev.grid(p.size), BLOCK, p, g, m, v, p.size, step, b1, b2, eps_hat,
                              scale)
