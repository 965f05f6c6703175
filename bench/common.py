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
    """FLOPs of one training step (forward + backward = 3x forward; wavecore counts them)."""
    try:
        from wavecore.flops import step_flops
    except ImportError:                       # before wavecore.flops: the plan counted them
        from wavecore.plan import step_flops
    return step_flops(cfg, T, B)


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
