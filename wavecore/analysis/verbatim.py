"""Runs: where a render follows one clip frame by frame, and a verdict from them.

Shares of nearest frames (wavecore.analysis.measures.resemblance) cannot tell song-coloured
texture from pieces of the song, nor a copy from a collage; runs can. A *run* is a stretch of
the render's log-mel frames (the measures' frames: 32 ms windows, 16 ms hop) that follows one
clip's frames in time order. It is judged by the distance to the frame where a copy would be,
not by which frame is nearest (a clip that repeats itself has many nearest frames; a copy
follows one path):

- the clips' frames are taken every quarter hop (``measures.FINE``), so that a copy, which
  starts anywhere, lies within 1/8 hop (2 ms at 8 kHz) of one of them: its frames are then
  within 2.5 dB of its original's, where frames on the hop's grid can differ by 10 dB;
- a render frame *follows* a clip frame when their RMS distance (dB over the 64 bands, band
  levels floored at ``FLOOR_DB``) is at most ``FOLLOW_DB``; a path goes from render frame i at
  clip time t to frame i + 1 at t + one hop, and bridges one frame that does not follow
  between two that do;
- from each render frame the longest such path over every clip is taken (cross-recurrence
  along diagonals, as cover-song identification's Qmax does), and the render is cut greedily
  into runs from its start;
- a run counts only where it stands out: on average along its path, the frames 48 to 240 ms
  beside it in the clip are at least ``CONTRAST_DB`` farther than the path's own. A stationary
  sound (hiss, a held hum) is equally close to all its neighbours and follows nothing;
- a run is credited to its clip only when that clip follows it at least ``MARGIN`` times as
  long as any other clip follows any stretch of the same render frames (``rival_frames``);
  otherwise it is *shared*: material more than one clip holds (a kit they share), which says
  nothing about which clip the network learned. ``MARGIN`` = 1.5 from the constructed cases
  (tests/test_runs.py): a verbatim copy's rival follows 11 of its 186 frames; in quarter-second
  pieces of a song, the other songs' shared kick follows 2 to 12 frames of a 9 to 19 frame
  piece (a sixth of those frames come out shared); a phrase that three clips all hold ties
  (rival = run) and comes out shared whole.

From the runs (credited ones unless said):
- ``longest_s`` and ``longest_clip``: the longest counting run (a copy is one long run);
- ``fragment_share``: the share of the render's frames in counting runs of at least
  ``FRAGMENT_S`` (pieces of a song, as against texture); ``fragments``: those frames by clip;
- ``shared_share`` (``shared``: frames): the share in fragments credited to no clip;
- ``places``: by clip, how many places of it the fragments come from, counted by material:
  a fragment is a new place when its clip time lies at least ``PLACE_S`` from every place
  counted before it and its clip frames are unlike theirs (no ``FRAGMENT_S`` of them, aligned,
  within ``FOLLOW_DB`` on average). A loop of one event is one place however often it plays,
  and however many times the song plays that event (a drum hit on every bar, a held chord);
- ``jumps``: how many times a fragment is followed by one from elsewhere (recombination).

``verdict`` names a render of clip c (its continuation of T seconds; A, the seconds of c after
the prime: a copy cannot be longer), in this order:
- *copy*: a run covering at least ``COPY_SHARE`` of min(T, A) (of another clip: of its length);
- *copy in part*: a run of at least ``PART_S`` (a phrase, not a piece), short of a copy;
- *kept*: at least ``FRAGMENT_SHARE`` of its frames in fragments, from at least ``PLACES``
  places, at least ``OWN_FRAGMENTS`` of those frames from c and from ``PLACES`` places of c,
  and at least ``KEPT_SHARE`` of its frames nearest c's;
- *merged*: at least ``FRAGMENT_SHARE`` in fragments from at least ``PLACES`` places, more
  than 1 - ``OWN_FRAGMENTS`` of their frames from other clips;
- *shared*: at least ``FRAGMENT_SHARE`` of its frames in shared fragments;
- *texture*: at least ``KEPT_SHARE`` of its frames nearest the clips' (any), without the above;
- *noise*: the rest (mostly noise, novel sound or silence).
The thresholds were fixed on the constructed cases of tests/test_runs.py (a verbatim copy,
a copy of a clip that repeats itself, a shuffle of 0.25 s pieces, a splice of two clips,
white noise, noise shaped like a clip's quietest passage; then a loop of one 0.15 s event, a
song's drums alone, a phrase every clip holds, another song's pieces, a partial copy, a copy
of a clip shorter than the render) before any sweep used them.

``unseen_credit``: the share of a render's fragment frames (shared ones included) credited to
clips the network has not been trained on: the measure's own false-credit rate.
"""
from __future__ import annotations

import numpy as np

from .measures import FINE, log_mel

