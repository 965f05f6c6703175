"""``wavecore compare DIR... --out PAGE``: several studies side by side on one self-contained
page (relative links only): their forgetting and transfer, merge maps, within-stage curves on
shared axes, and players for the same clip, stage and temperature in a row. The typical use is
the same clips under different curricula."""
from __future__ import annotations

import html
import os

from ..engine.files import atomic_write, make_dir
from .record import load
from .report import CSS, audio_tag, curriculum_words, num, pyplot, save_figure, share_bar


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
    e = html.escape
    clips = studies[0][1].clips
    same = all(M.clips == clips for _, M in studies)
    out_html = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>wavecore: {len(studies)} "
                f"studies compared</title><style>{CSS}</style></head><body>",
                f"<h1>{len(studies)} studies side by side</h1>",
                "" if same else "<p id='different'><b>These studies used different clips</b>; rows "
                "below match clips by name.</p>",
                "<table id='studies'><tr><th>study</th><th>curriculum</th><th>stages</th>"
                "<th>average accuracy (seen clips), after the last stage</th>"
                "<th>average forgetting (accuracy / bits)</th><th>BWT (accuracy / bits)</th>"
                "<th>FWT (accuracy / bits)</th><th>wall time</th></tr>"]
    for (d, M), n in zip(studies, names):
        ma, mb = M.measures["accuracy"], M.measures["bits"]
        S = len(M.stages)
        out_html.append(
            f"<tr><td><a href='{e(rel(d, 'report.html'))}'>{e(n)}</a></td><td>{curriculum_words(M)}</td>"
            f"<td>{S} of {len(M.clips)}</td><td>{ma['average'][-1]:.3f}</td>"
            f"<td>{num(ma['average_forgetting'][S] if S > 1 else None)} / "
            f"{num(mb['average_forgetting'][S] if S > 1 else None)}</td>"
            f"<td>{num(ma['bwt'], '+.3f')} / {num(mb['bwt'], '+.3f')}</td>"
            f"<td>{num(ma['fwt'], '+.3f')} / {num(mb['fwt'], '+.3f')}</td>"
            f"<td>{sum(s.seconds for s in M.stages):.0f} s</td></tr>")
    out_html.append("</table><p class='note'>Forgetting (Chaudhry et al. 2018): how far each earlier "
                    "clip fell below its best; BWT / FWT (Lopez-Paz &amp; Ranzato 2017): accuracy &lt; 0 "
                    "or bits &gt; 0 means later stages made earlier clips worse / earlier stages did not "
                    "help later clips. Definitions: wavecore/analysis/measures.py.</p>")
    out_html.append("<h2 id='curves'>Within-stage curves</h2><p class='note'>Every clip's teacher-forced "
                    "bits per sample during each run, on shared axes (one panel per clip, one line per "
                    "study; dashed: the ends of stages).</p>"
                    f"<img src='{e(stem)}_files/curves.png' alt='within-stage curves'>")
    out_html.append("<h2 id='merge'>Merge maps</h2><table><tr><th>stage</th>"
                    + "".join(f"<th>{e(n)}</th>" for n in names) + "</tr>")
    for s in range(1, max(len(M.stages) for _, M in studies) + 1):
        cells = []
        for d, M in studies:
            png = os.path.join(d, "figures", f"merge_stage_{s}.png")
            cells.append(f"<td class='cell'><img src='{e(rel(d, os.path.join('figures', f'merge_stage_{s}.png')))}' "
                         f"alt='merge map'></td>" if os.path.exists(png) else "<td>–</td>")
        out_html.append(f"<tr><td>{s}</td>" + "".join(cells) + "</tr>")
    out_html.append("</table>")
    out_html.append("<h2 id='players'>The same reproduction in each study</h2><table><tr><th>clip, stage, "
                    "temperature</th>" + "".join(f"<th>{e(n)}</th>" for n in names) + "</tr>")
    index = [{(r.clip, r.stage, r.temperature): r for r in M.renders} for _, M in studies]
    keys = sorted({k for ix in index for k in ix}, key=lambda k: (clips.index(k[0]) if k[0] in clips else 99,
                                                                  k[1], -k[2]))
    for k in keys:
        row = [f"<tr><td>{e(k[0])}, after stage {k[1]}, T = {k[2]:g}</td>"]
        for (d, M), ix in zip(studies, index):
            r = ix.get(k)
            row.append("<td>–</td>" if r is None else
                       f"<td class='cell'>{audio_tag(rel(d, r.path))}{share_bar(r, M)}</td>")
        out_html.append("".join(row) + "</tr>")
    out_html.append("</table></body></html>")
    atomic_write(out, lambda f: f.write("\n".join(out_html)), "w")
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
    for j, (c, ax) in enumerate(zip(clips, axes[0])):
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
