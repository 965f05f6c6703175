"""Moments of a clip, and which of them a render keeps against chance.

A *moment* is (kind, start s, end s): a stretch of a clip with a name. Three sources:
- ``builtin(name)``: a built-in full song's bars (wavecore.analysis.clips.moments), each verse
  split into its rapped part ("verse") and its last beat ("shriek", the scratch it ends in);
- ``read_labels(path)``: a label file as Audacity exports it and Sonic Visualiser reads it, one
  ``start<TAB>end<TAB>label`` line per region (lines of a spectral selection, which start with
  a backslash, are skipped); a bad line is a one-line ValueError naming the file and the line;
- ``repeated(x, sr)``: found without labels, from the clip's self-similarity: a frame is
  *repeated* when it lies on a path of at least ``REPEAT_S`` that follows another stretch of
  the clip at least ``REPEAT_S`` away and stands out from the frames beside that stretch (the
  verbatim runs' frames, following rule and contrast, along the self-recurrence's diagonals, as
  chorus detection does; a held or stationary sound, alike at every lag, repeats nothing), else
  *once*; ``repetitions`` gives
  each frame's count of such other stretches.

``loop(x, sr)``: the period of a render that stays on one phrase (it follows itself one period
on, over LOOP_SHARE of its frames, at a lag of at least LOOP_MIN_S), or None.

``tones(x, sr)``: the stretches of a held, steady pitch (TONE_S or longer, periodic and within
half a semitone: a sine, a scratch held at one speed; not a sung, gliding syllable), and
``tone_moment``: which kind of moment of a clip has that pitch.

``ClipMoments``: a clip's moments, found (labels, built in, or what it repeats) and applied to a
render (``of_render``: lift, tones, loop), as a study records them.

``lift(found, clip, moments, seconds)``: for each kind m, the share of the render's frames in
fragments credited to ``clip`` (wavecore.analysis.verbatim.runs) that come from moments of kind
m, over the share of the clip's time that is m. Chance is 1; a render drawn only from the
chorus of a song whose chorus is half its length has a chorus lift of 2. Shared fragments
(credited to no clip) and fragments of other clips are left out; a render with no fragment of
``clip`` has no lift (None for every kind). A fragment is placed where its path starts, at the
first of the clip's places that follow it longest; so where a song repeats one phrase in moments
of two kinds, the earlier takes the credit: on hype_full an even draw of 0.25 s pieces gives
chorus 1.2, break 0.4 and intro 0.6, verse and shriek 1.0 (tests/test_moments.py). Compare a
render's lift with such a draw's, or one stage's with another's, not with 1 alone.
"""
from __future__ import annotations

import numpy as np

from . import clips as builtin_clips
from .measures import FINE, log_mel
from .verbatim import CONTRAST_DB, FLOOR_DB, FOLLOW_DB, FRAGMENT_S, _beside

REPEAT_S = 1.0             # a repetition is a path of at least this long, at least this far away
LOOP_MIN_S = 0.3           # a loop's period is at least this long
LOOP_SHARE = 0.8           # ... and this share of the render follows itself one period on
PITCH_HZ = (60.0, 1000.0)  # the pitches a tone may have
PITCH_WINDOW_S = 0.064     # the window its periodicity is measured over
TONE_S = 0.3               # a tone holds its pitch at least this long,
TONE_STRENGTH = 0.8        # ... at least this periodic,
TONE_STABLE = 0.03         # ... within this of its first frame's pitch (half a semitone)


def builtin(name: str, form: str | None = None) -> list[tuple[str, float, float]]:
    """A built-in full song's moments (played in ``form``, default its own): its bars, each
    verse's last beat as "shriek"."""
    out = []
    for kind, a, b in builtin_clips.moments(name, form):
        if kind == "verse":
            cut = a + 0.75 * (b - a)                     # the verse's fourth beat: its shriek
            out += [("verse", a, cut), ("shriek", cut, b)]
        else:
            out.append((kind, a, b))
    return out