FOLLOW_DB = 6.0            # a frame follows when within this of the frame a copy would be
CONTRAST_DB = 3.0          # ... and the run's path stands out from its neighbours by this much
VARIES_DB = 3.0            # ... and the clip changes along it (a held sound is no fragment)
NEAR = (3, 15)             # "beside": 3 to 15 frames (48 to 240 ms) away in the clip
FLOOR_DB = -70.0           # band levels below this are alike (near silence, differences are noise)
FRAGMENT_S = 0.1
COPY_SHARE = 0.5
KEPT_SHARE = 0.5
FRAGMENT_SHARE = 0.2
OWN_FRAGMENTS = 2 / 3
MARGIN = 1.5               # a run is its clip's when it follows this many times the rival's
PLACE_S = 0.5              # fragments this far apart in their clip are from different places
PLACES = 3                 # kept and merged draw on at least this many places
PART_S = 0.8               # a run this long is a copied phrase (copy in part)
MEASURE = 3                # 3: places by material; 2: shared credit, places by clip time, copy
                           # in part; 1 (no "measure" key): before
VERDICTS = ("copy", "copy in part", "kept", "merged", "shared", "texture", "noise")


def _distances(R, C) -> np.ndarray:
    """(n, m) RMS distance in dB between the rows of R (n, d) and C (m, d)."""
    d2 = (R ** 2).sum(1)[:, None] + (C ** 2).sum(1)[None, :] - 2 * R @ C.T
    return np.sqrt(np.maximum(d2, 0) / R.shape[1])


def _beside(D) -> np.ndarray:
    """(n, m): the mean distance of the fine frames NEAR[0]..NEAR[1] hops before and after each."""
    n, m = D.shape
    c = np.concatenate([np.zeros((n, 1)), np.cumsum(D, axis=1)], axis=1)     # (n, m + 1)
    k = np.arange(m)
    near0, near1 = NEAR[0] * FINE, NEAR[1] * FINE
    total, count = np.zeros((n, m)), np.zeros(m)
    for lo, hi in ((k + near0, k + near1 + 1), (k - near1, k - near0 + 1)):
        lo, hi = np.clip(lo, 0, m), np.clip(hi, 0, m)
        total += c[:, hi] - c[:, lo]
        count += hi - lo
    return np.where(count > 0, total / np.maximum(count, 1), D)


def _paths(D) -> np.ndarray:
    """(n, m): the length in render frames of the longest following path from every (i, q):
    render frame i at fine clip frame q, then i + 1 at q + FINE, ..."""
    n, m = D.shape
    ok = D <= FOLLOW_DB
    bridged = ok.copy()                               # one frame between two that follow
    bridged[1:-1, FINE:-FINE] |= ok[:-2, :-2 * FINE] & ok[2:, 2 * FINE:]
    L = np.zeros((n + 1, m + FINE), np.int64)
    for i in range(n - 1, -1, -1):
        L[i, :m] = np.where(bridged[i], 1 + L[i + 1, FINE:], 0)
    return L[:n, :m]


def _rival(B, i, n) -> int:
    """The longest stretch of render frames i..i+n-1 that one clip's paths follow, from that
    clip's best path length from every frame (B: (render frames,))."""
    k = np.arange(i, i + n)
    return int(np.minimum(B[k], i + n - k).max())


def _alike(A, B, k: int) -> bool:
    """Whether k consecutive frames of A (n, bands) and k of B (m, bands), aligned frame by
    frame, lie within FOLLOW_DB of each other on average: the same material, wherever each
    lies in its clip."""
    n, m = len(A) - k + 1, len(B) - k + 1
    if n < 1 or m < 1:
        return False
    D = _distances(A, B)                                           # (len A, len B)
    return float(sum(D[j:j + n, j:j + m] for j in range(k)).min()) <= FOLLOW_DB * k


def _places(fragments, hop_s: float) -> int:
    """How many places the fragments [(clip time s, clip frames along the path (k, bands))]
    come from: greedy in clip-time order, one is a new place when it lies at least PLACE_S from
    every place counted so far and is unlike each of them (_alike over FRAGMENT_S)."""
    k = max(1, int(np.ceil(FRAGMENT_S / hop_s - 1e-9)))
    chosen = []
    for t, M in sorted(fragments, key=lambda f: f[0]):
        if all(abs(t - u) >= PLACE_S and not _alike(M, P, k) for u, P in chosen):
            chosen.append((t, M))
    return len(chosen)


