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
  sound (hiss, a held hum) is equally close to all its neighbours and follows nothing.

From the runs:
- ``longest_s``: the longest counting run (a copy is one long run);
- ``fragment_share``: the share of the render's frames in counting runs of at least
  ``FRAGMENT_S`` (pieces of a song, as against texture); ``fragments``: those frames by clip;
- ``jumps``: how many times a fragment is followed by one from elsewhere (recombination).

``verdict`` names a render of clip c (its continuation of T seconds):
- *copy*: a run covering at least ``COPY_SHARE`` of T;
- *kept*: at least ``KEPT_SHARE`` of its frames from c, at least ``FRAGMENT_SHARE`` of its
  frames in fragments, at least ``OWN_FRAGMENTS`` of those from c, and no copy;
- *merged*: at least ``FRAGMENT_SHARE`` in fragments, more than 1 - ``OWN_FRAGMENTS`` of them
  from other clips;
- *texture*: at least ``KEPT_SHARE`` of its frames from the clips (any), but fragments below
  ``FRAGMENT_SHARE``;
- *noise*: the rest (mostly noise, novel sound or silence).
These thresholds were fixed on the constructed cases of tests/test_runs.py (a verbatim copy,
a copy of a clip that repeats itself, a shuffle of 0.25 s pieces, a splice of two clips,
white noise, noise shaped like a clip's quietest passage) before any sweep used them.
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
VERDICTS = ("copy", "kept", "merged", "texture", "noise")


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


def runs(x: np.ndarray, sources) -> dict:
    """The runs of ``x`` (a render's continuation) through the clips of ``sources``
    (wavecore.analysis.measures.Sources). See the module's docstring."""
    R = np.maximum(log_mel(x, **sources._frame)[0], FLOOR_DB)
    n, hop = len(R), sources.hop_s
    found = []
    for C in sources.fine:
        C = np.maximum(C, FLOOR_DB)
        D = _distances(R, C)
        found.append((D, _beside(D) - D, _paths(D), C))
    out, i = [], 0
    while i < n:
        best = max(range(len(found)), key=lambda j: (found[j][2][i].max(), -found[j][0][i].min()))
        D, contrast, L, C = found[best]
        q = int(np.argmax(L[i]))
        length = int(L[i, q])
        if length == 0:
            i += 1
            continue
        path = q + FINE * np.arange(length)
        stands_out = float(np.mean(contrast[np.arange(i, i + length), path]))
        varies = float(np.mean(C[path].std(axis=0)))
        out.append({"clip": sources.names[best], "start_s": round(i * hop, 3), "frames": length,
                    "seconds": round(length * hop, 3), "clip_time_s": round(q * hop / FINE, 3),
                    "contrast_db": round(stands_out, 2), "varies_db": round(varies, 2),
                    "counts": stands_out >= CONTRAST_DB and varies >= VARIES_DB})
        i += length
    counting = [r for r in out if r["counts"]]
    fragments = [r for r in counting if r["seconds"] >= FRAGMENT_S]
    by_clip = {name: 0 for name in sources.names}
    for r in fragments:
        by_clip[r["clip"]] += r["frames"]
    jumps = sum(1 for a, b in zip(fragments, fragments[1:])
                if a["clip"] != b["clip"] or abs((b["clip_time_s"] - a["clip_time_s"])
                                                  - (b["start_s"] - a["start_s"])) > hop)
    return {"runs": out, "frames": n,
            "longest_s": max((r["seconds"] for r in counting), default=0.0),
            "fragment_share": sum(by_clip.values()) / max(1, n), "fragments": by_clip,
            "jumps": jumps}


def summary(found: dict) -> dict:
    """What a record keeps of ``runs``: longest_s, fragment_share, fragments, jumps."""
    return {key: found[key] for key in ("longest_s", "fragment_share", "fragments", "jumps")}


def verdict(clip: str, shares: dict, found: dict, seconds: float) -> str:
    """The verdict on a render of ``clip`` (see the module's docstring): shares from
    measures.resemblance, ``found`` from ``runs``, ``seconds`` the continuation's length."""
    if found["longest_s"] >= COPY_SHARE * seconds:
        return "copy"
    frag = found["fragments"]
    total = sum(frag.values())
    if found["fragment_share"] >= FRAGMENT_SHARE:
        own = frag.get(clip, 0) / total
        if own >= OWN_FRAGMENTS and shares.get(clip, 0.0) >= KEPT_SHARE:
            return "kept"
        if own < OWN_FRAGMENTS:
            return "merged"
    if sum(shares.get(name, 0.0) for name in frag) >= KEPT_SHARE:
        return "texture"
    return "noise"
