"""Built-in clips, synthesised deterministically in NumPy (no downloads), in the spirit of the
material the study was first run on: 2 s loops (a breakbeat, a bass line, vinyl-scratch
shrieks, a formant-synthesised chant of "don't", and a mix of them); three songs of two
bars each, a rapped verse ending in a scratch shriek, then a chorus phrase (the demo's clips,
``SONGS``); and the same three songs at full length in a song's form, 13-18 s each
(``FULL_SONGS``): an intro without kick, verses that vary and end in a shriek, a chorus motif
that repeats, a break without kick, so the kick enters twice; ``moments`` says which bar is
which, so what a network keeps can be traced to moments. Each full song has its own ``Kit``
(drums, bass timbre, verse voice: ``KITS``), so the three share little material that a render
could be credited with without having heard the song (bench/shared_material.py measures it);
the loops and the two-bar songs share one kit (``SHARED``), as they always have: the tests use
the two-bar songs for material that songs share. ``get(name)`` returns float32 mono
audio in [-1, 1] at ``sample_rate``; the same call always gives the same samples.
"""
from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Kit:
    """A song's sounds: drum kit, bass timbre and verse voice. The default is the kit the loops
    and the two-bar songs share (their sound is pinned by the tests); each full song has its own.

    kick_hz: the kick's pitch at the end of its sweep; kick_sweep_hz: how far above it it
    starts; kick_sweep_s: the sweep's time constant; kick_decay_s: the kick's decay;
    kick_s: its length; kick_drive: tanh saturation (0: none); kick_click: the level of a
    1 ms noise click on the attack (0: none).
    snare_hz: the snare's tone; snare_colour: c in the noise filter 1 - c z^-1 (0.7 bright,
    0 white, negative dull); snare_noise_s, snare_tone_s: the decays of its noise and its
    tone; snare_noise, snare_tone: their levels.
    hat_colour: c in the hat's filter 1 - c z^-1 (1 a high-pass, lower lets more low through);
    hat_decay_s: its decay; hat_s: its length (longer: an open hat).
    bass_wave: the bass waveform's mix (square, saw, sine, triangle); bass_fm: the index of a
    frequency modulation of the sine at twice the note (0: none, a buzz as it grows);
    bass_pole: the one-pole low-pass's pole (nearer 1: darker); bass_octave: octaves up (+) or
    down (-) from the song's riff (the full songs keep 0: an octave down puts the bass below
    60 Hz, where tests/test_audio.py finds the kick); bass_gain: its level.
    voice_hz: the range the verse syllables' pitch is drawn from; vowels: the vowels they are
    drawn from (VOWELS' keys); tract: the verse voice's formants scaled by this (a vocal
    tract's length: below 1 longer, darker; above 1 shorter, brighter); voice_pole: the
    roll-off of its glottal pulses (nearer 1: softer, darker; lower: brighter, shouted);
    voice_gain: the verse syllables' level.
    Only the verses take the kit's voice: the chorus is sung as the song gives it.
    """
    kick_hz: float = 45.0
    kick_sweep_hz: float = 90.0
    kick_sweep_s: float = 0.03
    kick_decay_s: float = 0.09
    kick_s: float = 0.25
    kick_drive: float = 0.0
    kick_click: float = 0.0
    snare_hz: float = 185.0
    snare_colour: float = 0.7
    snare_noise_s: float = 0.05
    snare_tone_s: float = 0.04
    snare_noise: float = 0.45
    snare_tone: float = 0.6
    hat_colour: float = 1.0
    hat_decay_s: float = 0.012
    hat_s: float = 0.05
    bass_wave: tuple = (0.5, 0.5, 0.0, 0.0)
    bass_fm: float = 0.0
    bass_pole: float = 0.85
    bass_octave: int = 0
    bass_gain: float = 0.45
    voice_hz: tuple = (110.0, 170.0)
    vowels: str = "ouaei"
    tract: float = 1.0
    voice_pole: float = 0.95
    voice_gain: float = 0.8


SHARED = Kit()


