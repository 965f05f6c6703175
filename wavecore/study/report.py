"""The study's report: figures (matplotlib, PNG) and one self-contained report.html with
relative links only, plus metrics.json with every number (wavecore.study.record).

The parts are public, for other pages (``wavecore compare``, the Jupyter view): ``pyplot()``,
one function per figure (each takes the pyplot module, what it draws and the PNG's path),
``save_figure``, ``share_bar``, ``audio_tag``, ``curriculum_words``, ``page`` and ``build``.
"""
from __future__ import annotations

import html
import os
import warnings

import numpy as np

from ..engine import audio as _audio
from ..training.curriculum import CURRICULA
from ..engine.files import atomic_write, make_dir
from ..analysis.measures import stft_db
from .activities import KINDS
from .record import write_metrics


def pyplot():
    """matplotlib.pyplot on the Agg backend with the report's style (imported here, at plot
    time: matplotlib is slow to import and a study that writes no report never needs it)."""
    import matplotlib           # at plot time: slow to import, and only the report draws
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # (after choosing the Agg backend)
    plt.rcParams.update({"figure.dpi": 100, "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False})
    return plt


def save_figure(plt, fig, path):
    """Lay out (quietly: a figure too small for tight layout is kept as drawn), write, close."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def heatmap(plt, matrix, clips, path, title, fmt, cmap, vmin=None, vmax=None):
    """A stage x clip matrix (row 0: untrained); bold: the clip was already trained on."""
    R = np.array(matrix)
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * R.shape[1], 1.0 + 0.55 * R.shape[0]))
    im = ax.imshow(R, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(R.shape[1]), clips)
    ax.set_yticks(range(R.shape[0]), ["untrained"] + [f"after stage {i}" for i in range(1, R.shape[0])])
    for i in range(R.shape[0]):
        for j in range(R.shape[1]):
            seen = i > j
            ax.text(j, i, format(R[i, j], fmt), ha="center", va="center", fontsize=9,
                    color="black" if _luma(im.cmap(im.norm(R[i, j]))) > 0.5 else "white",
                    fontweight="bold" if seen else "normal")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04)
    save_figure(plt, fig, path)


def _luma(rgba):
    return 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]


def loss_curve(plt, rec, path):
    fig, ax = plt.subplots(figsize=(8, 3))
    if rec.loss_curve:
        c = np.array(rec.loss_curve)
        ax.plot(c[:, 0], c[:, 1], lw=0.8, color="#444")
    for st in rec.stages:
        ax.axvline(st.end_step, color="#c33", lw=0.8, ls="--")
        ax.text(st.end_step, ax.get_ylim()[1], f" end of stage {st.stage}", color="#c33",
                fontsize=7, va="top", rotation=90)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (bits/sample)")
    ax.set_yscale("log")
    ax.set_title("Training loss (windows of the clips of the current stage)")
    save_figure(plt, fig, path)


def traces(plt, rec, path):
    K = len(rec.clips)
    fig, axes = plt.subplots(K, 1, figsize=(8, 1.9 * K), squeeze=False)
    cmap = plt.get_cmap("viridis")
    S = len(rec.traces)
    for j, ax in enumerate(axes[:, 0]):
        blocks = (rec.trace_blocks or [None] * K)[j] or {"starts": [0], "bins": len(rec.traces[0][j])}
        nb, sr, dt = blocks["bins"], rec.sample_rate, rec.trace_bin_seconds
        for s in range(S):
            y = np.array(rec.traces[s][j])
            for b, start in enumerate(blocks["starts"]):   # the scored blocks, where they lie
                ax.plot(start / sr + np.arange(nb) * dt, y[b * nb:(b + 1) * nb], lw=0.8,
                        color=cmap(s / max(1, S - 1)),
                        label=None if b else "untrained" if s == 0 else f"after stage {s}")
        ax.set_ylabel("bits/sample")
        ax.set_title(f"{rec.clips[j]}: where in the clip the network knows what comes next",
                     fontsize=9)
        ax.set_ylim(bottom=0)
    axes[-1, 0].set_xlabel("time in clip (s)")
    axes[0, 0].legend(fontsize=7, ncol=min(S, 5), loc="upper right")
    save_figure(plt, fig, path)


def _labels(rec) -> list[str]:
    """The resemblance shares' names: the clips, silence, noise, novel."""
    return list(rec.clips) + ["silence", "noise", "novel"]


TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
         "#bcbd22", "#17becf"]


def _colors(rec) -> list[str]:
    """One colour per source: the clips from tab10, then silence, noise and novel in greys."""
    return [TAB10[j % 10] for j in range(len(rec.clips))] + ["#e6e6e6", "#9a9a9a", "#333333"]


def _shares(r, labels) -> list[float]:
    sh = (r.resemblance or {}).get("shares", {})
    return [sh.get(k, 0.0) for k in labels]


def merge_map(plt, rec, stage, path):
    """Rendered clip x source heatmaps of one stage, one panel per temperature."""
    labels, temps = _labels(rec), rec.temperatures
    rows = [r for r in rec.renders + rec.unprimed if r.stage == stage]
    names = list(dict.fromkeys(r.clip for r in rows))
    fig, axes = plt.subplots(1, len(temps), figsize=(0.6 + 0.62 * len(labels) * len(temps),
                                                     0.9 + 0.42 * len(names)), squeeze=False)
    for ax, t in zip(axes[0], temps):
        by = {r.clip: _shares(r, labels) for r in rows if r.temperature == t}
        H = np.array([by.get(n, [np.nan] * len(labels)) for n in names])
        ax.imshow(H, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(names)), names if ax is axes[0, 0] else [""] * len(names), fontsize=7)
        for i in range(H.shape[0]):
            for j in range(H.shape[1]):
                if np.isfinite(H[i, j]):
                    ax.text(j, i, f"{100 * H[i, j]:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if H[i, j] > 0.55 else "black")
        ax.set_title(f"T = {t:g}", fontsize=8)
    fig.suptitle(f"Merge map after stage {stage}: where each render's frames come from (%)", fontsize=9)
    save_figure(plt, fig, path)


def sources_by_stage(plt, rec, j, path):
    """Clip j's reproductions' shares, stacked, stage by stage; one panel per temperature."""
    labels, temps, colors = _labels(rec), rec.temperatures, _colors(rec)
    clip = rec.clips[j]
    fig, axes = plt.subplots(1, len(temps), figsize=(1.4 + 2.2 * len(temps), 2.3), squeeze=False,
                             sharey=True)
    for ax, t in zip(axes[0], temps):
        rs = sorted((r for r in rec.renders if r.clip == clip and r.temperature == t),
                    key=lambda r: r.stage)
        x = [r.stage for r in rs]
        bottom = np.zeros(len(rs))
        for k, name in enumerate(labels):
            v = np.array([_shares(r, labels)[k] for r in rs])
            ax.bar(x, v, bottom=bottom, color=colors[k], width=0.7, label=name)
            bottom += v
        ax.set_xticks(x, [f"after {s}" for s in x], fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title(f"T = {t:g}", fontsize=8)
    axes[0, 0].set_ylabel("share of frames")
    axes[0, -1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.suptitle(f"What {clip}'s reproduction is made of, stage by stage", fontsize=9)
    save_figure(plt, fig, path)


def moments(plt, rec, j, path):
    """Which moments of clip j the stage's renders draw on: a strip per stage under the
    original's spectrogram (same time axis)."""
    clip, S = rec.clips[j], len(rec.stages)
    rows, dt = [], 0.1
    for s in range(1, S + 1):
        h = None
        for r in rec.renders + rec.unprimed:
            res = r.resemblance
            if r.stage == s and res:
                v = np.array(res["moments"][clip], np.float64)
                h, dt = (v if h is None else h + v), res["moment_bin_s"]
        rows.append(h)
    n = max((len(h) for h in rows if h is not None), default=1)
    H = np.array([np.zeros(n) if h is None else h / max(1.0, h.sum()) for h in rows])
    fig, ax = plt.subplots(figsize=(4.2, 0.45 + 0.22 * S))
    from matplotlib.colors import PowerNorm      # matplotlib at plot time (see pyplot)
    ax.imshow(H, aspect="auto", cmap="Greens", norm=PowerNorm(0.5, vmin=0, vmax=max(H.max(), 1e-9)),
              interpolation="nearest", extent=[0, n * dt, S + 0.5, 0.5])
    ax.set_yticks(range(1, S + 1), [f"after {s}" for s in range(1, S + 1)], fontsize=6)
    ax.tick_params(axis="x", labelsize=6)
    ax.set_title(f"moments of {clip} the renders draw on", fontsize=7)
    save_figure(plt, fig, path)


def monitor_curves(plt, rec, path):
    """Teacher-forced bits/sample of every clip during the whole run (fixed positions), with the
    stage boundaries: a new clip's arrival, the drop it causes and any recovery."""
    fig, ax = plt.subplots(figsize=(8, 3))
    pts = rec.monitor
    if pts:
        steps = np.array([p[0] for p in pts])
        B = np.array([p[2] for p in pts])
        cmap = plt.get_cmap("tab10")
        for j, c in enumerate(rec.clips):
            ax.plot(steps, B[:, j], lw=1.0, marker=".", ms=2.5, color=cmap(j % 10), label=c)
    for st in rec.stages:
        ax.axvline(st.end_step, color="#c33", lw=0.8, ls="--")
    ax.set_xlabel("step")
    ax.set_ylabel("bits/sample (teacher-forced)")
    ax.set_title(f"Within-stage curves ({rec.curriculum.name}): every clip, "
                 "seen or not; dashed: end of a stage", fontsize=9)
    if pts:
        ax.legend(fontsize=7)
    save_figure(plt, fig, path)


def share_bar(r, rec) -> str:
    """A render's shares as an inline stacked bar and its largest parts in words."""
    res = r.resemblance
    if not res:
        return ""
    labels, colors = _labels(rec), _colors(rec)
    sh = _shares(r, labels)
    bar = "".join(f"<span style='width:{100 * v:.1f}%;background:{c}' title='{html.escape(k)} "
                  f"{100 * v:.0f}%'></span>" for k, v, c in zip(labels, sh, colors) if v > 0)
    top = sorted(zip(sh, labels), reverse=True)[:3]
    words = " · ".join(f"{html.escape(k)} {100 * v:.0f}%" for v, k in top if v >= 0.005)
    return f"<div class='shares'>{bar}</div><div class='note'>{words}</div>" + runs_words(r)


def runs_words(r) -> str:
    """A render's verdict, longest verbatim run, share of frames in fragments and jumps
    (wavecore.analysis.verbatim), in one line; nothing for a render measured before runs were."""
    if not r.runs:
        return ""
    v = f"<b class='verdict'>{r.verdict}</b> · " if r.verdict else ""
    return (f"<div class='note'>{v}longest run {r.runs['longest_s']:.2f} s · in fragments "
            f"{100 * r.runs['fragment_share']:.0f} % · {r.runs['jumps']} jumps</div>")


def spectrogram(plt, x, sr, path, title):
    fig, ax = plt.subplots(figsize=(4.2, 1.6))
    S = stft_db(x)
    ax.imshow(S.T, origin="lower", aspect="auto", cmap="magma", vmin=-60, vmax=S.max(),
              extent=[0, len(x) / sr, 0, sr / 2000])
    ax.set_ylabel("kHz")
    ax.set_title(title, fontsize=8)
    save_figure(plt, fig, path)


def audio_tag(rel):
    return f'<audio controls preload="none" src="{html.escape(rel)}"></audio>'


def num(v, spec=".3f"):
    """A number for a table cell; a dash for None."""
    return "–" if v is None else format(v, spec)


def build(out_dir, rec) -> str:
    """Write figures/, metrics.json and report.html into out_dir for a study's record
    (wavecore.study.record); return the report's path. A spectrogram already in figures/ is kept
    (the report is rebuilt after every stage)."""
    plt = pyplot()
    fig_dir = os.path.join(out_dir, "figures")
    make_dir(fig_dir)
    sr = rec.sample_rate
    heatmap(plt, rec.accuracy, rec.clips, os.path.join(fig_dir, "accuracy.png"),
            "Teacher-forced top-1 accuracy (bold: clip already trained on)", ".2f", "viridis", 0, 1)
    heatmap(plt, rec.bits, rec.clips, os.path.join(fig_dir, "bits.png"),
            "Teacher-forced bits per sample (lower is better)", ".2f", "magma_r", 0, None)
    loss_curve(plt, rec, os.path.join(fig_dir, "loss.png"))
    traces(plt, rec, os.path.join(fig_dir, "traces.png"))
    monitor_curves(plt, rec, os.path.join(fig_dir, "monitor.png"))
    with_shares = any(r.resemblance for r in rec.renders + rec.unprimed)
    for st in rec.stages if with_shares else []:
        png = os.path.join(fig_dir, f"merge_stage_{st.stage}.png")
        if not os.path.exists(png):                          # a stage's renders do not change
            merge_map(plt, rec, st.stage, png)
    for j in range(len(rec.clips)) if with_shares else []:
        sources_by_stage(plt, rec, j, os.path.join(fig_dir, f"sources_{j + 1}.png"))
        moments(plt, rec, j, os.path.join(fig_dir, f"moments_{j + 1}.png"))
    originals = rec.originals                   # originals[j]: clip j's file, relative
    for k, rel in enumerate(originals):
        png = os.path.join(fig_dir, f"spec_original_{k + 1}.png")
        if not os.path.exists(png):                          # drawn by an earlier stage's report
            spectrogram(plt, _audio.load(os.path.join(out_dir, rel), sr), sr, png,
                         f"original: {rec.clips[k]}")
    for r in rec.renders + rec.unprimed:
        png = os.path.join(out_dir, r.spectrogram)
        if not os.path.exists(png):                          # drawn by an earlier stage's report
            spectrogram(plt, _audio.load(os.path.join(out_dir, r.path), sr), sr, png,
                        f"stage {r.stage}, {r.clip}, T={r.temperature:g}")
    write_metrics(out_dir, rec)
    path = os.path.join(out_dir, "report.html")
    atomic_write(path, lambda f: f.write(page(rec)), "w")
    return path


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.3em .6em;
text-align:center;vertical-align:top}th{background:#f4f4f4}audio{width:210px;height:32px}
img{max-width:100%}.cell img{width:260px;display:block}.note{color:#555;font-size:.9em}
.shares{display:flex;width:260px;height:9px;margin:3px 0;border:1px solid #ccc}.shares span{display:block;height:100%}"""


PARTS = [("training", "training")] + [(k.name, k.title) for k in KINDS]   # a stage's time split


def page(rec) -> str:
    """report.html's text for a study's record."""
    clips, temps, originals = rec.clips, rec.temperatures, rec.originals
    K = len(clips)
    e = html.escape
    done = len(rec.stages)
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>wavecore study</title>"
           f"<style>{CSS}</style></head><body>",
           "<h1>How the WaveNet learned and forgot</h1>",
           "" if done == K else f"<p id='partial'><b>In progress: {done} of {K} stages done.</b> "
           "This page is rewritten after every stage.</p>",
           f"<p>{K} clips added one per stage: {', '.join(e(c) for c in clips)}. Sample rate {rec.sample_rate} Hz, "
           f"receptive field {rec.receptive_field} samples. After every stage each clip is scored "
           "teacher-forced and the seen clips are reproduced at each temperature, primed with their "
           f"first moments.</p><p>{curriculum_words(rec)}</p>",
           "<h2 id='stages'>Stages</h2><table><tr><th>stage</th><th>trained on</th><th>steps</th>"
           "<th>ended</th><th>wall time</th><th>of it: " + " / ".join(t for _, t in PARTS) + "</th></tr>"]
    for st in rec.stages:
        split = " / ".join(f"{st.time.get(k, 0):.0f} s" for k, _ in PARTS)
        out.append(f"<tr><td>{st.stage}</td><td>{e(', '.join(st.clips))}</td><td>{st.steps}</td>"
                   f"<td>{e(st.ended)}</td><td>{st.seconds:.0f} s</td><td>{split}</td></tr>")
    out.append("</table>")
    out.append("<h2 id='reproductions'>Reproductions</h2><p class='note'>Each render starts with the "
               "original's first moments (the prime) and continues on its own. LSD: log-spectral distance "
               "to the original continuation (dB, lower is closer); follows: how long it stays within 12 dB "
               "of the original before diverging. A run is a stretch that follows one clip frame by frame; "
               "the verdict (wavecore/analysis/verbatim.py): <b>copy</b> (one run over half the continuation or more), "
               "<b>kept</b> (mostly its own clip, in fragments of 0.1 s or more, no copy), <b>merged</b> "
               "(fragments mostly from other clips), <b>texture</b> (frames nearest the clips, few "
               "fragments) or <b>noise</b>.</p>")
    by = {(r.stage, r.clip, r.temperature): r for r in rec.renders}
    shares = any(r.resemblance for r in rec.renders + rec.unprimed)
    for j, c in enumerate(clips):
        out.append(f"<h3>{e(c)}</h3><table><tr><th>original</th>" +
                   "".join(f"<th>T = {t:g}</th>" for t in temps) + "</tr>")
        orig = originals[j]
        for st in rec.stages:
            s = st.stage
            if s <= j:
                continue
            row = [f"<tr><td class='cell'>after stage {s}<br>"]
            if s == j + 1:
                strip = (f"<img src='figures/moments_{j + 1}.png' alt='moments of {e(c)} drawn on'>"
                         if shares else "")
                row[0] = (f"<tr><td class='cell'>{audio_tag(orig)}<img src='figures/spec_original_{j + 1}.png' "
                          f"alt='original {e(c)}'>{strip}after stage {s}")
            row[0] += "</td>"
            for t in temps:
                r = by.get((s, c, t))
                if r is None:
                    row.append("<td>–</td>")
                    continue
                how = (f"LSD {r.lsd_db:.1f} dB, follows {r.follow_s:.2f} s" if r.lsd_db is not None
                       else f"primed by {e(r.primed_by)}")
                row.append(f"<td class='cell'>{audio_tag(r.path)}<img src='{e(r.spectrogram)}' "
                           f"alt='render'>{share_bar(r, rec)}{how}</td>")
            out.append("".join(row) + "</tr>")
        out.append("</table>")
    out.append("<h3>Unprimed (after silence)</h3><table><tr><th>stage</th>" +
               "".join(f"<th>T = {t:g}</th>" for t in temps) + "</tr>")
    for st in rec.stages:
        cells = [r for r in rec.unprimed if r.stage == st.stage]
        out.append(f"<tr><td>{st.stage}</td>" + "".join(
            f"<td class='cell'>{audio_tag(r.path)}<img src='{e(r.spectrogram)}' alt='unprimed'>"
            f"{share_bar(r, rec)}</td>" for r in cells) + "</tr>")
    out.append("</table>")
    if shares:
        out.append("<h2 id='merge'>What the reproductions became</h2><p class='note'>Every frame (32 ms, "
                   "log-mel) of a render's continuation is attributed to its nearest frame among all "
                   "clips' frames and noise at the clips' levels; frames below -60 dBFS are silence, frames "
                   "farther from everything than the clips' own typical separation "
                   f"(τ = {_tau(rec):.1f} dB) are novel (wavecore/analysis/measures.py). A merge map shows, per "
                   "rendered clip, the share of its frames taken from each source; the strips under the "
                   "originals above show which moments of each clip the stage's renders draw on.</p>")
        for st in rec.stages:
            out.append(f"<img src='figures/merge_stage_{st.stage}.png' alt='merge map, stage {st.stage}'>")
        out.append("<h3>Each clip's reproduction, stage by stage</h3>")
        for j in range(K):
            if any(r.clip == clips[j] for r in rec.renders):
                out.append(f"<img src='figures/sources_{j + 1}.png' alt='sources of {e(clips[j])}'>")
    out.append("<h2 id='matrices'>What it knows: R[stage, clip]</h2>"
               "<img src='figures/accuracy.png' alt='accuracy matrix'> <img src='figures/bits.png' alt='bits matrix'>")
    out.append(measures_table(rec))
    out.append(held_out_table(rec))
    out.append("<h2 id='traces'>Where in each clip it knows what comes next</h2>"
               "<p class='note'>Teacher-forced bits per sample along each clip, averaged over "
               f"{rec.trace_bin_seconds * 1000:g} ms bins, one line per stage"
               + (". Long clips are scored at the same evenly spread blocks of positions after every "
                  "stage (the gaps between the lines)" if any(len(b["starts"]) > 1 for b in
                                                              rec.trace_blocks or []) else "")
               + ".</p>"
               "<img src='figures/traces.png' alt='per-position NLL traces'>")
    out.append("<h2 id='monitor'>Within each stage</h2><p class='note'>Teacher-forced bits per sample "
               f"of every clip on {rec.eval_positions} fixed positions, every "
               f"{rec.monitor_every} steps and 1, 2, 4, ... steps into each stage: a clip's "
               "rise right after a new one arrives, and any recovery, is the stability gap (De Lange et "
               "al., ICLR 2023).</p><img src='figures/monitor.png' alt='within-stage curves'>")
    out.append("<h2 id='loss'>Training loss</h2><img src='figures/loss.png' alt='loss curve'>")
    out.append(trajectory_table(rec))
    if rec.timeline:
        out.append("<h2 id='timeline'>Hearing it learn</h2><p class='note'>Short renders (T = 0.7) of "
                   "the newest clip during each stage.</p><table><tr><th>stage</th><th>step</th><th>clip</th>"
                   "<th>render</th></tr>")
        for t in rec.timeline:
            out.append(f"<tr><td>{t.stage}</td><td>{t.step}</td><td>{e(t.clip)}</td>"
                       f"<td>{audio_tag(t.path)}</td></tr>")
        out.append("</table>")
    out.append("<p class='note'>Every number is in <a href='metrics.json'>metrics.json</a>. "
               "Definitions: see wavecore/analysis/measures.py.</p></body></html>")
    return "\n".join(out)


def _tau(rec) -> float:
    for r in rec.renders + rec.unprimed:
        if r.resemblance:
            return r.resemblance["tau_db"]
    return float("nan")


def curriculum_words(rec) -> str:
    """The study's curriculum in words (wavecore.training.curriculum's own, for any registered one)."""
    cu = rec.curriculum
    known = CURRICULA.get(cu.name)
    what = f" ({known.words.format(replay=100 * (cu.replay or 0))})" if known else ""
    return (f"Curriculum: <b>{html.escape(cu.name)}</b>{what}; windows {cu.order}"
            + ("" if not cu.ewc else f"; EWC λ = {cu.ewc.strength:g}, {cu.ewc.fisher} Fisher over "
               f"{cu.ewc.positions} positions per stage") + ".")


def trajectory_table(rec) -> str:
    """The renders inside each stage (``--trajectory``): one row per point, one cell per
    temperature with its player and verdict."""
    if not rec.trajectory:
        return ""
    e = html.escape
    temps = list(dict.fromkeys(p.temperature for p in rec.trajectory))
    rows = {}
    for p in rec.trajectory:
        rows.setdefault((p.stage, p.step, p.fraction, p.clip), {})[p.temperature] = p
    out = ["<h2 id='trajectory'>The way to a copy</h2><p class='note'>Renders of the newest clip at "
           "1/2<sup>N</sup> ... 1/2 of each stage (the stage's own renders are its end), each with its "
           "verdict: from noise, through texture and what is kept, to a copy.</p><table id='trajectory-table'>"
           "<tr><th>stage</th><th>step</th><th>clip</th>" + "".join(f"<th>T = {t:g}</th>" for t in temps) + "</tr>"]
    for (stage, step, fraction, clip), by in rows.items():
        cells = "".join(
            "<td>–</td>" if by.get(t) is None else
            f"<td class='cell'>{audio_tag(by[t].path)}{runs_words(by[t])}</td>" for t in temps)
        out.append(f"<tr><td>{stage}</td><td>{step} ({100 * fraction:.0f} %)</td><td>{e(clip)}</td>{cells}</tr>")
    return "\n".join(out + ["</table>"])


def held_out_table(rec) -> str:
    """With a held-out tail: each clip's teacher-forced bits and accuracy on its trained part
    and on its tail, stage by stage (a gap that grows says memorising)."""
    h = rec.held_out
    if not h:
        return ""
    e = html.escape
    head = "".join(f"<th>{e(c)}: trained / held-out bits</th><th>accuracy</th>" for c in rec.clips)
    rows = [f"<h2 id='held-out'>Held out</h2><p class='note'>The last {100 * h['fraction']:.0f} % of "
            "every clip was never trained on; teacher-forced scores on the trained part and on that "
            "tail.</p><table id='held-out-table'><tr><th>after stage</th>" + head + "</tr>"]
    for s in range(len(h["tail"]["bits"])):
        cells = "".join(f"<td>{num(h['trained']['bits'][s][j], '.2f')} / {num(h['tail']['bits'][s][j], '.2f')}</td>"
                        f"<td>{num(h['trained']['accuracy'][s][j])} / {num(h['tail']['accuracy'][s][j])}</td>"
                        for j in range(len(rec.clips)))
        rows.append(f"<tr><td>{'untrained' if s == 0 else s}</td>{cells}</tr>")
    return "\n".join(rows + ["</table>"])


def measures_table(rec) -> str:
    ma, mb = rec.measures["accuracy"], rec.measures["bits"]
    K = len(ma["average"])                        # stages done (all of them once it has ended)
    clips = rec.clips[:K]
    rows = ["<h2 id='measures'>Forgetting and transfer</h2><table id='measures-table'><tr><th>after stage</th>"
            "<th>average accuracy (seen clips)</th><th>average forgetting (accuracy)</th>"
            "<th>average forgetting (bits)</th>" +
            "".join(f"<th>forgetting of {html.escape(c)} (accuracy / bits)</th>" for c in clips[:-1]) + "</tr>"]
    for k in range(1, K + 1):
        cells = [f"<td>{k}</td><td>{ma['average'][k - 1]:.3f}</td>",
                 f"<td>{num(ma['average_forgetting'][k])}</td><td>{num(mb['average_forgetting'][k])}</td>"]
        for j in range(K - 1):
            fa, fb = ma["forgetting"][k][j], mb["forgetting"][k][j]
            cells.append(f"<td>{num(fa)} / {num(fb)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append("</table>")
    rows.append(f"<p>Backward transfer: accuracy {num(ma['bwt'], '+.3f')}, bits {num(mb['bwt'], '+.3f')} "
                f"(accuracy &lt; 0 or bits &gt; 0: later stages made earlier clips worse). Forward transfer: "
                f"accuracy {num(ma['fwt'], '+.3f')}, bits {num(mb['fwt'], '+.3f')} (accuracy &gt; 0 or bits "
                "&lt; 0: earlier training helps on a clip before it is trained on).</p>")
    return "\n".join(rows)
