"""Numbers the study reports: continual-learning measures over the stage x clip matrices,
how close a render stays to its original (``closeness``), and where a render's sound comes from
(``resemblance``: shares of clips, silence, noise and novel sound, and which moments of each
clip are drawn on; defined at ``Sources`` and ``resemblance`` below).

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

from ..engine.audio import mu_law_decode


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
    fwt = (float(np.mean([R[j - 1, j - 1] - R[0, j - 1] for j in range(2, K + 1)]))
           if K > 1 else None)
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


# -- resemblance: where a render's sound comes from ------------------------------------------

SILENCE_DBFS = -60.0       # a frame quieter than this (RMS, dB re full scale) is silence
NOISE_STEP_DB = 2.0        # noise reference levels every 2 dB, from silence gate to loudest frame
NOISE_FRAMES = 24          # reference frames per noise level
FINE = 4                   # clip frames per hop, following a render (a copy lies within 1/8 hop)
COLLAPSE_DB = 20.0         # a render this far under its clip's level has collapsed toward silence
COLLAPSE_NOISE = 0.8       # ... as has one with this share of its frames nearest noise


def level_db(x: np.ndarray) -> float:
    """A signal's RMS level in dB re full scale (-120 for silence)."""
    x = np.asarray(x, np.float64)
    return float(10 * np.log10(np.mean(x ** 2) + 1e-12)) if x.size else -120.0


def collapse(shares: dict, level: float, clip_level: float) -> str | None:
    """Why a render has collapsed, in a phrase, or None: its level (``level_db``) more than
    ``COLLAPSE_DB`` under its clip's, or at least ``COLLAPSE_NOISE`` of its frames nearest
    noise (``resemblance``'s shares)."""
    if clip_level - level > COLLAPSE_DB:
        return f"its level is {clip_level - level:.0f} dB under its clip's"
    if shares.get("noise", 0.0) >= COLLAPSE_NOISE:
        return f"{100 * shares['noise']:.0f} % of its frames are noise"
    return None


