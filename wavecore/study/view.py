"""A study in Jupyter: its record shown as HTML (the stages, the accuracy heatmap, the latest
merge map, one player per render of the latest stage, every render seed's, with each cell's
verdicts counted), audio and figures embedded. The markup is wavecore/pages/templates/study.html.
"""
from __future__ import annotations

import os
import tempfile

from ..display import png_uri, wav_uri
from ..engine import audio as _audio
from ..pages import render
from . import report
from .rates import cells, collapse_line, counts_line


def study_html(rec, out_dir: str, title: str = "Study") -> str:
    """A study's record (wavecore.study.record) and the files in out_dir: the stages table, the
    accuracy heatmap, the latest stage's merge map and one player per render of the latest
    stage (all its render seeds; under a cell of several, its verdicts counted)."""
    S, K = len(rec.stages), len(rec.clips)
    page = dict(title=title, S=S, K=K, curriculum=rec.curriculum.name, clips=rec.clips,
                out_dir=os.path.abspath(out_dir))
    if not S:
        return render("study.html", **page)
    rows = [(st.stage, ", ".join(st.clips), st.steps, st.ended, f"{st.seconds:.0f} s",
             " ".join(f"{a:.3f}" for a in rec.accuracy[st.stage])) for st in rec.stages]
    head = ["stage", "trained on", "steps", "ended", "wall time", "accuracy of each clip after it"]
    plt = report.pyplot()
    images = []
    with tempfile.TemporaryDirectory() as d:
        report.heatmap(plt, rec.accuracy, rec.clips, os.path.join(d, "a.png"),
                       "Teacher-forced accuracy (bold: clip already trained on)", ".2f",
                       "viridis", 0, 1)
        images.append((png_uri(os.path.join(d, "a.png")), "accuracy heatmap"))
        if any(r.resemblance for r in rec.renders + rec.unprimed):
            report.merge_map(plt, rec, S, os.path.join(d, "m.png"))
            images.append((png_uri(os.path.join(d, "m.png")), f"merge map, stage {S}"))
    sr = rec.sample_rate
    players = []                        # (data: URI, caption, the cell's counts after its last)
    for cell in cells([r for r in rec.renders + rec.unprimed if r.stage == S],
                      key=lambda r: (r.clip, r.temperature)).values():
        for r in cell:
            sh = (r.resemblance or {}).get("shares", {})
            top = ", ".join(f"{k} {100 * v:.0f}%"
                            for k, v in sorted(sh.items(), key=lambda kv: -kv[1])[:3])
            label = (f"{r.clip}, T = {r.temperature:g}"
                     + (f", seed {r.seed}" if len(cell) > 1 else "")
                     + (f": {top}" if top else "") + (f" ({r.verdict})" if r.verdict else "")
                     + (f"; {collapse_line(r)}" if collapse_line(r) else ""))
            players.append((wav_uri(_audio.load(os.path.join(out_dir, r.path), sr), sr), label,
                            counts_line(cell) if r is cell[-1] else None))
    return render("study.html", **page, rows=rows, head=head, images=images, players=players)


class StudyResults:
    """What ``Study.run`` returns: the study's record (its fields read through: ``.stages``,
    ``.accuracy``, ``.measures`` ...) and ``out_dir``, where its files are; in Jupyter it shows
    itself."""

    def __init__(self, record, out_dir: str):
        self.record, self.out_dir = record, out_dir

    def __getattr__(self, name):
        return getattr(self.record, name)

    def _repr_html_(self) -> str:
        return study_html(self.record, self.out_dir, "Study results")
