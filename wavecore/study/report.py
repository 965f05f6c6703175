"""The study's report: figures (matplotlib, PNG) and one self-contained report.html with
relative links only, plus metrics.json with every number (wavecore.study.record).

The parts are public, for other pages (``wavecore compare``, the Jupyter view): ``pyplot()``,
one function per figure (each takes the pyplot module, what it draws and the PNG's path),
``save_figure``, ``bar`` and ``known_words`` (what the templates' ``shares`` and ``curriculum``
take), ``page`` and ``build``. The HTML is wavecore.pages' (templates/report.html and the parts
it shares with other pages, templates/parts.html).
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from ..analysis.measures import stft_db
from ..engine import audio as _audio
from ..engine.files import atomic_write, make_dir
from ..pages import render
from ..training.curriculum import CURRICULA
from .activities import KINDS
from .rates import cells, collapse_line, counts_line, lift_line
from .record import write_metrics


def pyplot():
    """matplotlib.pyplot on the Agg backend with the report's style (imported here, at plot
    time: matplotlib is slow to import and a study that writes no report never needs it)."""
    import matplotlib  # at plot time: slow to import, and only the report draws
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
    ax.set_yticks(range(R.shape[0]),
                  ["untrained"] + [f"after stage {i}" for i in range(1, R.shape[0])])
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
        blocks = ((rec.trace_blocks or [None] * K)[j]
                  or {"starts": [0], "bins": len(rec.traces[0][j])})
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
    """The resemblance shares' names: the clips, the references, silence, noise, novel."""
    return list(rec.clips) + list(rec.references) + ["silence", "noise", "novel"]


TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
         "#bcbd22", "#17becf"]


def _colors(rec) -> list[str]:
    """One colour per source: the clips and references from tab10, then silence, noise and novel
    in greys."""
    return ([TAB10[j % 10] for j in range(len(rec.clips) + len(rec.references))]
            + ["#e6e6e6", "#9a9a9a", "#333333"])


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
    several = False
    for ax, t in zip(axes[0], temps):
        cell = cells([r for r in rows if r.temperature == t], key=lambda r: r.clip)
        several = several or any(len(rs) > 1 for rs in cell.values())
        by = {c: np.mean([_shares(r, labels) for r in rs], axis=0) for c, rs in cell.items()}
        H = np.array([by.get(n, [np.nan] * len(labels)) for n in names])
        ax.imshow(H, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(names)), names if ax is axes[0, 0] else [""] * len(names),
                      fontsize=7)
        for i in range(H.shape[0]):
            for j in range(H.shape[1]):
                if np.isfinite(H[i, j]):
                    ax.text(j, i, f"{100 * H[i, j]:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if H[i, j] > 0.55 else "black")
        ax.set_title(f"T = {t:g}", fontsize=8)
    fig.suptitle(f"Merge map after stage {stage}: where each render's frames come from (%"
                 + (", the mean of a cell's renders)" if several else ")"), fontsize=9)
    save_figure(plt, fig, path)


def sources_by_stage(plt, rec, j, path):
    """Clip j's reproductions' shares, stacked, stage by stage (a stage's renders' mean); one
    panel per temperature."""
    labels, temps, colors = _labels(rec), rec.temperatures, _colors(rec)
    clip = rec.clips[j]
    fig, axes = plt.subplots(1, len(temps), figsize=(1.4 + 2.2 * len(temps), 2.3), squeeze=False,
                             sharey=True)
    for ax, t in zip(axes[0], temps):
        by = cells([r for r in rec.renders if r.clip == clip and r.temperature == t],
                   key=lambda r: r.stage)
        x = sorted(by)
        mean = [np.mean([_shares(r, labels) for r in by[s]], axis=0) for s in x]
        bottom = np.zeros(len(x))
        for k, name in enumerate(labels):
            v = np.array([m[k] for m in mean])
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
    from matplotlib.colors import PowerNorm  # matplotlib at plot time (see pyplot)
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


def spectrogram(plt, x, sr, path, title):
    fig, ax = plt.subplots(figsize=(4.2, 1.6))
    S = stft_db(x)
    ax.imshow(S.T, origin="lower", aspect="auto", cmap="magma", vmin=-60, vmax=S.max(),
              extent=[0, len(x) / sr, 0, sr / 2000])
    ax.set_ylabel("kHz")
    ax.set_title(title, fontsize=8)
    save_figure(plt, fig, path)


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
                        f"stage {r.stage}, {r.clip}, T={r.temperature:g}"
                        + (f", seed {r.seed}" if r.seed else ""))
    write_metrics(out_dir, rec)
    path = os.path.join(out_dir, "report.html")
    atomic_write(path, lambda f: f.write(page(rec)), "w")
    return path


PARTS = [("training", "training")] + [(k.name, k.title) for k in KINDS]   # a stage's time split


def bar(r, rec) -> dict | None:
    """A render's shares for its stacked bar (``shares`` in wavecore/pages/templates/parts.html):
    the sources it draws on with their shares and colours, and its three largest; None for a
    render measured before shares were."""
    if not r.resemblance:
        return None
    labels = _labels(rec)
    sh = _shares(r, labels)
    top = sorted(zip(sh, labels), reverse=True)[:3]
    return {"parts": [(k, v, c) for k, v, c in zip(labels, sh, _colors(rec)) if v > 0],
            "top": [(k, v) for v, k in top if v >= 0.005]}


def known_words(cu) -> str:
    """What a registered curriculum trains on, in its own words (wavecore.training.curriculum);
    "" for one not registered here."""
    known = CURRICULA.get(cu.name)
    return known.words.format(replay=100 * (cu.replay or 0)) if known else ""


def page(rec) -> str:
    """report.html's text for a study's record (wavecore/pages/templates/report.html)."""
    points = {}
    for p in rec.trajectory:
        points.setdefault((p.stage, p.step, p.fraction, p.clip), {}).setdefault(
            p.temperature, []).append(p)                  # one per trajectory seed
    by = cells(rec.renders)
    return render(
        "report.html", rec=rec, clips=rec.clips, temps=rec.temperatures, originals=rec.originals,
        K=len(rec.clips), done=len(rec.stages), known=known_words(rec.curriculum),
        time_parts=PARTS, by=by, counts=counts_line, lifts=lift_line,
        collapsed=collapse_line,
        seeds=max(map(len, by.values()), default=1),
        unprimed=cells(rec.unprimed, key=lambda r: (r.stage, r.temperature)),
        with_shares=any(r.resemblance for r in rec.renders + rec.unprimed), bar=bar,
        rendered={r.clip for r in rec.renders}, tau=_tau(rec),
        blocks=any(len(b["starts"]) > 1 for b in rec.trace_blocks or []),
        trajectory=list(points.items()),
        trajectory_temps=list(dict.fromkeys(p.temperature for p in rec.trajectory)))


def _tau(rec) -> float:
    for r in rec.renders + rec.unprimed:
        if r.resemblance:
            return r.resemblance["tau_db"]
    return float("nan")
