"""Built-in clips, synthesised deterministically in NumPy (no downloads), in the spirit of the
material the study was first run on: a breakbeat, a bass line, vinyl-scratch shrieks, a
formant-synthesised chant of "don't", and a mix of them. ``get(name)`` returns float32
mono audio in [-1, 1] at ``sample_rate``; the same call always gives the same samples.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

BPM = 120.0


def _env(n, sr, attack, decay):
    t = np.arange(n) / sr
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)


def _place(out, sound, at):
    end = min(len(out), at + len(sound))
    if at < len(out):
        out[at:end] += sound[: end - at]


def kick(sr, rng):
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    f = 45 + 90 * np.exp(-t / 0.03)                       # pitch sweep down
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * _env(n, sr, 0.001, 0.09)


def snare(sr, rng):
    n = int(0.2 * sr)
    noise = lfilter([1, -0.7], [1], rng.standard_normal(n))   # brightened noise
    tone = np.sin(2 * np.pi * 185 * np.arange(n) / sr)
    return (0.45 * noise * _env(n, sr, 0.001, 0.05) + 0.6 * tone * _env(n, sr, 0.001, 0.04))


def hat(sr, rng):
    n = int(0.05 * sr)
    noise = lfilter([1, -1], [1], rng.standard_normal(n))     # high-passed
    return 0.25 * noise * _env(n, sr, 0.0005, 0.012)


def breakbeat(sr=8000, seconds=2.0, seed=1):
    """A syncopated kick / snare / hi-hat loop (the 'funky drummer' shape), 16th-note grid."""
    rng = np.random.default_rng(seed)
    step = int(round(sr * 60 / BPM / 4))
    sounds = {"k": kick(sr, rng), "s": snare(sr, rng), "h": hat(sr, rng)}
    pattern = ["kh", "h", "kh", "h", "sh", "h", "h", "kh", "h", "kh", "kh", "h", "sh", "h", "h", "sh"]
    out = np.zeros(int(sr * seconds))
    for i in range(len(out) // step + 1):
        for c in pattern[i % 16]:
            _place(out, sounds[c], i * step)
    return out


def bassline(sr=8000, seconds=2.0, seed=2):
    """A filtered square-wave bass riff in E minor, eighth notes."""
    notes = [41.2, 41.2, 49.0, 41.2, 55.0, 49.0, 36.7, 41.2]  # E1 E1 G1 E1 A1 G1 D1 E1
    step = int(round(sr * 60 / BPM / 2))
    out = np.zeros(int(sr * seconds))
    for i in range(len(out) // step + 1):
        f = notes[i % len(notes)] * 2
        t = np.arange(step) / sr
        saw = 2 * ((f * t) % 1.0) - 1
        sq = np.sign(np.sin(2 * np.pi * f * t)) * 0.5 + 0.5 * saw
        sq = lfilter([0.15], [1, -0.85], sq)                  # one-pole low-pass
        _place(out, 1.6 * sq * _env(step, sr, 0.005, 0.2), i * step)
    return out


def shriek(sr=8000, seconds=2.0, seed=3):
    """Vinyl-scratch shrieks: a horn-like tone read back and forth at a swinging speed."""
    rng = np.random.default_rng(seed)
    src_t = np.arange(int(sr * 1.0)) / sr
    src = (np.sin(2 * np.pi * 420 * src_t) + 0.5 * np.sin(2 * np.pi * 840 * src_t)
           + 0.3 * np.sin(2 * np.pi * 1290 * src_t))
    src *= 1 + 0.3 * np.sin(2 * np.pi * 7 * src_t)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    beat = 60 / BPM
    phase = (t % beat) / beat                                 # one scratch per beat
    speed = 2.2 * np.sin(2 * np.pi * phase) * (phase < 0.75)  # forward, back, pause
    pos = np.cumsum(speed) / sr * 0.35 + 0.3
    idx = np.clip((pos * sr).astype(int), 0, len(src) - 1)
    gate = np.abs(speed) > 0.15
    out = src[idx] * gate * np.minimum(1, np.abs(speed))
    out += 0.02 * rng.standard_normal(n) * gate                # needle hiss
    return lfilter([1, -0.5], [1], out) * 0.6


def _formant_filter(x, sr, formants):
    y = np.zeros_like(x)
    for f, bw, g in formants:
        r = np.exp(-np.pi * bw / sr)
        a = [1, -2 * r * np.cos(2 * np.pi * f / sr), r * r]
        y += g * lfilter([1 - r], a, x)
    return y


def chant(sr=8000, seconds=2.0, seed=4):
    """A shouted 'don't!' on every beat: a glottal pulse train through formant resonators
    (d: burst, o: F1 500 / F2 900 Hz gliding to u, n: nasal murmur, t: burst)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(sr * seconds))
    beat = int(round(sr * 60 / BPM))
    n = int(0.32 * sr)
    for i in range(len(out) // beat + 1):
        t = np.arange(n) / sr
        f0 = 150 - 40 * t / t[-1]                             # falling pitch, shouted
        pulses = np.diff(np.floor(np.cumsum(f0) / sr), prepend=0.0)
        pulses = lfilter([1], [1, -0.95], pulses)             # glottal roll-off
        vowel = np.zeros(n)
        a, b = int(0.02 * sr), int(0.22 * sr)
        seg = pulses[a:b]
        glide = np.linspace(0, 1, len(seg))
        o = (_formant_filter(seg * (1 - glide), sr, [(500, 80, 1.0), (900, 90, 0.6), (2400, 150, 0.15)])
             + _formant_filter(seg * glide, sr, [(350, 80, 1.0), (700, 90, 0.5), (2300, 150, 0.1)]))
        vowel[a:b] = o * np.hanning(len(o)) ** 0.3
        c = int(0.27 * sr)
        vowel[b:c] = _formant_filter(pulses[b:c], sr, [(250, 60, 0.8), (1200, 200, 0.1)]) * 0.5
        burst = rng.standard_normal(int(0.015 * sr)) * 0.5
        vowel[: len(burst)] += burst * _env(len(burst), sr, 0.0005, 0.004)
        tb = rng.standard_normal(int(0.03 * sr)) * 0.4
        _place(vowel, lfilter([1, -0.9], [1], tb) * _env(len(tb), sr, 0.001, 0.008), c + 80)
        _place(out, vowel, i * beat)
    return out


def hype(sr=8000, seconds=2.0, seed=5):
    """The mix: breakbeat + chant + shrieks + bass."""
    return (0.45 * breakbeat(sr, seconds) + 0.6 * chant(sr, seconds)
            + 0.35 * shriek(sr, seconds) + 0.35 * bassline(sr, seconds))


CLIPS = {"breakbeat": breakbeat, "bassline": bassline, "shriek": shriek, "chant": chant,
         "hype": hype}
DEMO = ("hype", "breakbeat", "shriek")        # the demo study's order: the song first


def names() -> list[str]:
    return list(CLIPS)


def get(name: str, sample_rate: int = 8000, seconds: float = 2.0) -> np.ndarray:
    """A built-in clip as float32 in [-1, 1], peak-normalised to 0.9."""
    if name not in CLIPS:
        raise ValueError(f"unknown built-in clip {name!r}; built-in clips: {', '.join(CLIPS)}")
    x = CLIPS[name](sample_rate, seconds)
    return (0.9 * x / (np.abs(x).max() + 1e-12)).astype(np.float32)
