"""The floating-point work of the model's passes: what the plan prices with measured rates and
the study's activities state as their cost."""
from __future__ import annotations


def forward_flops(cfg, T: int, B: int) -> float:
    """Floating-point operations of the forward pass over B windows of RF + T samples: each
    layer's dilated conv and residual 1x1 over its rows, the skip GEMM and the head over TB."""
    R, D, S, A, L = (cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels,
                     cfg.classes, cfg.n_layers)
    rows, total = (cfg.receptive_field + T - 2) * B, 0.0
    for d in cfg.dilations:
        rows -= d * B
        total += 2.0 * rows * (2 * R * 2 * D + D * R)
    return total + 2.0 * T * B * (L * D * S + S * S + S * A)


def step_flops(cfg, T: int, B: int, recompute: bool = False) -> float:
    """A training step: the backward pass costs twice the forward; recomputing the gate
    activations adds each layer's dilated conv once more."""
    extra = 0.0
    if recompute:
        rows = (cfg.receptive_field + T - 2) * B
        for d in cfg.dilations:
            rows -= d * B
            extra += 2.0 * rows * 2 * cfg.residual_channels * 2 * cfg.dilation_channels
    return 3 * forward_flops(cfg, T, B) + extra


def scored_flops(cfg, n: int, chunk: int, positions: int | None) -> float:
    """The work of scoring a clip of n samples teacher-forced (Trainer.evaluate): ``positions``
    fixed positions in blocks of ``chunk``, or every position when None or n is shorter."""
    if positions is not None and positions < n:
        size = min(chunk, positions)
        return -(-positions // size) * forward_flops(cfg, size, 1)
    c = min(chunk, n)
    return -(-n // c) * forward_flops(cfg, c, 1)
