"""The clips a run trains on and the draw of its windows.

Windows. A clip of n samples is read as RF samples of silence followed by the clip, so a
window may start before the clip's first sample and the beginning is learned too. A window
holds RF + T samples; the loss covers its last T, i.e. T consecutive samples of the clip
(each predicted from the RF samples before it). T is ``settings.window``, clamped to the
shortest clip. Which clip a window comes from is drawn with probability proportional to
the clip's length (``sampling="length"``: every sample of the set equally often) or
uniformly (``sampling="uniform"``: every clip equally often, short ones seen more), or by
weights the caller sets (a study's curriculum).
``order="in-order"`` feeds a drawn clip whole, as consecutive windows in time order (from its
silent start to its end), before the next clip is drawn, as the essay's runs did; the clip is
then drawn with probability proportional to weight / windows per pass, so each clip's share of
the windows is its weight either way. All draws come from one seeded
``numpy.random.Generator`` that the ``WindowSampler`` owns and checkpoints, with the position
in the pass. A model with global conditioning (``gc_ids > 0``) reads clip i of the set with id i.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from ..engine import audio as _audio
from ..engine.config import WaveNetConfig
from ..engine.model import Batch
from .corruption import corrupt, generator
from .settings import TrainSettings


@dataclass
class Clip:
    """A named clip: float32 audio at the model's rate and its μ-law classes."""
    name: str
    audio: np.ndarray
    classes: np.ndarray

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.classes.astype(np.int64).tobytes()).hexdigest()[:16]


def load_clip(source, config: WaveNetConfig, name: str | None = None) -> Clip:
    """A Clip from a path (any format wavecore.engine.audio reads, resampled) or a float array
    already at ``config.sample_rate``."""
    if isinstance(source, Clip):
        return source
    if isinstance(source, (str, os.PathLike)):
        a = _audio.load(source, config.sample_rate, min_samples=2)
        where = os.fspath(source)
        name = name or os.path.splitext(os.path.basename(where))[0]
    else:
        a = _audio.check_audio(source, name or "clip", min_samples=2)
        where = name = name or "clip"
    classes = _audio.mu_law_encode(a, config.classes)
    if np.all(classes == _audio.silence_class(config.classes)):
        raise _audio.AudioError(f"{where}: silent throughout (every sample encodes as silence, "
                                f"peak {float(np.abs(a).max()):.2g}); there is nothing to learn")
    return Clip(name, a, classes)


class WindowSampler:
    """The draw of training windows from a set of clips: the seeded generator, the clips'
    weights, and (in-order) the cursor of the pass under way. ``draw(step)`` is one batch;
    ``state()`` / ``load_state()`` carry all of it through a checkpoint, and ``mark()`` /
    ``rewind()`` undo the draws of a step that was cut short."""

    def __init__(self, config: WaveNetConfig, settings: TrainSettings, clips, weights=None):
        self.config, self.settings = config, settings
        self.rng = np.random.default_rng(settings.seed)
        self.set_clips(clips, weights)
        self._mark = None

    def set_clips(self, clips, weights=None) -> None:
        """Draw from these clips from now on. weights: each clip's share of the windows
        (default: by ``settings.sampling``); a clip of weight 0 is held (a conditioned model
        reads clip i with id i) but never drawn."""
        cfg = self.config
        self.clips = [load_clip(c, cfg) for c in clips]
        if not self.clips:
            raise ValueError("Trainer needs at least one clip")
        if cfg.gc_ids and len(self.clips) > cfg.gc_ids:
            raise ValueError(f"{len(self.clips)} clips but the model has {cfg.gc_ids} "
                             "conditioning ids (clip i is read with id i)")
        RF = cfg.receptive_field
        silence = np.full(RF, _audio.silence_class(cfg.classes), np.int64)
        self.padded = [np.concatenate([silence, c.classes]) for c in self.clips]   # (RF + n,) each
        lengths = np.array([len(c.classes) for c in self.clips], dtype=np.float64)
        if weights is None:
            w = lengths if self.settings.sampling == "length" else np.ones_like(lengths)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != lengths.shape or not (w >= 0).all() or not w.sum() > 0:
                raise ValueError(f"weights must be {len(lengths)} values >= 0, not all 0; "
                                 f"got {weights}")
        self.weights = w / w.sum()
        self.T = int(min(self.settings.window, lengths[self.weights > 0].min()))
        N = RF + self.T
        # in-order: the windows of one pass over clip i start here (the last one ends at its end)
        self.pieces = [sorted(set(range(0, len(p) - N + 1, self.T)) | {len(p) - N})
                       for p in self.padded]
        per_pass = np.array([len(k) for k in self.pieces], dtype=np.float64)
        draw = self.weights / per_pass
        self.pass_draw = draw / draw.sum()
        self.cursor = None                     # in-order: [clip, next piece] of the pass under way

    def draw(self, step: int) -> Batch:
        """x: (RF + T, batch) classes drawn from the seeded generator; with a conditioned
        model (gc_ids > 0) also each window's clip id (clip i of the set has id i). With input
        corruption (wavecore.training.corruption, seeded by ``step``) x's inputs are corrupted
        and y: (T, batch) holds the clean targets."""
        st, cfg = self.settings, self.config
        N = cfg.receptive_field + self.T
        x = np.empty((N, st.batch), dtype=np.int64)
        ids = np.empty(st.batch, dtype=np.int64)
        for b in range(st.batch):
            if st.order == "in-order":
                if self.cursor is None:
                    self.cursor = [int(self.rng.choice(len(self.clips), p=self.pass_draw)), 0]
                i, k = self.cursor
                s = self.pieces[i][k]
                self.cursor = [i, k + 1] if k + 1 < len(self.pieces[i]) else None
            else:
                i = int(self.rng.choice(len(self.clips), p=self.weights))
                s = int(self.rng.integers(0, len(self.padded[i]) - N + 1))
            x[:, b] = self.padded[i][s:s + N]
            ids[b] = i
        gc = ids if cfg.gc_ids else None
        if not st.corrupts:
            return Batch(x, gc)
        x, y = corrupt(x, cfg.receptive_field, cfg.classes, generator(st.seed, step),
                       p=st.input_noise, codes=st.input_jitter, snr_db=st.input_snr)
        return Batch(x, gc, y)

    # -- a step's draws undone, and the checkpoint ------------------------------------------
    def mark(self) -> None:
        self._mark = self.rng.bit_generator.state, self.cursor

    def rewind(self) -> None:
        """Back to the last ``mark()``: the draws of a step that changed nothing else."""
        self.rng.bit_generator.state, self.cursor = self._mark

    def state(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "clip_weights": self.weights.tolist(),
                "cursor": self.cursor}

    def load_state(self, meta: dict) -> None:
        if "clip_weights" in meta:
            self.set_clips(self.clips, meta["clip_weights"])
            self.cursor = meta["cursor"]
        self.rng.bit_generator.state = meta["rng"]
