"""The reference step in NumPy: the forward pass through wavecore/ops and its hand-written
backward, over the named views of the flat parameter buffer. The NumPy backend runs it; every
compiled step is compared with it (tests/test_backends.py).

Layout is time-major, ``(T, B, C)``: ``x: (N, B)`` classes with ``N = receptive_field + T``;
the network reads ``x[:-1]`` and predicts ``x[RF:]``, or ``y: (T, B)`` where a batch carries its
targets apart.
"""
from __future__ import annotations

import numpy as np

from .ops import (
    bf16,
    dilated_conv_backward,
    dilated_conv_forward,
    gate_backward,
    gate_forward,
    global_cond_backward,
    global_cond_forward,
    input_conv_backward,
    input_conv_forward,
    output_head_backward,
    output_head_forward,
    residual_skip_backward,
    residual_skip_forward,
    softmax_ce_backward,
    softmax_ce_forward,
)


def forward(cfg, p, x_in, gc):
    """The reference forward. p: named views; x_in: (M, B) -> logits: (M - RF + 1, B, A) and
    the caches for backward."""
    T = x_in.shape[0] - cfg.receptive_field + 1
    L = cfg.n_layers
    h, c_in = input_conv_forward(x_in, p["input.E"], p["input.b"])   # h: (M-1, B, R)
    skip_sum = 0
    layers = []
    for l, d in enumerate(cfg.dilations):
        fg, c_conv = dilated_conv_forward(h, p["layers.W"][l], p["layers.c"][l], d)  # (Tl, B, 2D)
        c_gc = None
        if cfg.gc_ids:
            bias, c_gc = global_cond_forward(gc, p["gc.embed"], p["layers.V"][l])   # (B, 2D)
            fg = fg + bias
        z, c_gate = gate_forward(fg)                                               # (Tl, B, D)
        last = l == L - 1
        (h, skip), c_rs = residual_skip_forward(
            h, z, None if last else p["layers.Wr"][l], None if last else p["layers.br"][l],
            p["skip.W"][l], p["skip.b"][l], T)                                    # skip: (T, B, S)
        skip_sum = skip_sum + skip
        layers.append((c_conv, c_gc, c_gate, c_rs))
    logits, c_out = output_head_forward(skip_sum, p["out.W1"], p["out.b1"], p["out.W2"],
                                        p["out.b2"])
    return logits, (c_in, layers, c_out)


def targets(cfg, x, y):
    """What the loss predicts: y: (T, B) where given, else x[RF:]."""
    return x[cfg.receptive_field:] if y is None else y


def reference_forward(net, params, x, gc, y=None):
    """Forward only on the NumPy reference: (mean NLL, nll: (T, B), logits: (T, B, A))."""
    with bf16.rounding(net.precision == "bf16"):
        logits, _ = forward(net.config, net.views(params), x[:-1], gc)
    loss, c_ce = softmax_ce_forward(logits, targets(net.config, x, y))
    return float(loss), c_ce[2], logits


def reference_loss_and_grads(net, params, x, gc, y=None):
    """The reference step: mean NLL over the last T positions and its gradient (flat). A bf16
    net rounds every GEMM's operands to bf16 (wavecore.engine.ops.bf16), forward and backward."""
    with bf16.rounding(net.precision == "bf16"):
        return _loss_and_grads(net, params, x, gc, y)


def _loss_and_grads(net, params, x, gc, y):
    cfg = net.config
    p = net.views(params)
    logits, (c_in, layers, c_out) = forward(cfg, p, x[:-1], gc)
    loss, c_ce = softmax_ce_forward(logits, targets(cfg, x, y))

    grads = np.zeros_like(params)
    g = net.views(grads)
    (dlogits,) = softmax_ce_backward(1.0, c_ce)
    dskip, g["out.W1"][...], g["out.b1"][...], g["out.W2"][...], g["out.b2"][...] = \
        output_head_backward(dlogits, c_out)
    dh = None
    for l in reversed(range(cfg.n_layers)):
        c_conv, c_gc, c_gate, c_rs = layers[l]
        dh_res, dz, dWr, dbr, g["skip.W"][l], g["skip.b"][l] = residual_skip_backward(
            (dh, dskip), c_rs)
        if dWr is not None:
            g["layers.Wr"][l], g["layers.br"][l] = dWr, dbr
        (dfg,) = gate_backward(dz, c_gate)
        if c_gc is not None:
            dembed, g["layers.V"][l] = global_cond_backward(dfg.sum(axis=0), c_gc)
            g["gc.embed"] += dembed
        dh_conv, g["layers.W"][l], g["layers.c"][l] = dilated_conv_backward(dfg, c_conv)
        dh = dh_res + dh_conv
    g["input.E"][...], g["input.b"][...] = input_conv_backward(dh, c_in)
    return float(loss), grads
