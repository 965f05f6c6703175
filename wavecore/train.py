"""Trainer: random windows from a set of clips, Adam with a schedule and clipping, a NaN/Inf
guard, evaluation, JSON-lines logs, checkpoints and exact resume.

Windows. A clip of n samples is read as RF samples of silence followed by the clip, so a
window may start before the clip's first sample and the beginning is learned too. A window
holds RF + T samples; the loss covers its last T, i.e. T consecutive samples of the clip
(each predicted from the RF samples before it). T is ``settings.window``, clamped to the
shortest clip. Which clip a window comes from is drawn with probability proportional to
the clip's length (``sampling="length"``: every sample of the set equally often) or
uniformly (``sampling="uniform"``: every clip equally often, short ones seen more), or by
weights the caller sets (``set_clips(clips, weights)``: a study's curriculum).
``order="in-order"`` feeds a drawn clip whole, as consecutive windows in time order (from its
silent start to its end), before the next clip is drawn, as the essay's runs did; the clip is
then drawn with probability proportional to weight / windows per pass, so each clip's share of
the windows is its weight either way. All draws come from one seeded
``numpy.random.Generator`` whose state is checkpointed, with the position in the pass.
A model with global conditioning (``gc_ids > 0``) reads clip i of the set with id i.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from . import audio as _audio
from . import checkpoint as _ckpt
from . import distributed
from .backend import BACKENDS
from .compute import default_threads
from .config import WaveNetConfig
from .corruption import corrupt, generator
from .curriculum import EWC
from .files import make_dir
from .flags import COUNT, COUNT0, NONNEG, POSITIVE, number, setting
from .model import Batch, WaveNet
from .optim import Adam
from .precision import PRECISIONS


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss kept coming out non-finite)."""


SCHEDULES = ("cosine", "constant")
SAMPLINGS = ("length", "uniform")
ORDERS = ("shuffled", "in-order")
RECOMPUTE = ("auto", "on", "off")


