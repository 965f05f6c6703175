"""Audio I/O, resampling, silence trimming and the μ-law codec.

Every bad input raises :class:`AudioError` naming the file and the problem.
"""
from __future__ import annotations

import math
import os
import struct
import warnings
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import soundfile as sf

from .files import atomic_write
from .kernels import cpu_kernel
from .ops import mu_law as _mu_law_ref


class AudioError(ValueError):
    """Audio that cannot be used: missing, unreadable, empty, non-finite, silent or too short."""


class AudioWarning(UserWarning):
    """Audio that can be used but is not what its file says (e.g. a truncated WAV)."""


def _name(path) -> str:
    return os.fspath(path) if path is not None else "<array>"


def check_audio(audio, source=None, min_samples: int = 1) -> np.ndarray:
    """Validate a mono signal and return it as float32; raise AudioError naming ``source``."""
    a = np.asarray(audio)
    if a.ndim != 1:
        raise AudioError(f"{_name(source)}: expected mono audio (1-D), got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise AudioError(f"{_name(source)}: audio must be numeric, got dtype {a.dtype}")
    if a.size == 0:
        raise AudioError(f"{_name(source)}: audio has zero length")
    if not np.all(np.isfinite(a)):
        bad = int(np.count_nonzero(~np.isfinite(a)))
        raise AudioError(f"{_name(source)}: audio has {bad} non-finite sample(s) (NaN or Inf)")
    if a.size < min_samples:
        raise AudioError(f"{_name(source)}: audio is {a.size} samples long, "
                         f"shorter than the {min_samples} required")
    return a.astype(np.float32, copy=False)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly) to ``to_rate``; float32 out."""
    if from_rate <= 0 or to_rate <= 0:
        raise AudioError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    if from_rate == to_rate:
        return np.asarray(audio, dtype=np.float32)
    from scipy.signal import resample_poly  # scipy.signal takes 0.6 s to import: not at start
    frac = Fraction(int(to_rate), int(from_rate))
    y = resample_poly(np.asarray(audio, dtype=np.float64), frac.numerator, frac.denominator)
    return y.astype(np.float32)


def load(path, sample_rate: int, *, min_samples: int = 1) -> np.ndarray:
    """Read any file soundfile reads, mix to mono, resample to ``sample_rate``.

    Returns float32 in [-1, 1]. Raises AudioError for a missing, unreadable or
    corrupt file, zero-length or non-finite audio, or audio shorter than
    ``min_samples`` after resampling.
    """

    name = _name(path)
    if not os.path.exists(path):
        raise AudioError(f"{name}: no such file")
    if os.path.isdir(path):
        raise AudioError(f"{name}: is a directory, not an audio file")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AudioError(f"{name}: unreadable or corrupt audio file ({msg})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{name}: audio has zero length")
    declared = wav_declared_frames(path)
    if declared is not None and declared > data.shape[0]:
        warnings.warn(AudioWarning(
            f"{name}: truncated: its header says {declared} frames ({declared / rate:.3f} s), the "
            f"file holds {data.shape[0]} ({data.shape[0] / rate:.3f} s); using those"),
            stacklevel=2)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    check_audio(mono, name)
    mono = resample(mono, rate, sample_rate)
    mono = np.clip(mono, -1.0, 1.0)
    return check_audio(mono, name, min_samples=min_samples)


def wav_declared_frames(path) -> int | None:
    """The frame count a RIFF/WAVE file's header declares (its data chunk's size over the
    block size), or None for other formats and streamed headers (size 0 or 0xFFFFFFFF).
    libsndfile reads the frames present and says nothing when the file is shorter."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block = None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = f.read(size)
                    if len(fmt) < 14:
                        return None
                    block = struct.unpack("<H", fmt[12:14])[0]
                    if size % 2:
                        f.seek(1, 1)
                elif cid == b"data":
                    if not block or size in (0, 0xFFFFFFFF):
                        return None
                    return size // block
                else:
                    f.seek(size + size % 2, 1)
    except OSError:
        return None


def save(path, audio, sample_rate: int) -> None:
    """Write mono audio as 16-bit PCM WAV, atomically (temporary file then rename)."""

    a = check_audio(audio, path)
    if sample_rate <= 0:
        raise AudioError(f"{_name(path)}: sample rate must be positive, got {sample_rate}")
    atomic_write(path, lambda f: sf.write(f, np.clip(a, -1.0, 1.0), int(sample_rate),
                                          subtype="PCM_16", format="WAV"))