def read_labels(path) -> list[tuple[str, float, float]]:
    """The moments of an Audacity label file (``start<TAB>end<TAB>label`` per line, seconds)."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read it as a label file ({e})") from None
    out = []
    for k, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("\\"):   # blank, or a spectral selection's line
            continue
        parts = line.split("\t")
        where = f"{path}:{k}"
        if len(parts) < 3:
            raise ValueError(f"{where}: expected start<TAB>end<TAB>label, got {line[:60]!r}")
        try:
            a, b = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"{where}: start and end must be seconds, got {parts[0]!r} and "
                             f"{parts[1]!r}") from None
        label = "\t".join(parts[2:]).strip()
        if not np.isfinite(a) or not np.isfinite(b) or a < 0 or b < a:
            raise ValueError(f"{where}: a region runs from 0 s on and ends after it starts, "
                             f"got {a:g} to {b:g}")
        if not label:
            raise ValueError(f"{where}: the region {a:g}-{b:g} s has no label")
        out.append((label, a, b))
    if not out:
        raise ValueError(f"{path}: no labelled region in it")
    return out


def _self_follows(x, sample_rate, hop_s, min_lag, min_path, frames=False):
    """For each lag of at least ``min_lag`` hops: (lag, on), on (frames,) bool marking x's frames
    i on a path of at least ``min_path`` hops that follows x from frame i + lag on, standing out
    from the frames beside it. As in the verbatim runs, a frame is compared with x's frames every
    quarter hop (a repetition lies anywhere, not on the hop's grid); the four quarter-hop offsets
    of one lag are one lag. frames: yield (None, x's frame count) first."""
    frame = dict(sample_rate=sample_rate, hop_s=hop_s)
    F = np.maximum(log_mel(x, **frame)[0], FLOOR_DB)                  # F: (n, bands)
    C = np.maximum(log_mel(x, **{**frame, "hop_s": hop_s / FINE})[0], FLOOR_DB)   # (m, bands)
    n, m = len(F), len(C)
    D = np.sqrt(np.maximum((F ** 2).sum(1)[:, None] + (C ** 2).sum(1)[None, :]
                           - 2 * F @ C.T, 0) / F.shape[1])           # D: (n, m)
    contrast = _beside(D) - D                  # how far the path stands out from beside it
    if frames:
        yield None, n
    i = np.arange(n)
    for lag in range(min_lag, n - min_path + 1):
        on = np.zeros(n, bool)
        for k in range(FINE):
            q = FINE * (i + lag) + k           # the fine frame a lag and k quarter hops on
            ok, c = np.zeros(n, bool), np.zeros(n)
            inside = q < m
            ok[inside] = D[i[inside], q[inside]] <= FOLLOW_DB
            c[inside] = contrast[i[inside], q[inside]]
            for a, b in _long_runs(ok, min_path):
                if c[a:b].mean() >= CONTRAST_DB:   # not a held sound, alike at every lag
                    on[a:b] = True
        yield lag, on


def repetitions(x: np.ndarray, sample_rate: int, hop_s: float = 0.016) -> np.ndarray:
    """(frames,) for each log-mel frame of x (the measures' frames), how many other stretches of
    x, at least REPEAT_S away, it follows along a path of at least REPEAT_S (a repetition met at
    two adjacent lags counts once)."""
    need = int(round(REPEAT_S / hop_s))
    count = before = None
    for lag, on in _self_follows(x, sample_rate, hop_s, need, need, frames=True):
        if count is None:                      # the first yield: the frame count alone
            n, count, before = on, np.zeros(on, np.int64), np.zeros(on, bool)
            continue
        new = on & ~before
        count += new
        count[lag:] += new[:n - lag]           # ... and the stretch it repeats
        before = on
    return count


def loop(x: np.ndarray, sample_rate: int, hop_s: float = 0.016) -> float | None:
    """The period (s) of a render that stays on one phrase: the shortest lag of at least
    LOOP_MIN_S at which at least LOOP_SHARE of its frames lie on paths (at least one period
    long) that follow it one lag later or earlier; None if there is none."""
    first = int(round(LOOP_MIN_S / hop_s))
    for lag, on in _self_follows(x, sample_rate, hop_s, first, first):
        n = len(on)
        covered = on.copy()
        covered[lag:] |= on[:n - lag]
        if covered.mean() >= LOOP_SHARE:
            return round(lag * hop_s, 3)
    return None


def _long_runs(ok: np.ndarray, length: int) -> list:
    """[(start, end)] of the runs of True in ``ok`` at least ``length`` long."""
    edges = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(a, b) for a, b in zip(starts, ends) if b - a >= length]


def repeated(x: np.ndarray, sample_rate: int, hop_s: float = 0.016) -> list:
    """x's moments found without labels: "repeated" and "once" stretches (see the module)."""
    again = repetitions(x, sample_rate, hop_s) > 0
    out, start = [], 0
    for i in range(1, len(again) + 1):
        if i == len(again) or again[i] != again[start]:
            out.append(("repeated" if again[start] else "once", start * hop_s, i * hop_s))
            start = i
    return out


def pitch(x: np.ndarray, sample_rate: int, hop_s: float = 0.016) -> tuple:
    """((frames,) Hz, (frames,) strength) of x every hop: over PITCH_WINDOW_S from each hop,
    the normalised correlation of the window's first part with itself one period on, for
    periods of PITCH_HZ; the period taken is the shortest whose correlation peaks within 10 % of
    the best peak (so a tone's octave below is not taken for it), refined between whole samples
    by a parabola through its neighbours. Strength (the best peak) 1: exactly periodic."""
    x = np.asarray(x, np.float64)
    hop, win = max(1, int(round(hop_s * sample_rate))), int(round(PITCH_WINDOW_S * sample_rate))
    lags = np.arange(int(sample_rate / PITCH_HZ[1]) - 1, int(sample_rate / PITCH_HZ[0]) + 2)
    span = win - lags[-1]                                  # the part compared, every lag alike
    starts = np.arange(0, max(1, len(x) - win + 1), hop)
    if len(x) < win:
        return np.zeros(len(starts)), np.zeros(len(starts))
    W = np.lib.stride_tricks.sliding_window_view(x, win)[starts]       # W: (frames, win)
    a = W[:, :span]
    r = np.empty((len(W), len(lags)))
    for k, lag in enumerate(lags):
        b = W[:, lag:lag + span]
        r[:, k] = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1) + 1e-20)
    y0, y1, y2 = r[:, :-2], r[:, 1:-1], r[:, 2:]          # interior lags and their neighbours
    peak = (y1 >= y0) & (y1 >= y2)
    best = np.where(peak, y1, -1.0).max(1)
    k = np.argmax(peak & (y1 >= 0.9 * best[:, None]), axis=1)     # the first good peak
    rows = np.arange(len(W))
    bend = y0[rows, k] - 2 * y1[rows, k] + y2[rows, k]
    step = np.where(bend < 0, 0.5 * (y0[rows, k] - y2[rows, k]) / np.where(bend, bend, -1), 0.0)
    return sample_rate / (lags[1:-1][k] + np.clip(step, -0.5, 0.5)), np.maximum(best, 0.0)


