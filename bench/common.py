"""Shared setup for the benchmarks: the reference config, its training window, a clock, the
machine, and their JSON written whole."""
import json
import os
import statistics
import time

import numpy as np

from wavecore import WaveNetConfig
from wavecore.engine.files import atomic_write

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
        from wavecore.engine.flops import step_flops
    except ImportError:                       # before wavecore.engine.flops: the plan counted them
        from wavecore.study.plan import step_flops
    return step_flops(cfg, T, B)


SIZES = {"S": (16, 64), "M": (32, 128), "L": (48, 192)}     # R = D, S
DILATIONS = {"64ms": "2x[1, 2, ..., 128]", "260ms": "[1, 2, ..., 1024] + [1, 2, 4, 8, 16]",
             "0.5s": "[1, 2, ..., 2048] + [1, 2, 4, 8]",
             "1s": "[1, 2, ..., 4096] + [1, 2, 4]"}       # 16 layers each: equal parameters


DILATIONS_16K = {"64ms": "2x[1, 2, ..., 256]", "260ms": "[1, 2, ..., 2048] + [1, 2, ..., 32]"}
                                       # the same seconds at 16 kHz: 18 layers, not 16


def grid_config(size: str, rf: str, sample_rate: int = 8000) -> WaveNetConfig:
    """The study benches' model: SIZES[size] channels, DILATIONS[rf] at 8 kHz or
    DILATIONS_16K[rf] at 16 kHz (the same receptive field in seconds)."""
    R, S = SIZES[size]
    dilations = (DILATIONS if sample_rate == 8000 else DILATIONS_16K)[rf]
    return WaveNetConfig(dilations_override=dilations, residual_channels=R,
                         dilation_channels=R, skip_channels=S, sample_rate=sample_rate)


def machine() -> str:
    """This machine in one line, for every benchmark's output: the processor's model name and
    cores, its bf16 instructions, and the bf16 path wavecore runs here."""
    name, flags = "unknown processor", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name == "unknown processor":
                    name = value.strip()
                if key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    have = [f for f in ("avx512_bf16", "amx_bf16") if f in flags] or ["no bf16 instructions"]
    from wavecore.engine import precision
    return (f"{name}, {os.cpu_count()} cores ({', '.join(have)}); wavecore bf16 path: "
            f"{precision.bf16_path() or 'none'}")


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


def save_json(path, data) -> None:
    """``data`` as JSON at ``path``, written whole or not at all (a run cut short keeps the last
    whole file to go on from)."""
    atomic_write(path, lambda f: json.dump(data, f, indent=1), "w")
