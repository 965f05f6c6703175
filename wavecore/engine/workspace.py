"""The buffers of one compiled training step (wavecore/engine/_cpu/model.pyx), named and sized
here once: the kernel allocates them from this table, and the plan (wavecore.study.plan) prices
a step from it without allocating anything.

A step over windows of N samples x B streams keeps every layer's input ``h`` (what the backward
pass reads) and every layer's gate output at the T loss rows ``Z`` (the skip GEMM's input; the
backward pass overwrites it with its gradient). Keeping everything also keeps each layer's
``[tanh f; sigmoid g]`` (``ts``); with ``recompute`` one layer's worth is kept, and the backward
pass recomputes it from ``h`` (one more dilated conv and gate per layer). The output head runs in
chunks of HEAD_ROWS rows per thread, so its buffers do not grow with the window.
"""
from __future__ import annotations

import os

import numpy as np

HEAD_ROWS = 128          # output-head rows per thread per chunk


def step_buffers(cfg, N: int, B: int, threads: int, size: int, recompute: bool) -> dict:
    """{name: element count} of every buffer; ``size`` 1 means forward only (no gradients)."""
    R, D, S, A = cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels, cfg.classes
    L, T = cfg.n_layers, N - cfg.receptive_field
    rows = (N - 2) * B                                    # input conv rows = layer 0's input
    n_in, nh, nts = [], 0, 0
    for d in cfg.dilations:
        n_in.append(rows)
        nh += rows * R
        nts += (rows - d * B) * 2 * D
        rows -= d * B
    keep_ts = size > 1 and not recompute
    mx, hc = (N - 2) * B, HEAD_ROWS * threads
    return {
        "h": nh,                                          # layer inputs: (n_in_l, R) each
        "ts": nts if keep_ts else (n_in[0] - cfg.dilations[0] * B) * 2 * D,   # (n_l, 2D)
        "z": mx * D, "dz": mx * D,                        # one layer's gate output: (n_l, D)
        "dh": 2 * mx * R,                                 # ping-pong layer-input gradients
        "Z": T * B * L * D,                               # (TB, L*D), then its gradient
        "y": hc * S, "o": hc * S, "da": hc * S, "dy": hc * S,   # head chunks: (threads, HC, S)
        "logits": hc * A,                                 # (threads, HC, A)
        "nll": T * B,
        "ones": mx // threads + 1,
        "gpart": threads * size,                          # per-thread weight gradients
        "gcb": L * B * 2 * D if cfg.gc_ids else 1,        # conditioning bias: (L, B, 2D)
        "gcd": threads * L * B * 2 * D if cfg.gc_ids else 1,  # its per-thread gradients
    }


def step_bytes(cfg, N: int, B: int, dtype, threads: int, size: int, recompute: bool) -> int:
    """Bytes of the buffers of ``step_buffers`` (the step's peak, but for small tables)."""
    return (sum(step_buffers(cfg, N, B, threads, size, recompute).values())
            * np.dtype(dtype).itemsize)


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (MemAvailable on Linux; else the
    physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 34
