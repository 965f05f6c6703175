"""``wavecore compare DIR... --out PAGE``: several studies side by side on one self-contained
page (relative links only): their forgetting and transfer, merge maps, within-stage curves on
shared axes, and players for the same clip, stage and temperature in a row (every render
seed's, with the cell's verdicts counted). The typical use is the same clips under different
curricula. The HTML is wavecore/pages/templates/compare.html."""
from __future__ import annotations

import os

from ..engine.files import atomic_write, make_dir
from ..pages import render
from .rates import cells, counts_line
from .record import load
from .report import bar, known_words, pyplot, save_figure


def build(dirs, out: str) -> str:
    """Write the page ``out`` (and its figure in OUT_files/); return its path."""
    if not dirs:
        raise ValueError("compare needs at least one study directory")
    studies = [(os.path.normpath(d), load(d)) for d in dirs]
    page_dir = os.path.dirname(os.path.abspath(out))
    stem = os.path.splitext(os.path.basename(out))[0]
    files = os.path.join(page_dir, f"{stem}_files")
    make_dir(files)
    names = _names([d for d, _ in studies])
    _curves(studies, names, os.path.join(files, "curves.png"))

    def rel(d, p):                      # a study's file, relative to the page
        return os.path.relpath(os.path.join(os.path.abspath(d), p), page_dir)
    clips = studies[0][1].clips
    merge = []
    for s in range(1, max(len(M.stages) for _, M in studies) + 1):
        png = os.path.join("figures", f"merge_stage_{s}.png")
        merge.append([rel(d, png) if os.path.exists(os.path.join(d, png)) else None
                      for d, _ in studies])
    index = [cells(M.renders, key=lambda r: (r.clip, r.stage, r.temperature))
             for _, M in studies]               # a cell's renders, one per render seed
    keys = sorted({k for ix in index for k in ix},      # the first study's clips first
                  key=lambda k: (clips.index(k[0]) if k[0] in clips else 99, k[1], -k[2], k[0]))
    players = [(k, [None if k not in ix else
                    {"renders": [{"src": rel(d, r.path), "r": r} for r in ix[k]], "rec": M,
                     "counts": counts_line(ix[k])}
                    for (d, M), ix in zip(studies, index)]) for k in keys]
    text = render("compare.html", same=all(M.clips == clips for _, M in studies),
                  studies=[{"name": n, "rec": M, "report": rel(d, "report.html")}
                           for (d, M), n in zip(studies, names)],
                  curves=f"{stem}_files/curves.png", merge=merge, players=players, bar=bar,
                  words=known_words)
    atomic_write(out, lambda f: f.write(text), "w")
    return out


def _names(dirs) -> list[str]:
    """Short names for the studies: their directories' names, made unique."""
    base = [os.path.basename(os.path.abspath(d)) or d for d in dirs]
    return [b if base.count(b) == 1 else f"{b} ({i + 1})" for i, b in enumerate(base)]


def _curves(studies, names, path):
    plt = pyplot()
    clips = list(dict.fromkeys(c for _, M in studies for c in M.clips))
    fig, axes = plt.subplots(1, len(clips), figsize=(1.5 + 3.4 * len(clips), 2.8), squeeze=False,
                             sharey=True)
    cmap = plt.get_cmap("tab10")
    for c, ax in zip(clips, axes[0]):
        for i, ((_, M), n) in enumerate(zip(studies, names)):
            pts = M.monitor or []
            if c not in M.clips or not pts:
                continue
            k = M.clips.index(c)
            ax.plot([p[0] for p in pts], [p[2][k] for p in pts], lw=1.0, marker=".", ms=2,
                    color=cmap(i % 10), label=n)
            for st in M.stages[:-1]:
                ax.axvline(st.end_step, color=cmap(i % 10), lw=0.6, ls="--", alpha=0.6)
        ax.set_title(c, fontsize=9)
        ax.set_xlabel("step")
    axes[0, 0].set_ylabel("bits/sample")
    if any(M.monitor for _, M in studies):
        axes[0, -1].legend(fontsize=7)
    save_figure(plt, fig, path)