def tones(x: np.ndarray, sample_rate: int, hop_s: float = 0.016) -> list:
    """[(start s, end s, Hz)]: stretches of at least TONE_S where every frame's pitch strength
    is at least TONE_STRENGTH and its pitch within TONE_STABLE (relative) of the stretch's
    first frame's: a held, steady pitch (a sine, a scratch held at one speed)."""
    hz, strength = pitch(x, sample_rate, hop_s)
    need, out, i = int(round(TONE_S / hop_s)), [], 0
    while i < len(hz):
        j = i
        while (j < len(hz) and strength[j] >= TONE_STRENGTH
               and abs(hz[j] / hz[i] - 1) <= TONE_STABLE):
            j += 1
        if j - i >= need:
            out.append((round(i * hop_s, 3), round(j * hop_s, 3), float(np.median(hz[i:j]))))
        i = max(j, i + 1)
    return out


def tone_moment(hz: float, clip: np.ndarray, sample_rate: int, moments) -> str | None:
    """The kind of moment of ``clip`` whose pitched frames (strength at least 0.5) most often lie
    within a semitone of ``hz``, as a share of that kind's pitched frames; None when no kind has
    a tenth of its pitched frames there."""
    return _tone_moment(hz, *pitch(clip, sample_rate), moments)


def _tone_moment(hz, f, strength, moments, hop_s=0.016):
    t = np.arange(len(f)) * hop_s
    near = (strength >= 0.5) & (np.abs(np.log2(f / hz)) <= 1 / 12)
    best, share = None, 0.1
    for kind in dict.fromkeys(k for k, _, _ in moments):
        inside = np.zeros(len(f), bool)
        for k, a, b in moments:
            if k == kind:
                inside |= (t >= a) & (t < b)
        pitched = inside & (strength >= 0.5)
        if pitched.any() and (near & inside).sum() / pitched.sum() >= share:
            best, share = kind, (near & inside).sum() / pitched.sum()
    return best


