"""Input corruption during training: the network reads corrupted inputs and predicts the
clean targets, so that it learns to return to the data after a wrong sample (exposure bias).

Two kinds, which may be combined; each applies to the input positions of a window only
(``x[:-1]``, what the network reads), never to the targets:

- **jitter** (``p``, ``codes``): each input sample, with probability p, moves by 1 to
  ``codes`` μ-law codes, up or down with equal chance (the other way where that would leave the code
  range), so a chosen sample always changes;
- **waveform noise** (``snr_db``): Gaussian noise at that signal-to-noise ratio, relative to
  each window's RMS, added to the decoded waveform, which is then encoded again.

The draws come from a generator seeded by (the run's seed, the step), so a run and its resume
corrupt the same windows the same way, and the window draws do not depend on the corruption.
"""
from __future__ import annotations

import numpy as np

from ..engine import audio as _audio


def generator(seed: int, step: int) -> np.random.Generator:
    """The corruption draws of one step."""
    return np.random.default_rng([seed, 0x1A7E, step])


def jitter(x: np.ndarray, p: float, codes: int, classes: int, rng) -> np.ndarray:
    """x: (M, B) classes -> a copy with each sample moved, with probability p, by ±1..codes."""
    out = x.copy()
    hit = rng.random(x.shape) < p
    k = int(hit.sum())
    if not k:
        return out
    step = rng.integers(1, codes + 1, k) * rng.choice((-1, 1), k)
    v = out[hit] + step
    v = np.where((v < 0) | (v >= classes), v - 2 * step, v)   # past an end: the other way
    out[hit] = v
    return out


def waveform_noise(x: np.ndarray, snr_db: float, classes: int, rng) -> np.ndarray:
    """x: (M, B) classes -> the same decoded, with noise at snr_db below each window's RMS."""
    a = _audio.mu_law_decode(x, classes).astype(np.float64)             # a: (M, B)
    rms = np.sqrt(np.mean(a * a, axis=0, keepdims=True)) + 1e-12
    a = a + rng.standard_normal(a.shape) * rms * 10.0 ** (-snr_db / 20.0)
    return _audio.mu_law_encode(np.clip(a, -1.0, 1.0), classes).astype(x.dtype)


def corrupt(x: np.ndarray, receptive_field: int, classes: int, rng, *, p: float = 0.0,
            codes: int = 3, snr_db: float = 0.0):
    """x: (N, B) windows -> (inputs: (N, B) with x[:-1] corrupted, targets: (T, B) = x[RF:]
    untouched); snr_db = 0: no waveform noise."""
    y = x[receptive_field:].copy()                          # y: (T, B) clean targets
    inputs = x[:-1]
    if snr_db:
        inputs = waveform_noise(inputs, snr_db, classes, rng)
    if p:
        inputs = jitter(inputs, p, codes, classes, rng)
    return np.concatenate([inputs, x[-1:]]), y