@dataclass(frozen=True)
class TrimReport:
    """How much :func:`trim_silence` cut, in samples and seconds."""
    start: int          # first kept sample
    stop: int           # one past the last kept sample
    length: int         # original length
    sample_rate: int

    @property
    def cut_start(self) -> int:
        return self.start

    @property
    def cut_end(self) -> int:
        return self.length - self.stop

    def __str__(self) -> str:
        sr = self.sample_rate
        return (f"trimmed {self.cut_start / sr:.3f} s from the start and "
                f"{self.cut_end / sr:.3f} s from the end "
                f"({self.cut_start + self.cut_end} of {self.length} samples)")


def trim_silence(audio, sample_rate: int, *, threshold_db: float = -50.0,
                 frame: int | None = None, source=None) -> tuple[np.ndarray, TrimReport]:
    """Cut leading and trailing frames whose RMS is below ``threshold_db`` (re full scale).

    Returns ``(trimmed, report)``. Raises AudioError if nothing is left.
    """
    a = check_audio(audio, source)
    frame = frame or max(1, sample_rate // 100)          # 10 ms frames
    n = (a.size + frame - 1) // frame
    padded = np.zeros(n * frame, dtype=np.float64)
    padded[: a.size] = a
    rms = np.sqrt(np.mean(padded.reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms > 10.0 ** (threshold_db / 20.0))
    if loud.size == 0:
        raise AudioError(f"{_name(source)}: audio is silent (below {threshold_db} dBFS) "
                         "after trimming")
    start, stop = int(loud[0] * frame), int(min(a.size, (loud[-1] + 1) * frame))
    return a[start:stop].copy(), TrimReport(start, stop, a.size, sample_rate)


def mu_law_encode(audio, classes: int = 256, mu: float = 255.0) -> np.ndarray:
    """Map [-1, 1] audio to integer classes 0..classes-1 through the μ-law curve.

    ``y = sign(x) ln(1 + μ|x|) / ln(1 + μ)``, then ``round((y + 1) / 2 · (classes - 1))``.
    Values outside [-1, 1] are clipped. Compiled kernel: ``wavecore.engine._cpu.mu_law``.
    """
    x = np.asarray(audio)
    if not np.all(np.isfinite(x)):
        raise AudioError("mu_law_encode: audio has non-finite samples (NaN or Inf)")
    kernel = cpu_kernel("mu_law")
    if kernel is None or x.dtype not in (np.float32, np.float64):
        return _mu_law_ref.mu_law_encode(x, classes, mu)
    return kernel.mu_law_encode(np.ascontiguousarray(x).reshape(-1), classes, mu).reshape(x.shape)


def mu_law_decode(classes_arr, classes: int = 256, mu: float = 255.0) -> np.ndarray:
    """Inverse of :func:`mu_law_encode`: class indices to float32 audio in [-1, 1]."""
    c = np.asarray(classes_arr)
    if c.size and (c.min() < 0 or c.max() >= classes):
        raise ValueError(f"mu_law_decode: classes must lie in [0, {classes}), "
                         f"got range [{c.min()}, {c.max()}]")
    kernel = cpu_kernel("mu_law")
    if kernel is None:
        return _mu_law_ref.mu_law_decode(c, classes, mu)
    flat = np.ascontiguousarray(c, dtype=np.int64).reshape(-1)
    return kernel.mu_law_decode(flat, classes, mu).reshape(c.shape)


def silence_class(classes: int = 256, mu: float = 255.0) -> int:
    """The μ-law class of 0.0: what the samplers and the trainer read before a clip starts."""
    return int(mu_law_encode(np.zeros(1), classes, mu)[0])


def mu_law_error_bound(x, classes: int = 256, mu: float = 255.0) -> np.ndarray:
    """Largest |x - decode(encode(x))| the μ-law curve allows at amplitude ``x``.

    Quantisation moves y by at most Δ = 1/(classes-1); since |x| = ((1+μ)^|y| - 1)/μ,
    the error is at most (1 + μ|x|)((1+μ)^Δ - 1)/μ.
    """
    delta = 1.0 / (classes - 1)
    return ((1.0 + mu * np.abs(np.asarray(x, dtype=np.float64)))
            * math.expm1(delta * math.log1p(mu)) / mu)