def kick(sr, rng, kit=SHARED):
    """A kick: a sine swept down in pitch, optionally driven and with a noise click (drawn from
    ``rng`` only then)."""
    n = int(kit.kick_s * sr)
    t = np.arange(n) / sr
    f = kit.kick_hz + kit.kick_sweep_hz * np.exp(-t / kit.kick_sweep_s)   # pitch sweep down
    out = np.sin(2 * np.pi * np.cumsum(f) / sr) * _env(n, sr, 0.001, kit.kick_decay_s)
    if kit.kick_drive:
        out = np.tanh(kit.kick_drive * out) / np.tanh(kit.kick_drive)
    if kit.kick_click:
        c = int(0.001 * sr) + 1
        out[:c] += kit.kick_click * rng.standard_normal(c) * np.linspace(1, 0, c)
    return out


def snare(sr, rng, kit=SHARED):
    n = int(0.2 * sr)
    noise = lfilter([1, -kit.snare_colour], [1], rng.standard_normal(n))   # coloured noise
    tone = np.sin(2 * np.pi * kit.snare_hz * np.arange(n) / sr)
    return (kit.snare_noise * noise * _env(n, sr, 0.001, kit.snare_noise_s)
            + kit.snare_tone * tone * _env(n, sr, 0.001, kit.snare_tone_s))


def hat(sr, rng, kit=SHARED):
    n = int(kit.hat_s * sr)
    noise = lfilter([1, -kit.hat_colour], [1], rng.standard_normal(n))   # high-passed
    return 0.25 * noise * _env(n, sr, 0.0005, kit.hat_decay_s)


def bass_note(sr, f, n, kit=SHARED):
    """One bass note of n samples at f Hz (before the octave), in the kit's timbre."""
    f = f * 2.0 ** kit.bass_octave
    t = np.arange(n) / sr
    sq, saw, sine, tri = kit.bass_wave
    # the saw 2 (f t mod 1) - 1 written so the shared kit adds in today's order, bit for bit
    x = np.sign(np.sin(2 * np.pi * f * t)) * sq + saw * 2 * ((f * t) % 1.0) - saw
    if sine:
        x = x + sine * np.sin(2 * np.pi * f * t + kit.bass_fm * np.sin(4 * np.pi * f * t))
    if tri:
        x = x + tri * (2 * np.abs(2 * ((f * t + 0.25) % 1.0) - 1) - 1)
    lp = round(1 - kit.bass_pole, 9)                       # unity gain at DC (0.15 for 0.85)
    return kit.bass_gain * lfilter([lp], [1, -kit.bass_pole], x) * _env(n, sr, 0.005, 0.2)


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


def syllable(sr, seconds, f0, glide, start, end, rng, burst=True, tract=1.0, pole=0.95):
    """A voiced syllable: a glottal pulse train at pitch f0 falling by ``glide`` (ratio), through
    formants moving from vowel ``start`` to vowel ``end``, with a consonant burst before it.
    ``tract`` scales the formants' frequencies (below 1 a longer vocal tract, a darker voice);
    ``pole``, the glottal pulses' roll-off (nearer 1: a softer, darker source)."""
    n = max(16, int(seconds * sr))
    t = np.arange(n) / sr
    f = f0 * (1 - (1 - glide) * t / t[-1])
    pulses = lfilter([1], [1, -pole], np.diff(np.floor(np.cumsum(f) / sr), prepend=0.0))
    g = np.linspace(0, 1, n)
    v1 = [(hz * tract, bw, gain) for hz, bw, gain in VOWELS[start]]
    v2 = [(hz * tract, bw, gain) for hz, bw, gain in VOWELS[end]]
    out = (_formant_filter(pulses * (1 - g), sr, v1)
           + _formant_filter(pulses * g, sr, v2)) * np.hanning(n) ** 0.3
    if burst:
        b = rng.standard_normal(int(0.012 * sr)) * 0.4
        out[:len(b)] += b * _env(len(b), sr, 0.0005, 0.004)
    return out


BARS = {"V": "verse", "C": "chorus", "i": "intro", "b": "break"}


