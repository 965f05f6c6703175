"""NumPy reference of the μ-law codec (the compiled kernel is wavecore/engine/_cpu/mu_law.pyx)."""
import numpy as np


def mu_law_encode(audio, classes: int = 256, mu: float = 255.0) -> np.ndarray:
    """[-1, 1] audio -> int64 classes in [0, classes); float64 arithmetic, NaN -> error."""
    x = np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.floor((y + 1.0) * 0.5 * (classes - 1) + 0.5).astype(np.int64)


def mu_law_decode(c, classes: int = 256, mu: float = 255.0) -> np.ndarray:
    """int classes -> float32 audio in [-1, 1]."""
    y = 2.0 * np.asarray(c, dtype=np.float64) / (classes - 1) - 1.0
    x = np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu
    return x.astype(np.float32)
