"""HTML for Jupyter: what wavecore's objects show when a notebook cell returns them, and the
helpers behind it for custom cells. Audio is embedded as base64 WAV (16-bit PCM) and figures as
base64 PNG, so an output holds everything it shows. Nothing here imports IPython.

>>> from wavecore import display
>>> display.audio_html(x, 8000, "my clip")           # a player for any float audio
"""
from __future__ import annotations

import base64
import html
import io
import os
import tempfile

import numpy as np


def wav_bytes(x: np.ndarray, sample_rate: int) -> bytes:
    """x: (n,) float audio in [-1, 1] -> a 16-bit PCM WAV file's bytes."""
    import soundfile as sf
    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(x, np.float64), -1, 1), int(sample_rate), subtype="PCM_16",
             format="WAV")
    return buf.getvalue()


def audio_html(x: np.ndarray, sample_rate: int, label: str = "") -> str:
    """An inline player (base64 WAV) with a caption."""
    b64 = base64.b64encode(wav_bytes(x, sample_rate)).decode("ascii")
    cap = f"<div style='font-size:.85em;color:#444'>{html.escape(label)}</div>" if label else ""
    return (f"<div style='display:inline-block;margin:2px 8px 6px 0'>{cap}<audio controls "
            f"preload='metadata' src='data:audio/wav;base64,{b64}'></audio></div>")


def png_html(path_or_bytes, alt: str = "", width: int | None = None) -> str:
    """An inline image from a PNG file or its bytes."""
    data = path_or_bytes
    if isinstance(path_or_bytes, (str, os.PathLike)):
        with open(path_or_bytes, "rb") as f:
            data = f.read()
    w = f" width='{width}'" if width else ""
    return (f"<img alt='{html.escape(alt)}'{w} "
            f"src='data:image/png;base64,{base64.b64encode(data).decode('ascii')}'>")


def _table(rows, head=None) -> str:
    e = html.escape
    out = ["<table style='border-collapse:collapse'>"]
    if head:
        out.append("<tr>" + "".join(f"<th style='border:1px solid #ddd;padding:2px 8px'>{e(str(h))}</th>"
                                    for h in head) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td style='border:1px solid #ddd;padding:2px 8px'>{c}</td>"
                                    for c in r) + "</tr>")
    return "".join(out) + "</table>"


def config_html(cfg) -> str:
    """A WaveNetConfig: its layers, receptive field in samples and ms, parameters."""
    from .config import format_dilations
    from .layout import size
    e = html.escape
    return ("<div><b>WaveNet</b>" + _table([
        ("layers", f"{cfg.n_layers} (dilations {e(format_dilations(cfg.dilations))})"),
        ("receptive field", f"{cfg.receptive_field:,} samples = {cfg.receptive_field_ms:.1f} ms "
                            f"at {cfg.sample_rate:,} Hz"),
        ("channels", f"residual {cfg.residual_channels}, gate {cfg.dilation_channels}, "
                     f"skip {cfg.skip_channels}, {cfg.classes} μ-law classes"),
        ("parameters", f"{size(cfg):,}"),
        ("conditioning", f"{cfg.gc_ids} ids" if cfg.gc_ids else "none"),
    ]) + "</div>")


def generation_html(g) -> str:
    """A Generation: one player per stream, with its length, temperature and seed."""
    n = g.classes.shape[1]
    parts = [f"<div><b>Generation</b>: {g.classes.shape[0]} stream(s) of {n:,} samples "
             f"({n / g.sample_rate:.2f} s at {g.sample_rate:,} Hz)<br>"]
    for b in range(g.classes.shape[0]):
        t = f"T = {g.temperatures[b]:g}" if g.temperatures else ""
        s = f"seed {g.seeds[b]}" if g.seeds else "given uniforms"
        parts.append(audio_html(g.audio[b], g.sample_rate, f"stream {b}: {t}, {s}"))
    return "".join(parts) + "</div>"


def study_html(M: dict, out_dir: str, title: str = "Study") -> str:
    """A study's results (its metrics, the files in out_dir): the stages table, the accuracy
    heatmap, the latest stage's merge map and one player per render of the latest stage."""
    from . import audio as _audio
    from . import report
    e = html.escape
    S, K = len(M["stages"]), len(M["clips"])
    cu = M.get("curriculum", {}).get("name", "cumulative")
    out = [f"<div><b>{e(title)}</b>: {S} of {K} stages done ({e(cu)}); clips "
           f"{e(', '.join(M['clips']))}; <code>{e(os.path.abspath(out_dir))}</code>"]
    if not S:
        return "".join(out) + "<br>No stage has ended yet.</div>"
    rows = [(st["stage"], e(", ".join(st["clips"])), st["steps"], e(st.get("ended", "")),
             f"{st['seconds']:.0f} s", " ".join(f"{a:.3f}" for a in M["accuracy"][st["stage"]]))
            for st in M["stages"]]
    out.append(_table(rows, ["stage", "trained on", "steps", "ended", "wall time",
                             "accuracy of each clip after it"]))
    plt = report._plt()
    figs = []
    with tempfile.TemporaryDirectory() as d:
        report._heatmap(plt, M, "accuracy", os.path.join(d, "a.png"),
                        "Teacher-forced accuracy (bold: clip already trained on)", ".2f", "viridis", 0, 1)
        figs.append(png_html(os.path.join(d, "a.png"), "accuracy heatmap"))
        if any(r.get("resemblance") for r in M["renders"] + M["unprimed"]):
            report._merge_map(plt, M, S, os.path.join(d, "m.png"))
            figs.append(png_html(os.path.join(d, "m.png"), f"merge map, stage {S}"))
    out.append("<div>" + "".join(figs) + "</div>")
    sr = M["sample_rate"]
    out.append(f"<div><b>Renders after stage {S}</b><br>")
    for r in [r for r in M["renders"] if r["stage"] == S] + [r for r in M["unprimed"] if r["stage"] == S]:
        sh = (r.get("resemblance") or {}).get("shares", {})
        top = ", ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(sh.items(), key=lambda kv: -kv[1])[:3])
        x = _audio.load(os.path.join(out_dir, r["path"]), sr)
        out.append(audio_html(x, sr, f"{r.get('clip', 'unprimed')}, T = {r['temperature']:g}"
                              + (f": {top}" if top else "")))
    return "".join(out) + "</div></div>"


class StudyResults(dict):
    """A study's metrics (a plain dict: every number of metrics.json) that shows itself in
    Jupyter; ``out_dir`` is where its files are."""

    def __init__(self, M: dict, out_dir: str):
        super().__init__(M)
        self.out_dir = out_dir

    def _repr_html_(self) -> str:
        return study_html(self, self.out_dir, "Study results")

