"""Rates, not samples: what the pages say of a cell (a stage, clip and temperature) that holds
several renders, one per render seed. Each render has its verdict
(wavecore.analysis.verbatim.verdict); a cell's verdicts are counted, and the share of the most
frequent one is given with its 90 % Wilson score interval, so that three renders read as three
draws, not as a rate of 0 or 1.

``wilson(k, n)``: the interval; ``verdict_counts(renders)``: each verdict with its count, most
frequent first; ``cells(renders)``: renders grouped by cell, each cell's by seed; ``counts_line``:
the counts and the interval in words, as the report, the page comparing studies and the Jupyter
view print them, with ``unseen(renders)``: the cell's credit to clips not yet trained on (the
measure's own false-credit rate, wavecore.analysis.verbatim.unseen_credit), and
``lift_line(renders)``: what the cell's renders keep of their clip's moments (the mean lift of
each kind with a 90 % t interval over the seeds, the share of tone frames, the loops);
``collapse_line(render)``: why one render collapsed (wavecore.analysis.measures.collapse), with
what the regime map says helps.
"""
from __future__ import annotations

import math

from scipy.stats import t as student

from ..analysis.measures import collapse
from ..analysis.verbatim import VERDICTS

LEVERS = ("more steps per second of song (a shorter clip or a longer stage), input noise "
          "(--input-noise 0.1), the GPU path for the steps a real recording needs; what each did "
          "is in the regime map (docs/findings.md)")

Z90 = 1.6449                       # the standard normal's 95th percentile: a two-sided 90 %


def wilson(k: int, n: int, z: float = Z90) -> tuple[float, float]:
    """The Wilson score interval (lo, hi) on a proportion of k successes in n trials; z = 1.6449
    gives 90 %. ValueError unless 0 <= k <= n and n >= 1."""
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"wilson: k = {k} successes in n = {n} trials is not a proportion")
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def verdict_counts(renders) -> list[tuple[str, int]]:
    """[(verdict, count)] of the renders that have a verdict, most frequent first; ties in
    VERDICTS' order (copy, copy in part, kept, merged, shared, texture, noise), then any other
    word alphabetically."""
    counts: dict[str, int] = {}
    for r in renders:
        if r.verdict is not None:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1

    def rank(v):
        return (VERDICTS.index(v), "") if v in VERDICTS else (len(VERDICTS), v)
    return sorted(counts.items(), key=lambda kv: (-kv[1], rank(kv[0])))


def cells(renders, key=lambda r: (r.stage, r.clip, r.temperature)) -> dict:
    """{key(r): [renders, by seed]}, the keys in the order their first render comes."""
    out: dict = {}
    for r in renders:
        out.setdefault(key(r), []).append(r)
    return {k: sorted(v, key=lambda r: r.seed) for k, v in out.items()}


def unseen(renders) -> float | None:
    """The renders' fragment frames (shared ones included) credited to clips not yet trained on,
    over all their fragment frames; None when no render was judged with it (measure 1)."""
    judged = [r.runs for r in renders if "unseen_credit" in (getattr(r, "runs", None) or {})]
    if not judged:
        return None
    frames = [sum(f["fragments"].values()) + f["shared"] for f in judged]
    total = sum(frames)
    return sum(f["unseen_credit"] * n for f, n in zip(judged, frames)) / total if total else 0.0


def counts_line(renders) -> str | None:
    """A cell's verdicts in words: "kept 2, texture 1 of 3 · kept 2 of 3: 0.67, 90 % interval
    0.25–0.92 · credit to unheard clips 4 %"; None for a cell of one render or whose renders
    have no verdict."""
    counts = verdict_counts(renders)
    n = sum(c for _, c in counts)
    if len(renders) < 2 or not n:
        return None
    top, k = counts[0]
    lo, hi = wilson(k, n)
    each = ", ".join(f"{v} {c}" for v, c in counts)
    u = unseen(renders)
    return (f"{each} of {n} · {top} {k} of {n}: {k / n:.2f}, 90 % interval {lo:.2f}–{hi:.2f}"
            + ("" if u is None else f" · credit to unheard clips {100 * u:.0f} %"))


def mean_interval(values, level: float = 0.9, low: float = -math.inf
                  ) -> tuple[float, float, float]:
    """(mean, lo, hi): the mean of ``values`` with its Student t interval (lo = hi = the mean
    for a single value), lo no lower than ``low`` (0 for a measure that cannot be negative)."""
    n = len(values)
    m = math.fsum(values) / n
    if n < 2:
        return m, m, m
    sd = math.sqrt(math.fsum((v - m) ** 2 for v in values) / (n - 1))
    half = float(student.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return m, max(low, m - half), m + half


def lift_line(renders) -> str | None:
    """A cell's moments in words: "lift (3 seeds): chorus 1.30 (0.95–1.65) · verse 0.80
    (0.60–1.00) · tones 4 % of frames · loops 1 of 3"; kinds without a fragment of the clip in
    any render are left out; None when no render has moments."""
    kept = [r.moments for r in renders if getattr(r, "moments", None)]
    if not kept:
        return None
    parts = []
    for kind in kept[0]["lift"]:
        vals = [k["lift"][kind] for k in kept if k["lift"].get(kind) is not None]
        if vals:
            m, lo, hi = mean_interval(vals, low=0.0)
            parts.append(f"{kind} {m:.2f}" + (f" ({lo:.2f}–{hi:.2f})" if len(vals) > 1 else ""))
    tones = math.fsum(k["tone_share"] for k in kept) / len(kept)
    loops = sum(k["loop_s"] is not None for k in kept)
    n = len(kept)
    head = f"lift ({n} seed{'s' if n > 1 else ''}): " + (" · ".join(parts) or "no fragment")
    return f"{head} · tones {100 * tones:.0f} % of frames · loops {loops} of {n}"


def collapse_line(r) -> str | None:
    """"collapsed: its level is 27 dB under its clip's; what can help: ..." for a render (a
    Render, or a trajectory Point) that collapsed toward silence or noise; None for one that did
    not, or one recorded before renders had levels."""
    found = getattr(r, "runs", None) or {}
    if "clip_level_db" not in found:
        return None
    shares = r.resemblance["shares"] if getattr(r, "resemblance", None) else r.shares
    why = collapse(shares, found["level_db"], found["clip_level_db"])
    return None if why is None else f"collapsed: {why}; what can help: {LEVERS}"
