"""A study's renders judged again by the current measure, from the files it wrote.

A study writes every render as μ-law audio in 16-bit WAV. μ-law's narrowest step (about five
16-bit steps, next to zero, at 256 classes) is far wider than the WAV's rounding, so encoding a
file again gives back the classes the network drew, and decoding them the very samples the
study judged: judging them again by the same measure gives the same numbers, and by a newer one
(wavecore.analysis.verbatim.MEASURE) what it would have said, with no training run again.

``rejudge(dir)`` does that for every primed render, every trajectory point and every unprimed
render, against the clips as the study heard them (``originals/``, then its references in
``references/``) and the moments it recorded, and writes study.json (and metrics.json where
there is one) again, atomically. ``rejudge(dir, also=[(name, audio)])`` judges them against
more clips beside those: songs the study never trained on (what ``Study(references=...)`` does
from the start), so that what its clips share with them is told apart (*shared*).
"""
from __future__ import annotations

import os
from collections import Counter

import numpy as np
import soundfile as sf

from ..analysis.measures import Sources
from ..analysis.moments import ClipMoments
from ..analysis.verbatim import MEASURE
from ..engine.audio import mu_law_decode, mu_law_encode
from . import record as _record
from .activities import judged
from .settings import prime_length


def heard(path, sample_rate: int, classes: int) -> np.ndarray:
    """The samples a study judged, from the 16-bit WAV it wrote (ValueError naming the file
    when it is missing or at another rate)."""
    try:
        a, sr = sf.read(path, dtype="float32", always_2d=False)
    except (OSError, RuntimeError) as e:
        raise ValueError(f"{path}: cannot read the render ({e})") from None
    if sr != sample_rate:
        raise ValueError(f"{path}: {sr} Hz, the study's renders are {sample_rate} Hz")
    return mu_law_decode(mu_law_encode(a, classes), classes)


def rejudge(out_dir, also=()) -> Counter:
    """Judge every render of the study in ``out_dir`` again by the current measure and write
    its record; returns how the verdicts went: {(before, after): count} over primed renders and
    trajectory points. ``also``: [(name, audio at the study's rate)], more clips the renders are
    attributed to, after the study's own (heard through its μ-law). ValueError naming the file
    for a study or render that cannot be read, or a clip of ``also`` named like the study's."""
    identity, rec = _record.read_state(out_dir)
    sr, classes = rec.sample_rate, identity["config"]["classes"]
    P = prime_length(identity["settings"]["prime"], rec.receptive_field, sr)

    def audio(rel):
        return heard(os.path.join(out_dir, rel), sr, classes)

    clips = [(name, audio(rel)) for name, rel in zip(rec.clips + rec.references,
                                                     rec.originals + rec.reference_files)]
    for name, a in also:
        if name in rec.clips + rec.references:
            raise ValueError(f"{out_dir}: the study already has a clip named {name}")
        clips.append((name, mu_law_decode(mu_law_encode(np.asarray(a, np.float32), classes),
                                          classes)))
    sources = Sources(clips, sr, classes)
    moments = {name: ClipMoments(name, a, sr, rec.moments[name]["moments"],
                                 rec.moments[name]["from"])
               for name, a in clips if name in rec.moments}
    length = {name: len(a) for name, a in clips}
    went = Counter()
    for r in rec.renders:                              # file: prime + continuation
        own = r.primed_by == r.clip
        available = (length[r.clip] - (r.prime_samples if own else 0)) / sr
        like, found, v, kept = judged(audio(r.path)[r.prime_samples:], r.clip, sources, sr,
                                      r.stage, available, moments.get(r.clip))
        went[(r.verdict, v)] += 1
        r.resemblance, r.runs, r.verdict, r.moments = like, found, v, kept
    for p in rec.trajectory:                           # primed by its own clip's start
        like, found, v, kept = judged(audio(p.path)[P:], p.clip, sources, sr, p.stage,
                                      (length[p.clip] - P) / sr, moments.get(p.clip))
        went[(p.verdict, v)] += 1
        p.shares, p.runs, p.verdict, p.moments = like["shares"], found, v, kept
    for u in rec.unprimed:                             # file: the render alone
        u.resemblance, u.runs, _, _ = judged(audio(u.path), None, sources, sr, u.stage)
    _record.write_state(out_dir, identity, rec)
    if os.path.exists(os.path.join(out_dir, "metrics.json")):
        _record.write_metrics(out_dir, rec)
    return went


def said(went: Counter) -> str:
    """"judged 24 renders again by measure 3: 2 changed (kept -> texture 2)"."""
    n = sum(went.values())
    changed = {k: c for k, c in went.items() if k[0] != k[1]}
    head = f"judged {n} render{'s' if n != 1 else ''} again by measure {MEASURE}: "
    if not changed:
        return head + "no verdict changed"
    return head + f"{sum(changed.values())} changed (" + ", ".join(
        f"{a} -> {b} {c}" for (a, b), c in sorted(changed.items(), key=lambda kv: -kv[1])) + ")"
