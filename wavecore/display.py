"""HTML for Jupyter: what wavecore's objects show when a notebook cell returns them, and the
helpers behind it for custom cells (a study's view is wavecore.study.view). Audio is embedded as base64 WAV (16-bit PCM) and figures as
base64 PNG, so an output holds everything it shows. Nothing here imports IPython.

>>> from wavecore import display
>>> display.audio_html(x, 8000, "my clip")           # a player for any float audio
"""
from __future__ import annotations

import base64
import html
import io
import os

import numpy as np
import soundfile as sf


def wav_bytes(x: np.ndarray, sample_rate: int) -> bytes:
    """x: (n,) float audio in [-1, 1] -> a 16-bit PCM WAV file's bytes."""
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


def table(rows, head=None) -> str:
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
    return cfg._repr_html_()


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