def runs(x: np.ndarray, sources) -> dict:
    """The runs of ``x`` (a render's continuation) through the clips of ``sources``
    (wavecore.analysis.measures.Sources). See the module's docstring."""
    R = np.maximum(log_mel(x, **sources._frame)[0], FLOOR_DB)
    n, hop = len(R), sources.hop_s
    found = []
    for C in sources.fine:
        C = np.maximum(C, FLOOR_DB)
        D = _distances(R, C)
        L = _paths(D)
        found.append((D, _beside(D) - D, L, C, L.max(axis=1)))
    out, material, i = [], [], 0                 # material: each run's clip frames (k, bands)
    while i < n:
        best = max(range(len(found)), key=lambda j: (found[j][4][i], -found[j][0][i].min()))
        D, contrast, L, C, _ = found[best]
        q = int(np.argmax(L[i]))
        length = int(L[i, q])
        if length == 0:
            i += 1
            continue
        path = q + FINE * np.arange(length)
        stands_out = float(np.mean(contrast[np.arange(i, i + length), path]))
        varies = float(np.mean(C[path].std(axis=0)))
        rival = max((_rival(f[4], i, length) for j, f in enumerate(found) if j != best),
                    default=0)
        out.append({"clip": sources.names[best], "start_s": round(i * hop, 3), "frames": length,
                    "seconds": round(length * hop, 3), "clip_time_s": round(q * hop / FINE, 3),
                    "contrast_db": round(stands_out, 2), "varies_db": round(varies, 2),
                    "rival_frames": rival, "own": length >= MARGIN * rival,
                    "counts": stands_out >= CONTRAST_DB and varies >= VARIES_DB})
        material.append(C[path])
        i += length
    counting = [r for r in out if r["counts"]]
    credited = [r for r in counting if r["own"]]
    fragments = [(r, M) for r, M in zip(out, material)
                 if r["counts"] and r["seconds"] >= FRAGMENT_S]
    by_clip = {name: 0 for name in sources.names}
    places = {name: [] for name in sources.names}
    for r, M in fragments:
        if r["own"]:
            by_clip[r["clip"]] += r["frames"]
            places[r["clip"]].append((r["clip_time_s"], M))
    fragments = [r for r, _ in fragments]
    shared = sum(r["frames"] for r in fragments if not r["own"])
    mine = [r for r in fragments if r["own"]]
    jumps = sum(1 for a, b in zip(mine, mine[1:])
                if a["clip"] != b["clip"] or abs((b["clip_time_s"] - a["clip_time_s"])
                                                  - (b["start_s"] - a["start_s"])) > hop)
    longest = max(credited, key=lambda r: r["seconds"], default=None)
    return {"runs": out, "frames": n,
            "longest_s": longest["seconds"] if longest else 0.0,
            "longest_clip": longest["clip"] if longest else None,
            "fragment_share": sum(by_clip.values()) / max(1, n), "fragments": by_clip,
            "shared_share": shared / max(1, n), "shared": shared,
            "places": {name: _places(f, hop) for name, f in places.items()},
            "jumps": jumps}


SUMMARY = ("frames", "longest_s", "longest_clip", "fragment_share", "fragments", "shared_share",
           "shared", "places", "jumps")


def summary(found: dict) -> dict:
    """What a record keeps of ``runs``: its SUMMARY keys, and "measure": MEASURE."""
    return {**{key: found[key] for key in SUMMARY}, "measure": MEASURE}


def unseen_credit(found: dict, trained) -> float:
    """The share of the fragment frames of ``found`` (``runs`` or its summary; shared frames
    included) credited to clips not in ``trained`` (names); 0 for a render with none."""
    frag, heard = found["fragments"], set(trained)
    total = sum(frag.values()) + found["shared"]
    return sum(v for k, v in frag.items() if k not in heard) / total if total else 0.0


def verdict(clip: str, shares: dict, found: dict, seconds: float,
            available: float | None = None, lengths: dict | None = None) -> str:
    """The verdict on a render of ``clip`` (see the module's docstring): shares from
    measures.resemblance, ``found`` from ``runs`` (or its summary), ``seconds`` the
    continuation's length, ``available`` the seconds of ``clip`` after the prime (None: no
    bound), ``lengths`` every clip's seconds (for a copy of another clip; None: no bound)."""
    copied = found["longest_clip"]
    bound = available if copied == clip else (lengths or {}).get(copied)
    if found["longest_s"] >= COPY_SHARE * min(seconds, bound if bound is not None else seconds):
        return "copy"
    if found["longest_s"] >= PART_S:
        return "copy in part"
    frag, places = found["fragments"], found["places"]
    total = sum(frag.values())
    if found["fragment_share"] >= FRAGMENT_SHARE and sum(places.values()) >= PLACES:
        own = frag.get(clip, 0) / total
        if (own >= OWN_FRAGMENTS and places.get(clip, 0) >= PLACES
                and shares.get(clip, 0.0) >= KEPT_SHARE):
            return "kept"
        if own < OWN_FRAGMENTS:
            return "merged"
    if found["shared_share"] >= FRAGMENT_SHARE:
        return "shared"
    if sum(shares.get(name, 0.0) for name in frag) >= KEPT_SHARE:
        return "texture"
    return "noise"