def song(sr, seconds, seed, bpm, chorus, pattern, bass, scratch_hz, shriek_gain=0.5, form=None,
         kit=SHARED):
    """A song in bars of four beats over a drum pattern (16 sixteenths of k/s/h) and a bass riff
    (8 eighth notes, Hz). ``form`` names each bar (BARS), repeated to fill ``seconds``; by
    default verses and choruses alternate ("VC"):

    - V, a verse: rapped syllables in the kit's voice (pitch, vowels, rhythm drawn anew in
      every verse from ``seed``), ending in a scratch shriek;
    - C, the chorus phrase, the same notes every time (the part a network meets most):
      ``chorus`` is [(vowel from, vowel to, f0, beats)];
    - i, an intro: hi-hats and bass, no kick, no voice;
    - b, a break: the chorus over hi-hats, snare and bass, no kick.

    So in a form such as "iVCVCbCC" the kick drum enters twice: after the intro and after the
    break (``moments`` gives each bar's time). ``kit`` (Kit) gives the drums, the bass's timbre
    and the verse voice; the kit is drawn first from the song's generator."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    beat = 60 / bpm
    bar = 4 * beat
    form = form or "VC"
    out = np.zeros(n)
    drums = {"k": kick(sr, rng, kit), "s": 0.7 * snare(sr, rng, kit),
             "h": 0.4 * hat(sr, rng, kit)}
    six = int(round(sr * beat / 4))
    for i in range(n // six + 1):
        kind = form[(i // 16) % len(form)]
        for c in pattern[i % 16]:
            if not (c == "k" and kind in "ib" or c == "s" and kind == "i"):
                _place(out, 0.5 * drums[c], i * six)
    eighth = int(round(sr * beat / 2))
    for i in range(n // eighth + 1):
        _place(out, bass_note(sr, bass[i % len(bass)], eighth, kit), i * eighth)
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
                v1, v2 = rng.choice(list(kit.vowels), 2)
                s = syllable(sr, 0.85 * dur * beat, rng.uniform(*kit.voice_hz),
                             rng.uniform(0.8, 1.0), v1, v2, rng, tract=kit.tract,
                             pole=kit.voice_pole)
                _place(voice, kit.voice_gain * s, at + int(pos * beat * sr))
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


def hype_song(sr=8000, seconds=4.36, seed=11, form=None, kit=SHARED):
    """Song 1: a breakbeat at 110 BPM, an E-minor bass riff, rapped verses and a chorus of a
    shouted "don't" (o gliding to u) four times."""
    return song(sr, seconds, seed, 110, [("o", "u", 190, 1)] * 4,
                ["kh", "h", "kh", "h", "sh", "h", "h", "kh",
                 "h", "kh", "kh", "h", "sh", "h", "h", "sh"],
                [82.4, 82.4, 98.0, 82.4, 110.0, 98.0, 73.4, 82.4], scratch_hz=900, form=form,
                kit=kit)


def truss_song(sr=8000, seconds=5.0, seed=12, form=None, kit=SHARED):
    """Song 2: slower (96 BPM), a straighter beat, a bass in A, and a chorus of two long
    syllables ("tru-ust") in a lower voice."""
    return song(sr, seconds, seed, 96, [("a", "u", 140, 2), ("u", "a", 120, 2)],
                ["kh", "h", "h", "h", "sh", "h", "kh", "h",
                 "kh", "h", "h", "h", "sh", "h", "h", "h"],
                [110.0, 110.0, 130.8, 110.0, 146.8, 130.8, 98.0, 110.0], scratch_hz=1300, form=form,
                kit=kit)


def noise_song(sr=8000, seconds=3.81, seed=13, form=None, kit=SHARED):
    """Song 3: fast (126 BPM), busy hi-hats, a high "ee-ee-ee" chorus and loud shrieks."""
    return song(sr, seconds, seed, 126, [("i", "e", 260, 0.5)] * 8,
                ["kh", "h", "h", "kh", "sh", "h", "kh", "h",
                 "h", "kh", "kh", "h", "sh", "h", "kh", "sh"],
                [73.4, 87.3, 73.4, 98.0, 73.4, 87.3, 65.4, 73.4], scratch_hz=1700, shriek_gain=1.0,
                form=form, kit=kit)


# the full-length songs: the three songs in a song's form, 13-18 s each, each in its own kit
FORMS = {"hype_full": (110, "iVCVCbCC"), "truss_full": (96, "iVCVbC"),
         "noise_full": (126, "iVCVCbC")}
# Each full song's kit (the two-bar songs and the loops keep SHARED). Chosen for character,
# then checked with bench/shared_material.py: its pairs fell from 20-57 % to 0 % (at most 5 % on
# 3 other seeds of the songs). What songs 1 and 2 still shared, once drums and bass differed,
# was the verse voice (song 1's verse drew the a and u of song 2's chorus, at its pitch) and the
# hats, short in both: with song 2's hat 80 ms long, 25 ms decay, the two shared about 6 % of
# their frames (the mean over 4 seeds of the songs); with the 120 ms, 40 ms hat below, 1 % or
# less.
KITS = {
    # song 1: a punchy swept kick with a click, the bright 185 Hz snare, square/saw bass, a middle
    # voice (130-190 Hz), shouted (a brighter source), on o, e, i (not song 2's chorus' a, u)
    "hype_full": Kit(kick_hz=50, kick_sweep_hz=110, kick_sweep_s=0.025, kick_decay_s=0.1,
                     kick_click=0.3, voice_hz=(130, 190), vowels="oei", voice_pole=0.9),
    # song 2: a long boomy low kick (38 Hz, 0.25 s decay), a dull tuned snare (140 Hz, its noise
    # low-passed), a round sine/triangle bass, a dark half-open hat (40 ms decay) that washes
    # over the sixteenths, a low soft voice (80-115 Hz, a longer tract) on back vowels
    "truss_full": Kit(kick_hz=38, kick_sweep_hz=50, kick_sweep_s=0.06, kick_decay_s=0.25,
                      kick_s=0.5, snare_hz=140, snare_colour=-0.6, snare_noise_s=0.03,
                      snare_tone_s=0.09, snare_noise=0.25, snare_tone=0.8, hat_colour=0.6,
                      hat_decay_s=0.04, hat_s=0.12, bass_wave=(0.0, 0.0, 0.6, 0.6),
                      bass_pole=0.9, bass_gain=0.6, voice_hz=(80, 115), vowels="oua",
                      tract=0.85, voice_pole=0.99),
    # song 3: a short tight kick (swept from 215 Hz, 70 ms decay), driven, with a click, a noisy
    # crisp snare (noise over a 240 Hz tone), an FM bass (index 2: a buzz, yet below 60 Hz only
    # the kick, and no brighter than keeps its bars alike), a short bright hat, a high voice
    # (180-250 Hz, a shorter tract) on front vowels, rapping as loud as its shrieks
    "noise_full": Kit(kick_hz=55, kick_sweep_hz=160, kick_sweep_s=0.012, kick_decay_s=0.07,
                      kick_s=0.15, kick_drive=3.0, kick_click=0.5, snare_hz=240,
                      snare_colour=0.95, snare_noise_s=0.07, snare_tone_s=0.02,
                      snare_noise=0.7, snare_tone=0.25, hat_decay_s=0.01, hat_s=0.04,
                      bass_wave=(0.0, 0.0, 1.0, 0.0), bass_fm=2.0, bass_pole=0.6,
                      voice_hz=(180, 250), vowels="iea", tract=1.15, voice_gain=1.6),
}


def hype_full(sr=8000, seconds=None, seed=21):
    """Song 1 at full length (17.5 s): an intro without kick, verses and the "don't" chorus in
    turn, a break without kick, the chorus twice to end."""
    bpm, form = FORMS["hype_full"]
    return hype_song(sr, seconds or len(form) * 240 / bpm, seed, form=form, kit=KITS["hype_full"])


def truss_full(sr=8000, seconds=None, seed=22):
    """Song 2 at full length (15 s): intro, verse, chorus, verse, break, chorus."""
    bpm, form = FORMS["truss_full"]
    return truss_song(sr, seconds or len(form) * 240 / bpm, seed, form=form,
                      kit=KITS["truss_full"])


def noise_full(sr=8000, seconds=None, seed=23):
    """Song 3 at full length (13.3 s): intro, two verses and choruses, break, chorus."""
    bpm, form = FORMS["noise_full"]
    return noise_song(sr, seconds or len(form) * 240 / bpm, seed, form=form,
                      kit=KITS["noise_full"])


def moments(name: str, form: str | None = None) -> list[tuple[str, float, float]]:
    """A full-length song's bars as (kind, start s, end s), kind one of BARS' words: where
    in the song a render's frames come from, by moment; ``form``: the song played in another
    form (each letter a bar of BARS) at its tempo."""
    if name not in FORMS:
        raise ValueError(f"{name!r} has no form; songs with one: {', '.join(FORMS)}")
    bpm, own = FORMS[name]
    bar = 240 / bpm
    return [(BARS[k], i * bar, (i + 1) * bar) for i, k in enumerate(form or own)]


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
