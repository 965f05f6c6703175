"""Shared setup for the benchmarks: the reference config, its training window, a clock."""
import statistics
import time

import numpy as np

from wavecore import WaveNetConfig

T_REF = 16000          # loss-bearing positions per training window


def reference_config(channels: int = 32) -> WaveNetConfig:
    """2 stacks x 10 layers (dilations 1..512), R = D = channels, S = 256, 256 classes."""
    return WaveNetConfig(layers=10, stacks=2, residual_channels=channels,
                         dilation_channels=channels, skip_channels=256, classes=256)


def window(cfg, T=T_REF, B=1, seed=0):
    """x: (RF + T, B) random classes: one window whose loss covers T positions."""
    return np.random.default_rng(seed).integers(0, cfg.classes, size=(cfg.receptive_field + T, B))


def train_flops(cfg, T=T_REF, B=1) -> float:
    """GEMM FLOPs of one training step (forward + backward = 3x forward GEMMs)."""
    R, D, S, A, L = (cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels,
                     cfg.classes, cfg.n_layers)
    rows, fwd = (cfg.receptive_field - 2 + T) * B, 0.0
    for l, d in enumerate(cfg.dilations):
        rows -= d * B
        fwd += 2 * rows * (2 * R) * (2 * D)                 # dilated conv
        if l < L - 1:
            fwd += 2 * rows * D * R                         # residual 1x1
    fwd += 2 * T * B * (L * D * S + S * S + S * A)          # skip GEMM, output head
    return 3 * fwd


def median_time(fn, repeat=3, warmup=0):
    """Median wall time of ``fn()`` over ``repeat`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
