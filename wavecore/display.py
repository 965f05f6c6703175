"""HTML for Jupyter: what wavecore's objects show when a notebook cell returns them, and the
helpers behind it for custom cells (a study's view is wavecore.study.view). Audio is embedded as
base64 WAV (16-bit PCM) and figures as base64 PNG, so an output holds everything it shows. The
markup is wavecore.pages' templates. Nothing here imports IPython.

>>> from wavecore import display
>>> display.audio_html(x, 8000, "my clip")           # a player for any float audio
"""
from __future__ import annotations

import io
import os

import numpy as np
import soundfile as sf

from .pages import data_uri, render, table

__all__ = ["wav_bytes", "wav_uri", "png_uri", "audio_html", "png_html", "table", "config_html",
           "generation_html"]


def wav_bytes(x: np.ndarray, sample_rate: int) -> bytes:
    """x: (n,) float audio in [-1, 1] -> a 16-bit PCM WAV file's bytes."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(x, np.float64), -1, 1), int(sample_rate), subtype="PCM_16",
             format="WAV")
    return buf.getvalue()


def wav_uri(x: np.ndarray, sample_rate: int) -> str:
    """Float audio as a ``data:audio/wav;base64,...`` URI (16-bit PCM)."""
    return data_uri("audio/wav", wav_bytes(x, sample_rate))


def png_uri(path_or_bytes) -> str:
    """A PNG file, or its bytes, as a ``data:image/png;base64,...`` URI."""
    data = path_or_bytes
    if isinstance(path_or_bytes, (str, os.PathLike)):
        with open(path_or_bytes, "rb") as f:
            data = f.read()
    return data_uri("image/png", data)


def audio_html(x: np.ndarray, sample_rate: int, label: str = "") -> str:
    """An inline player (base64 WAV) with a caption."""
    return render("player.html", src=wav_uri(x, sample_rate), label=label)


def png_html(path_or_bytes, alt: str = "", width: int | None = None) -> str:
    """An inline image from a PNG file or its bytes."""
    return render("image.html", src=png_uri(path_or_bytes), alt=alt, width=width)


def config_html(cfg) -> str:
    """A WaveNetConfig: its layers, receptive field in samples and ms, parameters."""
    return cfg._repr_html_()


def generation_html(g) -> str:
    """A Generation: one player per stream, with its length, temperature and seed."""
    players = []
    for b in range(g.classes.shape[0]):
        t = f"T = {g.temperatures[b]:g}" if g.temperatures else ""
        s = f"seed {g.seeds[b]}" if g.seeds else "given uniforms"
        players.append((wav_uri(g.audio[b], g.sample_rate), f"stream {b}: {t}, {s}"))
    return render("generation.html", streams=g.classes.shape[0], n=g.classes.shape[1],
                  sample_rate=g.sample_rate, players=players)
