"""Numbers the study reports: continual-learning measures over the stage x clip matrices,
and how close a render stays to its original.

Matrices have one row per stage and one column per clip, in the order the clips are added:
row 0 is the untrained network (the baseline b), row i (1..K) is after stage i, which
trained on clips 1..i. R[i, j] is a score where higher is better (accuracy).

- average accuracy after stage i:  ACC_i = mean_{j <= i} R[i, j]
- forgetting of clip j after stage k > j (Chaudhry et al. 2018, "Riemannian Walk"):
  f_j^k = max_{l in j..k-1} R[l, j] - R[k, j]   (how far below its best it has fallen);
  average forgetting F_k = mean_{j < k} f_j^k
- backward transfer (Lopez-Paz & Ranzato 2017, "GEM"):
  BWT = mean_{j < K} (R[K, j] - R[j, j])   (< 0: later stages made clip j worse)
- forward transfer (same paper): FWT = mean_{j >= 2} (R[j-1, j] - b_j)
  (> 0: what was learned before helps on clip j before it is trained on)
For bits per sample (lower is better) the same formulas run on -bits, so positive
forgetting always means "got worse"; the bits versions are reported in bits.
"""
from __future__ import annotations

import numpy as np


def continual_measures(R: np.ndarray) -> dict:
    """R: (K+1, K), row 0 the baseline, higher is better. Returns plain floats and lists."""
    R = np.asarray(R, dtype=np.float64)
    K = R.shape[1]
    if R.shape != (K + 1, K):
        raise ValueError(f"expected a (K+1, K) matrix, got {R.shape}")
    acc = [float(R[i, :i].mean()) for i in range(1, K + 1)]
    forgetting = [[None] * K for _ in range(K + 1)]          # [stage][clip]
    avg_forgetting = [None] * (K + 1)
    for k in range(2, K + 1):
        fs = []
        for j in range(1, k):                                 # clip j (1-based) seen at stage j
            f = float(R[j:k, j - 1].max() - R[k, j - 1])
            forgetting[k][j - 1] = f
            fs.append(f)
        avg_forgetting[k] = float(np.mean(fs))
    bwt = float(np.mean([R[K, j - 1] - R[j, j - 1] for j in range(1, K)])) if K > 1 else None
    fwt = float(np.mean([R[j - 1, j - 1] - R[0, j - 1] for j in range(2, K + 1)])) if K > 1 else None
    return {"average": acc, "forgetting": forgetting, "average_forgetting": avg_forgetting,
            "bwt": bwt, "fwt": fwt}


def stft_db(x: np.ndarray, n_fft: int = 256, hop: int = 128) -> np.ndarray:
    """Power spectrogram in dB, (frames, n_fft // 2 + 1), Hann window."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    return 10 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-10)


def closeness(render: np.ndarray, original: np.ndarray, sample_rate: int, *, n_fft: int = 256,
              hop: int = 128, follow_db: float = 12.0, smooth: int = 4) -> dict:
    """How close a render stays to the original it continues (both start at the same time).

    lsd_db: log-spectral distance, the mean over frames of the RMS over frequency of the
    difference of the two dB spectra (0 = identical spectra);
    follow_s: how long the render follows the original: the time until the LSD, averaged
    over ``smooth`` frames, first exceeds ``follow_db`` (the whole length if never);
    lsd_frames: the per-frame LSD.
    """
    n = min(len(render), len(original))
    a, b = stft_db(render[:n], n_fft, hop), stft_db(original[:n], n_fft, hop)
    per = np.sqrt(np.mean((a - b) ** 2, axis=1))
    avg = np.convolve(per, np.ones(smooth) / smooth, mode="valid") if len(per) >= smooth else per
    over = np.flatnonzero(avg > follow_db)
    follow = (over[0] * hop if over.size else n) / sample_rate
    return {"lsd_db": float(per.mean()), "follow_s": float(follow), "lsd_frames": per}
