"""Constructed renders of the built-in songs (8 kHz), each with the answer a measure must give:
the cases tests/test_runs.py judges with wavecore's verdict and tests/test_second_opinion.py
with a library's cross-recurrence. Every one is seeded, so both see the same audio."""
import numpy as np

SR = 8000
PIECE = SR // 4


def verbatim(song):
    """3 s of the song from 0.1 s on, 37 samples off the frame grid: a copy."""
    start = 800 + 37
    return song[start:start + 3 * SR], start


def loop_of(song):
    """(the song's first second played four times, a copy of 3 s of it from 0.3 s on)."""
    loop = np.tile(song[:SR], 4)
    start = int(0.3 * SR) + 13
    return loop, loop[start:start + 3 * SR]


def shuffle(song, seed=0):
    """Its first sixteen 0.25 s pieces in a shuffled order (4 s): pieces, no copy."""
    pieces = song[:16 * PIECE].reshape(16, PIECE)
    return pieces[np.random.default_rng(seed).permutation(16)].ravel()


def splice(a, b, seed=1):
    """Eight 0.25 s pieces of each of two songs, alternating (4 s)."""
    rng = np.random.default_rng(seed)
    pa = a[:16 * PIECE].reshape(16, PIECE)[rng.permutation(16)[:8]]
    pb = b[:16 * PIECE].reshape(16, PIECE)[rng.permutation(16)[:8]]
    return np.stack([pa, pb], axis=1).reshape(-1)


def white_noise(seed=2):
    return (0.1 * np.random.default_rng(seed).standard_normal(3 * SR)).astype(np.float32)


def shaped_noise(song, seed=3):
    """3 s of stationary noise with the spectrum and level of the song's quietest (non-silent)
    0.25 s."""
    starts = range(0, len(song) - PIECE, PIECE // 4)
    rms = np.array([np.sqrt(np.mean(song[s:s + PIECE] ** 2)) for s in starts])
    s0 = list(starts)[int(np.argmin(np.where(rms > 1e-3, rms, np.inf)))]
    quiet = song[s0:s0 + PIECE]
    n = 3 * SR
    spec = np.abs(np.fft.rfft(quiet * np.hanning(PIECE), n))
    x = np.fft.irfft(np.fft.rfft(np.random.default_rng(seed).standard_normal(n)) * spec, n)
    x *= np.sqrt(np.mean(quiet ** 2)) / np.sqrt(np.mean(x ** 2))
    return x.astype(np.float32)


def partial_copy(song, seed=4):
    """4 s of quiet noise with 1.5 s of the song (from 0.625 s on) verbatim at 1 s: a copy in
    part, shorter than half the render."""
    x = (0.05 * np.random.default_rng(seed).standard_normal(4 * SR)).astype(np.float32)
    x[SR:SR + int(1.5 * SR)] = song[5000:5000 + int(1.5 * SR)]
    return x