def chance(moments, seconds: float) -> dict:
    """{kind: the share of the clip's ``seconds`` that moments of that kind cover}."""
    out: dict = {}
    for kind, a, b in moments:
        out[kind] = out.get(kind, 0.0) + max(0.0, min(b, seconds) - min(a, seconds)) / seconds
    return out


def drawn(found: dict, clip: str, hop_s: float = 0.016) -> np.ndarray:
    """The clip times (s) of the render frames in fragments credited to ``clip``."""
    times = [r["clip_time_s"] + hop_s * np.arange(r["frames"]) for r in found["runs"]
             if r["clip"] == clip and r["counts"] and r["own"] and r["seconds"] >= FRAGMENT_S]
    return np.concatenate(times) if times else np.zeros(0)


def lift(found: dict, clip: str, moments, seconds: float, hop_s: float = 0.016) -> dict:
    """{kind: lift, or None when the render has no fragment of ``clip``} (see the module)."""
    t = drawn(found, clip, hop_s)
    base = chance(moments, seconds)
    out = {}
    for kind, p in base.items():
        if not len(t) or p == 0:
            out[kind] = None
            continue
        inside = np.zeros(len(t), bool)
        for k, a, b in moments:
            if k == kind:
                inside |= (t >= a) & (t < b)
        out[kind] = float(inside.mean() / p)
    return out


REPEATS_MAX_S = 60.0       # what a longer clip repeats is not sought (its self-similarity: n^2)


class ClipMoments:
    """A clip's moments and what a render of it keeps of them: ``source`` says where they came
    from ("labels FILE", "built in", "what it repeats"); ``of_render`` judges a render."""

    def __init__(self, name: str, audio: np.ndarray, sample_rate: int, moments, source: str):
        self.name, self.audio, self.sample_rate = name, audio, sample_rate
        self.moments, self.source = [(str(k), float(a), float(b)) for k, a, b in moments], source
        self.seconds = len(audio) / sample_rate
        self._pitch = None

    @classmethod
    def find(cls, name, audio, sample_rate, labels=None):
        """From a label file when given, the built-in song's bars for a built-in full song's
        name, else from what the clip repeats (None for a clip over REPEATS_MAX_S)."""
        if labels is not None:
            return cls(name, audio, sample_rate, read_labels(labels), f"labels {labels}")
        if name in builtin_clips.FORMS:
            return cls(name, audio, sample_rate, builtin(name), "built in")
        if len(audio) / sample_rate > REPEATS_MAX_S:
            return None
        return cls(name, audio, sample_rate, repeated(audio, sample_rate), "what it repeats")

    def tone_moment(self, hz: float) -> str | None:
        """``tone_moment`` on this clip, its pitch measured once."""
        if self._pitch is None:
            self._pitch = pitch(self.audio, self.sample_rate)
        return _tone_moment(hz, *self._pitch, self.moments)

    def of_render(self, x: np.ndarray, found: dict) -> dict:
        """What a render x of this clip (``found``: its wavecore.analysis.verbatim.runs) keeps:
        lift per kind, its tones with the kind each matches, the share of its frames in tones,
        and its loop's period (None: not a loop)."""
        held = tones(x, self.sample_rate)
        seconds = max(1e-9, len(x) / self.sample_rate)
        return {"lift": lift(found, self.name, self.moments, self.seconds),
                "tones": [[a, b, round(hz, 1), self.tone_moment(hz)] for a, b, hz in held],
                "tone_share": round(sum(b - a for a, b, _ in held) / seconds, 4),
                "loop_s": loop(x, self.sample_rate)}