@dataclass
class TrainSettings:
    """Every default of ``wavecore train``; each field with a flag declares it here (wavecore.flags)."""
    steps: int = setting(2000, "total steps (with --resume: the run's planned total, or a new one)",
                         type=COUNT)
    batch: int = setting(4, "windows per step", type=COUNT)
    window: int = setting(4000, "loss-bearing samples per window", type=COUNT)
    lr: float = setting(2e-3, "peak learning rate", type=POSITIVE)
    schedule: str = setting("cosine", "the learning rate after warm-up: constant, or a cosine down "
                            "to lr * min_lr_ratio at the last step", choices=SCHEDULES)
    warmup: int = setting(50, "linear warm-up steps", type=COUNT0)
    min_lr_ratio: float = 0.1
    clip_norm: float = setting(1.0, "global gradient-norm clipping, 0: off", type=NONNEG)
    adam_eps: float = setting(1e-8, "Adam's epsilon", type=POSITIVE)
    sampling: str = setting("length", "draw windows by clip length or uniformly per clip",
                            choices=SAMPLINGS)
    seed: int = setting(0, "seed of the initialisation and the windows (a study's renders too)",
                        type=int)
    log_every: int = 10
    checkpoint_every: int = setting(500, "steps between checkpoints, 0: by time only", type=COUNT0)
    checkpoint_minutes: float = setting(10.0, "minutes between checkpoints, 0: by steps only",
                                        type=NONNEG)
    keep: int = setting(3, "checkpoints kept", type=COUNT)
    max_bad_steps: int = 10        # consecutive non-finite steps before giving up
    dtype: str = "float32"
    backend: str = setting("auto", "compute path", choices=BACKENDS)
    threads: int | None = setting(None, "threads", type=COUNT, default_text="all cores")
    precision: str = setting("fp32", "the GEMMs' arithmetic on the CPU: fp32; bf16 (bf16 operands, "
                             "fp32 accumulation, fp32 master weights; needs AVX512-BF16); auto "
                             "(bf16 where this processor runs it faster, else fp32)",
                             choices=PRECISIONS)
    recompute: str = setting("auto", "recompute gate activations in the backward pass: less memory "
                             "for long windows, about a fifth more time (auto: when keeping them "
                             "would take over a third of the memory available)", choices=RECOMPUTE)
    order: str = setting("shuffled", "shuffled: every window anywhere in its clip; in-order: a drawn "
                         "clip is fed whole as consecutive windows, as the essay's code did",
                         choices=ORDERS)
    input_noise: float = setting(0.0, "input corruption: each input sample moves by 1 to "
                                 "--input-jitter μ-law codes with this probability; the targets "
                                 "stay clean (0: off)", type=number(float, 0, 1))
    input_jitter: int = setting(3, "the largest move of --input-noise, in μ-law codes", type=COUNT)
    input_snr: float = setting(0.0, "input corruption: Gaussian noise this many dB below each "
                               "window's RMS added to the inputs' waveform (0: off)", type=NONNEG)

    def __post_init__(self):
        for k in ("steps", "batch", "window", "log_every"):
            if getattr(self, k) < 1:
                raise ValueError(f"TrainSettings.{k} must be >= 1, got {getattr(self, k)}")
        for k in ("checkpoint_every", "checkpoint_minutes", "keep", "max_bad_steps", "warmup"):
            if getattr(self, k) < 0:
                raise ValueError(f"TrainSettings.{k} must be >= 0, got {getattr(self, k)}")
        for k, choices in (("schedule", SCHEDULES), ("sampling", SAMPLINGS), ("order", ORDERS),
                           ("recompute", RECOMPUTE), ("precision", PRECISIONS)):
            if getattr(self, k) not in choices:
                raise ValueError(f"{k} must be one of {', '.join(choices)}, got {getattr(self, k)!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not self.adam_eps > 0:
            raise ValueError(f"adam_eps must be > 0, got {self.adam_eps}")
        if not 0 <= self.input_noise <= 1:
            raise ValueError(f"input_noise is a probability in [0, 1], got {self.input_noise}")
        if self.input_jitter < 1 or self.input_snr < 0:
            raise ValueError(f"input_jitter must be >= 1 and input_snr >= 0, got "
                             f"{self.input_jitter} and {self.input_snr}")

    @property
    def corrupts(self) -> bool:
        return bool(self.input_noise or self.input_snr)


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
    """A Clip from a path (any format wavecore.audio reads, resampled) or a float array
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


def eval_chunk(config: WaveNetConfig) -> int:
    """Positions per forward pass of an evaluation: at least 4096, and twice the receptive
    field, so that the RF samples read before them cost at most a third."""
    return max(4096, 2 * config.receptive_field)


def lr_at(s: TrainSettings, step: int) -> float:
    """The learning rate of step ``step`` (0-based): linear warm-up, then constant or a cosine
    down to lr * min_lr_ratio at step ``s.steps``."""
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    if s.schedule == "constant":
        return s.lr
    frac = min(1.0, (step - s.warmup) / max(1, s.steps - s.warmup))
    return s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def bits(nats: float) -> float:
    return nats / math.log(2)


class Trainer:
    """Trains a WaveNet on clips. ``train(steps)`` runs until the step counter reaches
    ``steps``; ``Trainer.resume(dir, clips)`` continues a run exactly where it stopped."""

    def __init__(self, config: WaveNetConfig, clips, settings: TrainSettings | None = None,
                 out_dir=None, params: np.ndarray | None = None):
        self.config = config
        self.settings = settings or TrainSettings()
        s = self.settings
        self.world = distributed.world()        # one process, or this rank of an MPI job
        threads = s.threads or max(1, default_threads() // self.world.local_size)
        self.net = WaveNet(config, np.dtype(s.dtype), backend=s.backend, threads=threads,
                           precision=s.precision)
        self.net.backend.recompute = s.recompute
        if 2 * s.input_jitter >= config.classes:
            raise ValueError(f"input_jitter ({s.input_jitter} codes) must be below half the "
                             f"{config.classes} classes")
        params = self.net.init_params(s.seed) if params is None else \
            np.array(params, dtype=self.net.dtype)
        self._host = None                      # a host copy of the parameters, until the next step
        self.weights = self.net.backend.to_device(params, self.net.dtype)   # where the backend works
        self.opt = Adam(self.net.size, lr=s.lr, eps=s.adam_eps, clip_norm=s.clip_norm or None,
                        dtype=self.net.dtype, backend=self.net.backend)
        self.rng = np.random.default_rng(s.seed)
        self.step = 0
        self.skipped = 0
        self.bad_run = 0
        self.out_dir = None if out_dir is None else os.fspath(out_dir)
        if self.out_dir:
            make_dir(self.out_dir)
        self.extra: dict = {}               # anything a caller wants checkpointed (JSON)
        # this run's id, in its checkpoints and on every train.jsonl record (a resume keeps it)
        self.run_id = self.world.bcast(uuid.uuid4().hex[:12])
        self.resumed_settings = None        # Trainer.resume: the settings the checkpoint held
        self._in_step, self._rng_before = False, None   # a step begun and not yet committed
        self._agreed = (0, False)             # MPI: (stop: 0/1/2, checkpoint due) of the last step
        self._saved_at = time.monotonic()      # when the last checkpoint was written
        self.ewc = None                        # wavecore.curriculum.EWC: a penalty on the weights
        self.set_clips(clips)

    def reset_optimizer(self) -> None:
        """Restart Adam's moments and bias correction; the step count goes on."""
        self.opt.reset()

    @property
    def params(self) -> np.ndarray:
        """The parameters on the host (on the GPU, a copy made at most once per step);
        ``weights`` are the same where the backend keeps them."""
        if self._host is None:
            self._host = self.net.backend.to_host(self.weights)
        return self._host

    # -- data -------------------------------------------------------------------
    def set_clips(self, clips, weights=None) -> None:
        """Train on these clips from now on (the study adds one per stage). weights: each clip's
        share of the windows (default: by ``settings.sampling``); a clip of weight 0 is held
        (a conditioned model reads clip i with id i) but never drawn."""
        self.clips = [load_clip(c, self.config) for c in clips]
        if not self.clips:
            raise ValueError("Trainer needs at least one clip")
        if self.config.gc_ids and len(self.clips) > self.config.gc_ids:
            raise ValueError(f"{len(self.clips)} clips but the model has {self.config.gc_ids} "
                             "conditioning ids (clip i is read with id i)")
        RF = self.config.receptive_field
        silence = np.full(RF, _audio.silence_class(self.config.classes), np.int64)
        self.padded = [np.concatenate([silence, c.classes]) for c in self.clips]
        lengths = np.array([len(c.classes) for c in self.clips], dtype=np.float64)
        if weights is None:
            w = lengths if self.settings.sampling == "length" else np.ones_like(lengths)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != lengths.shape or not (w >= 0).all() or not w.sum() > 0:
                raise ValueError(f"weights must be {len(lengths)} values >= 0, not all 0; got {weights}")
        self.clip_weights = w / w.sum()
        self.T = int(min(self.settings.window, lengths[self.clip_weights > 0].min()))
        N = RF + self.T
        # in-order: the windows of one pass over clip i start here (the last one ends at its end)
        self._pieces = [sorted(set(range(0, len(p) - N + 1, self.T)) | {len(p) - N}) for p in self.padded]
        per_pass = np.array([len(k) for k in self._pieces], dtype=np.float64)
        draw = self.clip_weights / per_pass
        self._draw = draw / draw.sum()
        self.cursor = None                     # in-order: [clip, next piece] of the pass under way

    def sample_windows(self) -> Batch:
        """x: (RF + T, batch) classes drawn from the seeded generator; with a conditioned
        model (gc_ids > 0) also each window's clip id (clip i of the set has id i). With input
        corruption (wavecore.corruption) x's inputs are corrupted and y: (T, batch) holds the
        clean targets."""
        N = self.config.receptive_field + self.T
        x = np.empty((N, self.settings.batch), dtype=np.int64)
        ids = np.empty(self.settings.batch, dtype=np.int64)
        for b in range(self.settings.batch):
            if self.settings.order == "in-order":
                if self.cursor is None:
                    self.cursor = [int(self.rng.choice(len(self.clips), p=self._draw)), 0]
                i, k = self.cursor
                s = self._pieces[i][k]
                self.cursor = [i, k + 1] if k + 1 < len(self._pieces[i]) else None
            else:
                i = int(self.rng.choice(len(self.clips), p=self.clip_weights))
                s = int(self.rng.integers(0, len(self.padded[i]) - N + 1))
            x[:, b] = self.padded[i][s:s + N]
            ids[b] = i
        gc = ids if self.config.gc_ids else None
        st = self.settings
        if not st.corrupts:
            return Batch(x, gc)
        x, y = corrupt(x, self.config.receptive_field, self.config.classes,
                       generator(st.seed, self.step), p=st.input_noise, codes=st.input_jitter,
                       snr_db=st.input_snr)
        return Batch(x, gc, y)

    # -- optimisation -----------------------------------------------------------
    def lr_at(self, step: int) -> float:
        return lr_at(self.settings, step)

    def train_step(self) -> dict:
        """One step; a non-finite loss or gradient is skipped and never touches the weights.
        The update and the counters change together (Ctrl-C is held while they do); before
        that, an interrupted step has changed nothing but the window generator, which
        ``train`` rewinds before it saves."""
        self._rng_before = self.rng.bit_generator.state, self.cursor
        self._in_step = True
        batch = self.sample_windows()
        t0 = time.perf_counter()
        if self.world.size == 1:
            loss, grads = self.net.loss_and_grads(self.weights, batch)
        else:
            loss, grads = self._data_parallel_grads(batch)
        penalty = self.ewc.add_to(self.weights, grads) if self.ewc is not None else 0.0
        norm = self.opt.grad_norm(grads)
        lr = self.lr_at(self.step)
        rec = {"step": self.step + 1, "loss": loss, "bits": bits(loss), "lr": lr, "grad_norm": norm}
        if penalty:
            rec["ewc_penalty"] = penalty
        with signals_held():
            if not (math.isfinite(loss) and math.isfinite(norm) and math.isfinite(penalty)):
                self.skipped += 1
                self.bad_run += 1
                rec["skipped"] = True
                if self.bad_run > self.settings.max_bad_steps:
                    raise TrainingError(
                        f"{self.bad_run} consecutive steps had a non-finite loss or gradient "
                        f"(last loss {loss}, gradient norm {norm}) at step {self.step + 1}; the "
                        f"weights were not touched. Lower the learning rate (now {lr:g}) or check the data.")
            else:
                self.opt.step(self.weights, grads, lr=lr, norm=norm)
                self._host = None
                self.bad_run = 0
            self.step += 1
            self._in_step = False
        rec["samples_per_s"] = self.settings.batch * self.T / (time.perf_counter() - t0)
        return rec

    def _data_parallel_grads(self, batch):
        """This rank's share of the global batch, weighted by its share, summed over the ranks
        by one in-place Allreduce of the flat gradient; a second, tiny one sums the loss and
        the ranks' votes (stop on a signal; a checkpoint due by rank 0's clock), so that every
        rank decides the same."""
        w, B = self.world, self.settings.batch
        lo, hi = distributed.share(B, w)
        if hi > lo:
            mine = batch.part(lo, hi)
            loss, grads = self.net.loss_and_grads(self.weights, mine)
            grads *= grads.dtype.type((hi - lo) / B)
            loss *= (hi - lo) / B
        else:                                  # more ranks than windows
            loss, grads = 0.0, self.net.backend.zeros(self.net.size, self.net.dtype)
        self.net.backend.allreduce_(w, grads)
        due = w.rank == 0 and self._time_due()
        votes = np.array([loss, _vote[0] == 1, _vote[0] == 2, due], np.float64)
        w.allreduce_(votes)
        self._agreed = (2 if votes[2] else 1 if votes[1] else 0, bool(votes[3]))
        return float(votes[0]), grads

    def _time_due(self) -> bool:
        m = self.settings.checkpoint_minutes
        return bool(m) and time.monotonic() - self._saved_at >= 60 * m

    def train(self, steps: int | None = None, *, progress: bool = True, callback=None,
              desc: str = "train", eta=None) -> list[dict]:
        """Run until ``self.step == steps`` (default settings.steps). ``callback(trainer, rec)``
        after every step may return True to stop early; Ctrl-C and SIGTERM wait for it (a
        step and its callback are one unit). Checkpoints every ``checkpoint_every`` steps or
        ``checkpoint_minutes`` minutes, whichever comes first, on return, and on Ctrl-C or
        SIGTERM (``Terminated``), when there is an out_dir. ``eta(steps_left, rec)`` -> text: shown
        on the progress bar (a study's time left)."""
        target = self.settings.steps if steps is None else steps
        s = self.settings
        logged = []
        bar = _progress(target - self.step, desc, progress and self.world.rank == 0)
        self._in_step = False
        self._saved_at = time.monotonic()
        try:
            with signals_voted(self.world):
                while self.step < target:
                    rec = self.train_step()
                    with signals_held():
                        bar.update(1)
                        if self.step % s.log_every == 0 or rec.get("skipped") or self.step == target:
                            post = {"loss": f"{rec['loss']:.3f}", "sps": f"{rec['samples_per_s']:,.0f}"}
                            if eta is not None:
                                post["study left"] = eta(target - self.step, rec)
                            bar.set_postfix(post)
                            logged.append(rec)
                            self._log(rec)
                        stop = callback is not None and callback(self, rec)
                        by_time = self._agreed[1] if self.world.size > 1 else self._time_due()
                        if (by_time or (s.checkpoint_every and self.step % s.checkpoint_every == 0)) \
                                and self.out_dir:
                            self.save_checkpoint()
                            self._saved_at = time.monotonic()
                    if self._agreed[0]:               # MPI: every rank stops after this step
                        kind, self._agreed, _vote[0] = self._agreed[0], (0, False), 0
                        raise Terminated("SIGTERM") if kind == 2 else KeyboardInterrupt()
                    if stop:
                        break
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM: save every completed step; a step cut short changed nothing
            # but the window generator, rewound here, so resume continues exactly
            if self.out_dir:
                if self._in_step:
                    self.rng.bit_generator.state, self.cursor = self._rng_before
                    self._in_step = False
                self.save_checkpoint()
            raise
        finally:
            bar.close()
        if self.out_dir:
            self.save_checkpoint()
        return logged

    def _log(self, rec: dict) -> None:
        if self.out_dir and self.world.rank == 0:
            with open(os.path.join(self.out_dir, "train.jsonl"), "a", encoding="utf-8") as f:
                f.write(json.dumps({**rec, "run": self.run_id}) + "\n")

    # -- evaluation -------------------------------------------------------------
    def evaluate(self, clip, chunk: int | None = None, gc: int | None = None,
                 positions: int | None = None) -> dict:
        """Teacher-forced NLL over the whole clip (after RF samples of silence):
        {"bits": mean bits/sample, "accuracy": top-1, "nll": per-position bits (n,), "hit":
        per-position top-1 hits (n,), "starts": [0], "block": n}. chunk: positions per forward pass (default
        ``eval_chunk(config)``). positions: score only about this many fixed positions, in
        blocks of ``chunk`` spread evenly over the clip (a score whose cost does not grow with
        the clip); "nll" and "hit" then hold the blocks one after the other, "starts" where
        they begin.
        A conditioned model reads the clip with id ``gc`` (default: its index in the set)."""
        clip = load_clip(clip, self.config)
        ids = None
        if self.config.gc_ids:
            if gc is None:
                known = [c.fingerprint for c in self.clips]
                if clip.fingerprint not in known:
                    raise ValueError(f"{clip.name}: a conditioned model needs the clip's id (gc=)")
                gc = known.index(clip.fingerprint)
            ids = np.array([gc], dtype=np.int64)
        RF, n = self.config.receptive_field, len(clip.classes)
        chunk = chunk or eval_chunk(self.config)
        silence = _audio.silence_class(self.config.classes)
        pad = np.concatenate([np.full(RF, silence), clip.classes])
        if positions is not None and positions < n:
            size = min(chunk, positions)
            starts = np.linspace(0, n - size, -(-positions // size)).astype(np.int64)
            x = np.stack([pad[s:s + RF + size] for s in starts], axis=1)      # (RF + size, blocks)
            _, nl, pr = self.net.evaluate(self.weights, Batch(x, None if ids is None else
                                                              np.repeat(ids, len(starts))))
            tgt = np.stack([clip.classes[s:s + size] for s in starts], axis=1)
            return {"bits": float(bits(nl.mean())), "accuracy": float((pr == tgt).mean()),
                    "nll": nl.T.reshape(-1) / math.log(2), "hit": (pr == tgt).T.reshape(-1),
                    "starts": starts.tolist(), "block": size}
        chunk = min(chunk, n)
        tail = -n % chunk                 # pad the end too, so every chunk has one shape
        pad = np.concatenate([pad, np.full(tail, silence)])
        nll = np.empty(n + tail)
        pred = np.empty(n + tail, np.int64)
        for k in range(0, n, chunk):
            _, nl, pr = self.net.evaluate(self.weights, Batch(pad[k:k + RF + chunk][:, None], ids))
            nll[k:k + chunk], pred[k:k + chunk] = nl[:, 0], pr[:, 0]
        nll, hit = nll[:n], pred[:n] == clip.classes
        return {"bits": float(bits(nll.mean())), "accuracy": int(hit.sum()) / n, "nll": nll / math.log(2),
                "hit": hit, "starts": [0], "block": n}

    # -- checkpoints ------------------------------------------------------------
    def state(self) -> dict:
        return {"config": self.config.to_dict(), "settings": dataclasses.asdict(self.settings),
                "step": self.step, "skipped": self.skipped, "bad_run": self.bad_run,
                "rng": self.rng.bit_generator.state, "adam_step": self.opt.step_count,
                "clip_weights": self.clip_weights.tolist(), "cursor": self.cursor,
                "ewc": None if self.ewc is None else self.ewc.meta(),
                "clips": [{"name": c.name, "samples": len(c.classes), "fingerprint": c.fingerprint}
                          for c in self.clips],
                "dtype": self.net.dtype.name, "precision": self.net.precision, "extra": self.extra,
                "run": self.run_id}

    def save_checkpoint(self, path=None) -> str:
        """Write a checkpoint (MPI: every rank calls it at the same step; the ranks compare
        checksums of their parameters, then rank 0 alone writes)."""
        path = path or _ckpt.step_path(self.out_dir, self.step)
        distributed.check_same(self.world, self.params, f"checkpoint at step {self.step}")
        if self.world.rank != 0:
            return path
        opt = self.opt.state()
        _ckpt.save(path, self.state(), self.params, opt["m"], opt["v"],
                   extra=None if self.ewc is None else self.ewc.arrays())
        if self.out_dir and os.path.dirname(os.path.abspath(path)) == os.path.abspath(self.out_dir):
            _ckpt.prune(self.out_dir, self.settings.keep, run=self.run_id, written=path)
        return path

    @classmethod
    def resume(cls, source, clips, check_clips: bool = True, **overrides) -> "Trainer":
        """Continue from a checkpoint file, or the newest one in a directory, on ``clips``
        (the same clips, unless check_clips=False); ``overrides`` change settings (e.g. steps)."""
        path = os.fspath(source)
        out_dir = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            path = _ckpt.latest(path)
            if path is None:
                raise _ckpt.CheckpointError(f"{source}: no checkpoint (ckpt-*.npz) to resume from")
        meta, arrays = _ckpt.load(path)
        cfg = WaveNetConfig.from_dict(meta["config"])
        # the precision the run ran in (not "auto" again: another machine could pick otherwise)
        settings = TrainSettings(**{**meta["settings"], "precision": meta.get("precision", "fp32"),
                                    **overrides})
        t = cls(cfg, clips, settings, out_dir=out_dir, params=arrays["params"])
        if check_clips:
            saved = [c["fingerprint"] for c in meta["clips"]]
            if saved != [c.fingerprint for c in t.clips]:
                raise _ckpt.CheckpointError(
                    f"{path}: was trained on clips {[c['name'] for c in meta['clips']]}; the clips "
                    "given differ (names, order or content), so the run cannot resume exactly")
        if "clip_weights" in meta:
            t.set_clips(t.clips, meta["clip_weights"])
            t.cursor = meta["cursor"]
        if meta.get("ewc") is not None:
            t.ewc = EWC.from_state(meta["ewc"], arrays, t.net.backend)
        t.opt.load_state({"m": arrays["adam_m"], "v": arrays["adam_v"], "step": meta["adam_step"]})
        t.rng.bit_generator.state = meta["rng"]
        t.step, t.skipped, t.bad_run = meta["step"], meta["skipped"], meta["bad_run"]
        t.extra = meta.get("extra", {})
        t.run_id = meta.get("run")
        t.resumed_settings = TrainSettings(**meta["settings"])   # what the run had planned
        return t


class Terminated(KeyboardInterrupt):
    """SIGTERM (what batch schedulers send before they kill a job), raised where Ctrl-C's
    KeyboardInterrupt would be, so the trainer saves and stops the same way. Inside
    ``sigterm_as_interrupt()`` (the ``wavecore`` command's train, study and demo run there)."""


def _raise_terminated(signum, frame):
    raise Terminated("SIGTERM")


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Inside the block SIGTERM raises Terminated (in the main thread); the previous
    disposition comes back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


_HELD = (signal.SIGINT, signal.SIGTERM)
_vote = [0]          # MPI: 1 Ctrl-C, 2 SIGTERM, seen by this process and not yet acted on


@contextlib.contextmanager
def signals_voted(world):
    """Under MPI (world.size > 1): inside the block Ctrl-C and SIGTERM only record a vote; the
    next training step's small Allreduce tells every rank, and all stop after that same step (a
    rank raising alone would leave the others waiting in a collective). One process: nothing."""
    if world.size == 1 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def vote(signum, frame):
        _vote[0] = max(_vote[0], 2 if signum == signal.SIGTERM else 1)
    old = {sig: signal.signal(sig, vote) for sig in _HELD}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


@contextlib.contextmanager
def signals_held():
    """Hold Ctrl-C (SIGINT) and SIGTERM until the block ends, then deliver them as they would
    have been (a signal whose handler is the default or ignore is left alone)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught, old = [], {}
    for sig in _HELD:
        h = signal.getsignal(sig)
        if callable(h):                    # a Python handler: hold it
            old[sig] = signal.signal(sig, lambda n, f: caught.append(n))
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)


def _progress(total, desc, enabled):
    """tqdm on a terminal; silent otherwise."""
    return tqdm(total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True,
                disable=not (enabled and sys.stderr.isatty()))