def mel_filters(sample_rate: int, n_fft: int, bands: int = 64) -> np.ndarray:
    """(bands, n_fft // 2 + 1) triangular filters, peak 1, centres evenly spaced on the HTK mel
    scale m = 2595 log10(1 + f / 700) from 0 Hz to the Nyquist frequency. A band too narrow to
    hold an FFT bin takes the bin nearest its centre (so no band is empty)."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)
    edges = hz(np.linspace(0.0, mel(sample_rate / 2), bands + 2))          # (bands + 2,)
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    W = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    for b in np.flatnonzero(W.sum(axis=1) == 0):
        W[b, np.argmin(np.abs(freqs - edges[b + 1]))] = 1.0
    return W


def log_mel(x: np.ndarray, sample_rate: int, bands: int = 64, window_s: float = 0.032,
            hop_s: float = 0.016) -> tuple[np.ndarray, np.ndarray]:
    """(frames, bands) log-mel spectrum in dB and (frames,) frame RMS in dBFS.

    Frames of round(window_s * sr) samples every round(hop_s * sr), Hann window, zero-padded to
    the power of two at least twice the window; bin powers normalised so that they sum to the
    windowed frame's mean square (Parseval); band power through ``mel_filters`` (overlapping
    triangles that sum to 1, so a sine's power lands in the one or two bands around it);
    10 log10(power + 1e-10), so the floor is -100 dB. A clip shorter than one frame is padded
    with zeros to one frame."""
    x = np.asarray(x, dtype=np.float64)
    win = max(8, int(round(window_s * sample_rate)))
    hop = max(1, int(round(hop_s * sample_rate)))
    n_fft = 1 << int(np.ceil(np.log2(2 * win)))
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    w = np.hanning(win + 1)[:-1]                                  # periodic Hann
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop]     # (F, win)
    rms_db = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    P = 2 * np.abs(np.fft.rfft(frames * w, n_fft, axis=1)) ** 2 / (n_fft * (w ** 2).sum())
    return 10 * np.log10(P @ mel_filters(sample_rate, n_fft, bands).T + 1e-10), rms_db


def _average_spectrum(x: np.ndarray, n: int) -> np.ndarray:
    """(n // 2 + 1,) the average magnitude spectrum of x over frames of n samples (a shorter x
    is zero-padded), normalised to mean 1."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < n:
        x = np.pad(x, (0, n - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::max(1, n // 2)]
    mag = np.sqrt(np.mean(np.abs(np.fft.rfft(frames * np.hanning(n), axis=1)) ** 2, axis=0))
    return mag / (mag.mean() + 1e-20)


def _nearest(A: np.ndarray, B: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """For each row of A (n, d): (index of the nearest row of B (m, d), RMS distance)."""
    bb = (B ** 2).sum(axis=1)
    idx, dist = np.empty(len(A), np.int64), np.empty(len(A))
    for s in range(0, len(A), chunk):
        a = A[s:s + chunk]
        d2 = (a ** 2).sum(axis=1)[:, None] + bb[None, :] - 2 * a @ B.T    # (n, m)
        k = np.argmin(d2, axis=1)
        idx[s:s + chunk] = k
        dist[s:s + chunk] = np.sqrt(np.maximum(d2[np.arange(len(a)), k], 0) / A.shape[1])
    return idx, dist


class Sources:
    """The reference a render's frames are attributed to: every frame of every clip, white noise
    at the clips' levels, and silence. See ``resemblance`` for the rule.

    clips: [(name, audio)] at ``sample_rate``, as the model hears them (μ-law decoded).

    Reference sets
    - clip j: its log-mel frames (``log_mel``: 64 bands, 32 ms windows, 16 ms hop), except the
      silent ones (RMS below ``SILENCE_DBFS``), each with its time in the clip;
    - noise: stationary Gaussian noise, white and shaped like each clip's average magnitude
      spectrum (what a network that learned only a clip's spectrum plays), at RMS levels every
      ``NOISE_STEP_DB`` from the silence gate up to the loudest clip frame (so that quiet hiss,
      which a clip may never hold, is noise and not new sound), ``NOISE_FRAMES`` frames per
      level and shape, plus as many
      frames of uniformly random μ-law classes (what an untrained WaveNet plays); fixed seed;
    - silence: not a set but a gate: a frame with RMS below ``SILENCE_DBFS`` is silence.

    The novelty threshold ``tau`` (dB) is calibrated from the clips: for each non-silent clip
    frame, the distance to the nearest frame of any *other* source (another clip or the noise);
    tau is the median of these. A render frame farther than tau from everything is closer to
    nothing than the sources' frames typically are to one another: it is new sound.
    """

    def __init__(self, clips, sample_rate: int, classes: int = 256, bands: int = 64,
                 window_s: float = 0.032, hop_s: float = 0.016, seed: int = 0):
        self.names = [n for n, _ in clips]
        self.levels = {n: level_db(a) for n, a in clips}     # each clip's RMS, dBFS
        self.sample_rate, self.hop_s = sample_rate, hop_s
        self._frame = dict(sample_rate=sample_rate, bands=bands, window_s=window_s, hop_s=hop_s)
        feats, owner, times, levels = [], [], [], []
        self.frames = []                          # per clip: number of frames (silent ones too)
        # per clip: log-mel frames every hop / FINE (wavecore.analysis.verbatim)
        self.fine = []
        for j, (_, a) in enumerate(clips):
            F, lv = log_mel(a, **self._frame)
            keep = lv >= SILENCE_DBFS
            feats.append(F[keep])
            owner.append(np.full(keep.sum(), j))
            times.append(np.flatnonzero(keep) * hop_s)
            levels.append(lv[keep])
            self.frames.append(len(F))
            self.fine.append(log_mel(a, **{**self._frame, "hop_s": hop_s / FINE})[0])
        lv = np.concatenate(levels) if levels else np.zeros(0)
        if not len(lv):
            raise ValueError("resemblance: every frame of every clip is silent")
        rng = np.random.default_rng(seed)
        win = int(round(window_s * sample_rate))
        hop = max(1, int(round(hop_s * sample_rate)))
        n = win + hop * (NOISE_FRAMES - 1)
        shapes = [np.ones(n // 2 + 1)] + [_average_spectrum(a, n) for _, a in clips]
        noise = []
        for db in np.arange(SILENCE_DBFS, lv.max() + NOISE_STEP_DB, NOISE_STEP_DB):
            for shape in shapes:
                x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n)
                x *= 10 ** (db / 20) / (np.sqrt(np.mean(x ** 2)) + 1e-12)
                noise.append(log_mel(x, **self._frame)[0])
        noise.append(log_mel(mu_law_decode(rng.integers(0, classes, n), classes), **self._frame)[0])
        noise = np.concatenate(noise)
        K = len(clips)
        self.ref = np.concatenate(feats + [noise])                       # (frames, bands)
        self.owner = np.concatenate(owner + [np.full(len(noise), K + 1)])  # clip j, or K + 1: noise
        self.time = np.concatenate(times + [np.full(len(noise), -1.0)])
        # tau: each clip frame's distance to the nearest frame of another source
        d_other = []
        for j in range(K):
            mine = self.owner == j
            if mine.any():
                d_other.append(_nearest(self.ref[mine], self.ref[~mine])[1])
        self.tau = float(np.median(np.concatenate(d_other)))

    @property
    def seconds(self) -> dict:
        """{clip name: its length in seconds (to the frame)}."""
        return {n: f * self.hop_s for n, f in zip(self.names, self.frames)}

    @property
    def labels(self) -> list[str]:
        """The share names, in order: the clips, then silence, noise and novel."""
        return self.names + ["silence", "noise", "novel"]

    def attribute(self, x: np.ndarray) -> dict:
        """Frame by frame: see ``resemblance``."""
        F, lv = log_mel(x, **self._frame)
        K = len(self.names)
        k, d = _nearest(F, self.ref)
        src = self.owner[k].copy()
        at = self.time[k].copy()
        src[d > self.tau] = K + 2                                   # novel
        src[lv < SILENCE_DBFS] = K                                  # silence
        at[src >= K] = -1.0
        return {"source": src, "at": at, "distance": d}


def resemblance(x: np.ndarray, sources: Sources, moment_bin_s: float = 0.1) -> dict:
    """Where the sound of ``x`` (a render's continuation, at the sources' rate) comes from.

    Each log-mel frame of x (see ``Sources``) is attributed by one rule, in this order:
    1. silence, if its RMS is below ``SILENCE_DBFS`` (-60 dBFS);
    2. novel, if its RMS distance (dB, over the 64 bands) to the nearest reference frame (any
       clip's non-silent frames, the noise frames) exceeds ``sources.tau``;
    3. otherwise the source of that nearest frame: clip j, or noise.
    Returns
    - shares: {clip name..., "silence", "noise", "novel"}: fractions of the frames (sum 1);
    - moments: {clip name: counts of the frames taken from that clip, by the time in the clip
      of the nearest frame, in bins of ``moment_bin_s``}: which moments of the clip are drawn
      on (a kept chorus shows as peaks at its times);
    - frames, tau_db, median_distance_db; source (per frame: 0..K-1 clip j, K silence, K + 1
      noise, K + 2 novel) and at (the matched clip time in s, -1 for the others).
    """
    a = sources.attribute(x)
    src, at = a["source"], a["at"]
    K = len(sources.names)
    counts = np.bincount(src, minlength=K + 3)
    moments = {}
    for j, name in enumerate(sources.names):
        bins = int(np.ceil(sources.frames[j] * sources.hop_s / moment_bin_s)) or 1
        t = at[src == j]
        moments[name] = np.bincount(np.minimum((t / moment_bin_s).astype(np.int64), bins - 1),
                                    minlength=bins).tolist()
    return {"shares": dict(zip(sources.labels, (counts / max(1, len(src))).tolist())),
            "moments": moments, "moment_bin_s": moment_bin_s, "frames": int(len(src)),
            "tau_db": sources.tau, "median_distance_db": float(np.median(a["distance"])),
            "source": src.tolist(), "at": np.round(at, 3).tolist()}
