"""The study's report: figures (matplotlib, PNG) and one self-contained report.html with
relative links only, plus metrics.json with every number."""
from __future__ import annotations

import html
import json
import os

import numpy as np

from . import audio as _audio
from .files import atomic_write, make_dir
from .measures import stft_db


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"figure.dpi": 100, "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False})
    return plt


def _heatmap(plt, M, key, path, title, fmt, cmap, vmin=None, vmax=None):
    R = np.array(M[key])
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * R.shape[1], 1.0 + 0.55 * R.shape[0]))
    im = ax.imshow(R, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(R.shape[1]), M["clips"])
    ax.set_yticks(range(R.shape[0]), ["untrained"] + [f"after stage {i}" for i in range(1, R.shape[0])])
    for i in range(R.shape[0]):
        for j in range(R.shape[1]):
            seen = i > j
            ax.text(j, i, format(R[i, j], fmt), ha="center", va="center", fontsize=9,
                    color="black" if _luma(im.cmap(im.norm(R[i, j]))) > 0.5 else "white",
                    fontweight="bold" if seen else "normal")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _luma(rgba):
    return 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]


def _loss_curve(plt, M, path):
    fig, ax = plt.subplots(figsize=(8, 3))
    if M["loss_curve"]:
        c = np.array(M["loss_curve"])
        ax.plot(c[:, 0], c[:, 1], lw=0.8, color="#444")
    for st in M["stages"]:
        ax.axvline(st["end_step"], color="#c33", lw=0.8, ls="--")
        ax.text(st["end_step"], ax.get_ylim()[1], f" end of stage {st['stage']}", color="#c33",
                fontsize=7, va="top", rotation=90)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (bits/sample)")
    ax.set_yscale("log")
    ax.set_title("Training loss (windows of the clips of the current stage)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _traces(plt, M, path):
    K = len(M["clips"])
    fig, axes = plt.subplots(K, 1, figsize=(8, 1.9 * K), squeeze=False)
    cmap = plt.get_cmap("viridis")
    S = len(M["traces"])
    for j, ax in enumerate(axes[:, 0]):
        blocks = M.get("trace_blocks", [None] * K)[j] or {"starts": [0], "bins": len(M["traces"][0][j])}
        nb, sr, dt = blocks["bins"], M["sample_rate"], M["trace_bin_seconds"]
        for s in range(S):
            y = np.array(M["traces"][s][j])
            for b, start in enumerate(blocks["starts"]):   # the scored blocks, where they lie
                ax.plot(start / sr + np.arange(nb) * dt, y[b * nb:(b + 1) * nb], lw=0.8,
                        color=cmap(s / max(1, S - 1)),
                        label=None if b else "untrained" if s == 0 else f"after stage {s}")
        ax.set_ylabel("bits/sample")
        ax.set_title(f"{M['clips'][j]}: where in the clip the network knows what comes next",
                     fontsize=9)
        ax.set_ylim(bottom=0)
    axes[-1, 0].set_xlabel("time in clip (s)")
    axes[0, 0].legend(fontsize=7, ncol=min(S, 5), loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _spectrogram(plt, x, sr, path, title):
    fig, ax = plt.subplots(figsize=(4.2, 1.6))
    S = stft_db(x)
    ax.imshow(S.T, origin="lower", aspect="auto", cmap="magma", vmin=-60, vmax=S.max(),
              extent=[0, len(x) / sr, 0, sr / 2000])
    ax.set_ylabel("kHz")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _audio_tag(rel):
    return f'<audio controls preload="none" src="{html.escape(rel)}"></audio>'


def _fmt(v, fmt=".3f"):
    return "–" if v is None else format(v, fmt)


def build(out_dir, M: dict) -> str:
    """Write figures/, metrics.json and report.html into out_dir; return the report's path.
    A spectrogram already in figures/ is kept (the report is rebuilt after every stage)."""
    plt = _plt()
    fig_dir = os.path.join(out_dir, "figures")
    make_dir(fig_dir)
    sr = M["sample_rate"]
    _heatmap(plt, M, "accuracy", os.path.join(fig_dir, "accuracy.png"),
             "Teacher-forced top-1 accuracy (bold: clip already trained on)", ".2f", "viridis", 0, 1)
    _heatmap(plt, M, "bits", os.path.join(fig_dir, "bits.png"),
             "Teacher-forced bits per sample (lower is better)", ".2f", "magma_r", 0, None)
    _loss_curve(plt, M, os.path.join(fig_dir, "loss.png"))
    _traces(plt, M, os.path.join(fig_dir, "traces.png"))
    originals = M["originals"]                   # originals[j]: clip j's file, relative
    for k, rel in enumerate(originals):
        png = os.path.join(fig_dir, f"spec_original_{k + 1}.png")
        if not os.path.exists(png):                          # drawn by an earlier stage's report
            _spectrogram(plt, _audio.load(os.path.join(out_dir, rel), sr), sr, png,
                         f"original: {M['clips'][k]}")
    for r in M["renders"] + M["unprimed"]:
        png = os.path.join("figures", "spec_" + r["path"].replace(os.sep, "_").replace(".wav", ".png"))
        r["spectrogram"] = png
        if os.path.exists(os.path.join(out_dir, png)):      # drawn by an earlier stage's report
            continue
        x = _audio.load(os.path.join(out_dir, r["path"]), sr)
        label = r.get("clip", "unprimed")
        _spectrogram(plt, x, sr, os.path.join(out_dir, png),
                     f"stage {r['stage']}, {label}, T={r['temperature']:g}")
    atomic_write(os.path.join(out_dir, "metrics.json"), lambda f: json.dump(M, f, indent=1), "w")
    path = os.path.join(out_dir, "report.html")
    atomic_write(path, lambda f: f.write(_html(M, originals)), "w")
    return path


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.3em .6em;
text-align:center;vertical-align:top}th{background:#f4f4f4}audio{width:210px;height:32px}
img{max-width:100%}.cell img{width:260px;display:block}.note{color:#555;font-size:.9em}"""


def _html(M, originals) -> str:
    clips, temps = M["clips"], M["temperatures"]
    K = len(clips)
    e = html.escape
    done = len(M["stages"])
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>wavecore study</title>"
           f"<style>{CSS}</style></head><body>",
           "<h1>How the WaveNet learned and forgot</h1>",
           "" if done == K else f"<p id='partial'><b>In progress: {done} of {K} stages done.</b> "
           "This page is rewritten after every stage.</p>",
           f"<p>{K} clips added one per stage: {', '.join(e(c) for c in clips)}. Sample rate {M['sample_rate']} Hz, "
           f"receptive field {M['receptive_field']} samples. After every stage each clip is scored "
           "teacher-forced and the seen clips are reproduced at each temperature, primed with their "
           "first moments.</p>", "<h2 id='stages'>Stages</h2><table><tr><th>stage</th><th>trained on</th>"
           "<th>steps</th><th>ended</th><th>wall time</th><th>of it: training / checks / timeline / "
           "scoring / renders</th></tr>"]
    for st in M["stages"]:
        t = st.get("time", {})
        split = " / ".join(f"{t[k]:.0f} s" for k in ("training", "checks", "timeline", "scoring", "renders")
                           if k in t)
        out.append(f"<tr><td>{st['stage']}</td><td>{e(', '.join(st['clips']))}</td><td>{st['steps']}</td>"
                   f"<td>{e(st.get('ended', ''))}</td><td>{st['seconds']:.0f} s</td><td>{split}</td></tr>")
    out.append("</table>")
    out.append("<h2 id='reproductions'>Reproductions</h2><p class='note'>Each render starts with the "
               "original's first moments (the prime) and continues on its own. LSD: log-spectral distance "
               "to the original continuation (dB, lower is closer); follows: how long it stays within 12 dB "
               "of the original before diverging.</p>")
    by = {(r["stage"], r["clip"], r["temperature"]): r for r in M["renders"]}
    for j, c in enumerate(clips):
        out.append(f"<h3>{e(c)}</h3><table><tr><th>original</th>" +
                   "".join(f"<th>T = {t:g}</th>" for t in temps) + "</tr>")
        orig = originals[j]
        for st in M["stages"]:
            s = st["stage"]
            if s <= j:
                continue
            row = [f"<tr><td class='cell'>after stage {s}<br>"]
            if s == j + 1:
                row[0] = (f"<tr><td class='cell'>{_audio_tag(orig)}<img src='figures/spec_original_{j + 1}.png' "
                          f"alt='original {e(c)}'>after stage {s}")
            row[0] += "</td>"
            for t in temps:
                r = by.get((s, c, t))
                if r is None:
                    row.append("<td>–</td>")
                    continue
                how = (f"LSD {r['lsd_db']:.1f} dB, follows {r['follow_s']:.2f} s" if r.get("lsd_db") is not None
                       else f"primed by {e(r.get('primed_by', '?'))}")
                row.append(f"<td class='cell'>{_audio_tag(r['path'])}<img src='{e(r['spectrogram'])}' "
                           f"alt='render'>{how}</td>")
            out.append("".join(row) + "</tr>")
        out.append("</table>")
    out.append("<h3>Unprimed (after silence)</h3><table><tr><th>stage</th>" +
               "".join(f"<th>T = {t:g}</th>" for t in temps) + "</tr>")
    for st in M["stages"]:
        cells = [r for r in M["unprimed"] if r["stage"] == st["stage"]]
        out.append(f"<tr><td>{st['stage']}</td>" + "".join(
            f"<td class='cell'>{_audio_tag(r['path'])}<img src='{e(r['spectrogram'])}' alt='unprimed'></td>"
            for r in cells) + "</tr>")
    out.append("</table>")
    out.append("<h2 id='matrices'>What it knows: R[stage, clip]</h2>"
               "<img src='figures/accuracy.png' alt='accuracy matrix'> <img src='figures/bits.png' alt='bits matrix'>")
    out.append(_measures_table(M))
    out.append("<h2 id='traces'>Where in each clip it knows what comes next</h2>"
               "<p class='note'>Teacher-forced bits per sample along each clip, averaged over "
               f"{M['trace_bin_seconds'] * 1000:g} ms bins, one line per stage"
               + (". Long clips are scored at the same evenly spread blocks of positions after every "
                  "stage (the gaps between the lines)" if any(len(b["starts"]) > 1 for b in
                                                              M.get("trace_blocks", [])) else "")
               + ".</p>"
               "<img src='figures/traces.png' alt='per-position NLL traces'>")
    out.append("<h2 id='loss'>Training loss</h2><img src='figures/loss.png' alt='loss curve'>")
    if M["timeline"]:
        out.append("<h2 id='timeline'>Hearing it learn</h2><p class='note'>Short renders (T = 0.7) of "
                   "the newest clip during each stage.</p><table><tr><th>stage</th><th>step</th><th>clip</th>"
                   "<th>render</th></tr>")
        for t in M["timeline"]:
            out.append(f"<tr><td>{t['stage']}</td><td>{t['step']}</td><td>{e(t['clip'])}</td>"
                       f"<td>{_audio_tag(t['path'])}</td></tr>")
        out.append("</table>")
    out.append("<p class='note'>Every number is in <a href='metrics.json'>metrics.json</a>. "
               "Definitions: see wavecore/measures.py.</p></body></html>")
    return "\n".join(out)


def _measures_table(M) -> str:
    ma, mb = M["measures"]["accuracy"], M["measures"]["bits"]
    K = len(ma["average"])                        # stages done (all of them once it has ended)
    clips = M["clips"][:K]
    rows = ["<h2 id='measures'>Forgetting and transfer</h2><table id='measures-table'><tr><th>after stage</th>"
            "<th>average accuracy (seen clips)</th><th>average forgetting (accuracy)</th>"
            "<th>average forgetting (bits)</th>" +
            "".join(f"<th>forgetting of {html.escape(c)} (accuracy / bits)</th>" for c in clips[:-1]) + "</tr>"]
    for k in range(1, K + 1):
        cells = [f"<td>{k}</td><td>{ma['average'][k - 1]:.3f}</td>",
                 f"<td>{_fmt(ma['average_forgetting'][k])}</td><td>{_fmt(mb['average_forgetting'][k])}</td>"]
        for j in range(K - 1):
            fa, fb = ma["forgetting"][k][j], mb["forgetting"][k][j]
            cells.append(f"<td>{_fmt(fa)} / {_fmt(fb)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append("</table>")
    rows.append(f"<p>Backward transfer: accuracy {_fmt(ma['bwt'], '+.3f')}, bits {_fmt(mb['bwt'], '+.3f')} "
                f"(accuracy &lt; 0 or bits &gt; 0: later stages made earlier clips worse). Forward transfer: "
                f"accuracy {_fmt(ma['fwt'], '+.3f')}, bits {_fmt(mb['fwt'], '+.3f')} (accuracy &gt; 0 or bits "
                "&lt; 0: earlier training helps on a clip before it is trained on).</p>")
    return "\n".join(rows)
