"""Built-in clips, synthesised deterministically in NumPy (no downloads), in the spirit of the
material the study was first run on: 2 s loops (a breakbeat, a bass line, vinyl-scratch
shrieks, a formant-synthesised chant of "don't", and a mix of them); three songs of two
bars each, a rapped verse ending in a scratch shriek, then a chorus phrase (the demo's clips,
``SONGS``); and the same three songs at full length in a song's form, 13-18 s each
(``FULL_SONGS``): an intro without kick, verses that vary and end in a shriek, a chorus motif
that repeats, a break without kick, so the kick enters twice; ``moments`` says which bar is
which, so what a network keeps can be traced to moments. ``get(name)`` returns float32 mono
audio in [-1, 1] at ``sample_rate``; the same call always gives the same samples.
"""
from __future__ import annotations

import numpy as np

BPM = 120.0


def lfilter(b, a, x):
    """scipy.signal.lfilter, imported when a clip is first made."""
    from scipy.signal import lfilter as run  # scipy.signal takes 0.6 s to import: not at start
    return run(b, a, x)


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
    pattern = ["kh", "h", "kh", "h", "sh", "h", "h", "kh",
               "h", "kh", "kh", "h", "sh", "h", "h", "sh"]
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
        o = (_formant_filter(seg * (1 - glide), sr,
                             [(500, 80, 1.0), (900, 90, 0.6), (2400, 150, 0.15)])
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


VOWELS = {"o": [(500, 80, 1.0), (900, 90, 0.6), (2400, 150, 0.15)],
          "u": [(350, 80, 1.0), (700, 90, 0.5), (2300, 150, 0.1)],
          "a": [(750, 90, 1.0), (1200, 100, 0.7), (2500, 150, 0.2)],
          "e": [(450, 70, 1.0), (1900, 120, 0.5), (2600, 150, 0.2)],
          "i": [(300, 60, 1.0), (2200, 120, 0.5), (3000, 150, 0.25)]}


def syllable(sr, seconds, f0, glide, start, end, rng, burst=True):
    """A voiced syllable: a glottal pulse train at pitch f0 falling by ``glide`` (ratio), through
    formants moving from vowel ``start`` to vowel ``end``, with a consonant burst before it."""
    n = max(16, int(seconds * sr))
    t = np.arange(n) / sr
    f = f0 * (1 - (1 - glide) * t / t[-1])
    pulses = lfilter([1], [1, -0.95], np.diff(np.floor(np.cumsum(f) / sr), prepend=0.0))
    g = np.linspace(0, 1, n)
    out = (_formant_filter(pulses * (1 - g), sr, VOWELS[start])
           + _formant_filter(pulses * g, sr, VOWELS[end])) * np.hanning(n) ** 0.3
    if burst:
        b = rng.standard_normal(int(0.012 * sr)) * 0.4
        out[:len(b)] += b * _env(len(b), sr, 0.0005, 0.004)
    return out


BARS = {"V": "verse", "C": "chorus", "i": "intro", "b": "break"}


def song(sr, seconds, seed, bpm, chorus, pattern, bass, scratch_hz, shriek_gain=0.5, form=None):
    """A song in bars of four beats over a drum pattern (16 sixteenths of k/s/h) and a bass riff
    (8 eighth notes, Hz). ``form`` names each bar (BARS), repeated to fill ``seconds``; by
    default verses and choruses alternate ("VC"):

    - V, a verse: rapped syllables (pitch, vowels, rhythm drawn anew in every verse from
      ``seed``), ending in a scratch shriek;
    - C, the chorus phrase, the same notes every time (the part a network meets most):
      ``chorus`` is [(vowel from, vowel to, f0, beats)];
    - i, an intro: hi-hats and bass, no kick, no voice;
    - b, a break: the chorus over hi-hats, snare and bass, no kick.

    So in a form such as "iVCVCbCC" the kick drum enters twice: after the intro and after the
    break (``moments`` gives each bar's time)."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    beat = 60 / bpm
    bar = 4 * beat
    form = form or "VC"
    out = np.zeros(n)
    drums = {"k": kick(sr, rng), "s": 0.7 * snare(sr, rng), "h": 0.4 * hat(sr, rng)}
    six = int(round(sr * beat / 4))
    for i in range(n // six + 1):
        kind = form[(i // 16) % len(form)]
        for c in pattern[i % 16]:
            if not (c == "k" and kind in "ib" or c == "s" and kind == "i"):
                _place(out, 0.5 * drums[c], i * six)
    eighth = int(round(sr * beat / 2))
    for i in range(n // eighth + 1):
        f = bass[i % len(bass)]
        t = np.arange(eighth) / sr
        sq = np.sign(np.sin(2 * np.pi * f * t)) * 0.5 + ((f * t) % 1.0) - 0.5
        _place(out, 0.45 * lfilter([0.15], [1, -0.85], sq) * _env(eighth, sr, 0.005, 0.2),
               i * eighth)
    voice = np.zeros(n)
    for b in range(int(np.ceil(seconds / bar))):
        at = int(b * bar * sr)
        kind = form[b % len(form)]
        if kind == "i":
            continue
        if kind == "V":                                        # a verse: rapped syllables
            pos = 0.0
            while pos < 3:
                dur = float(rng.choice([0.5, 0.5, 0.25, 0.75]))
                v1, v2 = rng.choice(list(VOWELS), 2)
                s = syllable(sr, 0.85 * dur * beat, rng.uniform(110, 170), rng.uniform(0.8, 1.0),
                             v1, v2, rng)
                _place(voice, 0.8 * s, at + int(pos * beat * sr))
                pos += dur
            m = int(beat * sr)                                 # the verse ends in a shriek
            t = np.arange(m) / sr
            speed = np.sin(2 * np.pi * 2 * t / t[-1])          # forward, back, forward, back
            ph = np.cumsum(scratch_hz * (1 + 0.8 * speed)) / sr
            sh = (np.sin(2 * np.pi * ph) + 0.4 * np.sin(4 * np.pi * ph)) * np.abs(speed) ** 0.5
            _place(voice, shriek_gain * lfilter([1, -0.5], [1], sh), at + int(3 * beat * sr))
        else:                                                  # the chorus, every time alike (C, b)
            pos = 0.0
            for v1, v2, f0, beats in chorus:
                s = syllable(sr, 0.9 * beats * beat, f0, 0.75, v1, v2, np.random.default_rng(7))
                _place(voice, 1.1 * s, at + int(pos * beat * sr))
                pos += beats
    return out + voice / (np.abs(voice).max() + 1e-12) * np.abs(out).max() * 1.6


def hype_song(sr=8000, seconds=4.36, seed=11, form=None):
    """Song 1: a breakbeat at 110 BPM, an E-minor bass riff, rapped verses and a chorus of a
    shouted "don't" (o gliding to u) four times."""
    return song(sr, seconds, seed, 110, [("o", "u", 190, 1)] * 4,
                ["kh", "h", "kh", "h", "sh", "h", "h", "kh",
                 "h", "kh", "kh", "h", "sh", "h", "h", "sh"],
                [82.4, 82.4, 98.0, 82.4, 110.0, 98.0, 73.4, 82.4], scratch_hz=900, form=form)


def truss_song(sr=8000, seconds=5.0, seed=12, form=None):
    """Song 2: slower (96 BPM), a straighter beat, a bass in A, and a chorus of two long
    syllables ("tru-ust") in a lower voice."""
    return song(sr, seconds, seed, 96, [("a", "u", 140, 2), ("u", "a", 120, 2)],
                ["kh", "h", "h", "h", "sh", "h", "kh", "h",
                 "kh", "h", "h", "h", "sh", "h", "h", "h"],
                [110.0, 110.0, 130.8, 110.0, 146.8, 130.8, 98.0, 110.0], scratch_hz=1300, form=form)


def noise_song(sr=8000, seconds=3.81, seed=13, form=None):
    """Song 3: fast (126 BPM), busy hi-hats, a high "ee-ee-ee" chorus and loud shrieks."""
    return song(sr, seconds, seed, 126, [("i", "e", 260, 0.5)] * 8,
                ["kh", "h", "h", "kh", "sh", "h", "kh", "h",
                 "h", "kh", "kh", "h", "sh", "h", "kh", "sh"],
                [73.4, 87.3, 73.4, 98.0, 73.4, 87.3, 65.4, 73.4], scratch_hz=1700, shriek_gain=1.0,
                form=form)


# the full-length songs: the three songs' sounds in a song's form, 13-18 s each
FORMS = {"hype_full": (110, "iVCVCbCC"), "truss_full": (96, "iVCVbC"),
         "noise_full": (126, "iVCVCbC")}


def hype_full(sr=8000, seconds=None, seed=21):
    """Song 1 at full length (17.5 s): an intro without kick, verses and the "don't" chorus in
    turn, a break without kick, the chorus twice to end."""
    bpm, form = FORMS["hype_full"]
    return hype_song(sr, seconds or len(form) * 240 / bpm, seed, form=form)


def truss_full(sr=8000, seconds=None, seed=22):
    """Song 2 at full length (15 s): intro, verse, chorus, verse, break, chorus."""
    bpm, form = FORMS["truss_full"]
    return truss_song(sr, seconds or len(form) * 240 / bpm, seed, form=form)


def noise_full(sr=8000, seconds=None, seed=23):
    """Song 3 at full length (13.3 s): intro, two verses and choruses, break, chorus."""
    bpm, form = FORMS["noise_full"]
    return noise_song(sr, seconds or len(form) * 240 / bpm, seed, form=form)


def moments(name: str) -> list[tuple[str, float, float]]:
    """A full-length song's bars as (kind, start s, end s), kind one of BARS' words: where
    in the song a render's frames come from, by moment."""
    if name not in FORMS:
        raise ValueError(f"{name!r} has no form; songs with one: {', '.join(FORMS)}")
    bpm, form = FORMS[name]
    bar = 240 / bpm
    return [(BARS[k], i * bar, (i + 1) * bar) for i, k in enumerate(form)]


CLIPS = {"breakbeat": breakbeat, "bassline": bassline, "shriek": shriek, "chant": chant,
         "hype": hype, "hype_song": hype_song, "truss_song": truss_song, "noise_song": noise_song,
         "hype_full": hype_full, "truss_full": truss_full, "noise_full": noise_full}
SONGS = ("hype_song", "truss_song", "noise_song")   # four bars each, in the demo study's order
FULL_SONGS = tuple(FORMS)                           # a song's form, 13-18 s each
DEMO = SONGS


def names() -> list[str]:
    return list(CLIPS)


def get(name: str, sample_rate: int = 8000, seconds: float | None = None) -> np.ndarray:
    """A built-in clip as float32 in [-1, 1], peak-normalised to 0.9; ``seconds`` long, or its
    own length (2 s for the loops, two bars for the songs, their form for the full songs)."""
    if name not in CLIPS:
        raise ValueError(f"unknown built-in clip {name!r}; built-in clips: {', '.join(CLIPS)}")
    x = CLIPS[name](sample_rate) if seconds is None else CLIPS[name](sample_rate, seconds)
    return (0.9 * x / (np.abs(x).max() + 1e-12)).astype(np.float32)
