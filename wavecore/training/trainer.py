"""Trainer: Adam with a schedule and clipping over windows of a set of clips (windows.py), a
NaN/Inf guard, data parallelism under MPI, evaluation (evaluation.py), JSON-lines logs,
checkpoints and exact resume. The loop's log and checkpoints fire on triggers (triggers.py),
as a study's activities do."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
import uuid

import numpy as np
from tqdm import tqdm

from ..engine import distributed
from ..engine.backends import default_threads
from ..engine.config import WaveNetConfig
from ..engine.files import make_dir
from ..engine.model import Batch, WaveNet
from ..engine.optim import Adam
from . import checkpoint as _ckpt
from .curriculum import EWC
from .evaluation import Score, score
from .settings import TrainSettings, bits, lr_at
from .signals import Terminated, signals_held, signals_voted, votes
from .triggers import Clock, Every
from .windows import WindowSampler, load_clip


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss kept coming out non-finite)."""


class Trainer:
    """Trains a WaveNet on clips. ``train(steps)`` runs until the step counter reaches
    ``steps``; ``Trainer.resume(dir, clips)`` continues a run exactly where it stopped."""

    def __init__(self, config: WaveNetConfig, clips, settings: TrainSettings | None = None,
                 out_dir=None, params: np.ndarray | None = None):
        self.config = config
        self.settings = s = settings or TrainSettings()
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
        self.weights = self.net.backend.to_device(params, self.net.dtype)  # where the backend works
        self.opt = Adam(self.net.size, lr=s.lr, eps=s.adam_eps, clip_norm=s.clip_norm or None,
                        dtype=self.net.dtype, backend=self.net.backend)
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
        self._in_step = False               # a step begun and not yet committed
        self._agreed = (0, False)             # MPI: (stop: 0/1/2, checkpoint due) of the last step
        self.log_trigger = Every(s.log_every)
        self.checkpoint_trigger = Every(s.checkpoint_every)
        self.clock = Clock(s.checkpoint_minutes)   # a checkpoint by wall time
        self.ewc = None                        # curriculum.EWC: a penalty on the weights
        self.windows = WindowSampler(config, s, clips)   # the clips and the draw of windows

    # -- the clips (the window sampler holds them) ----------------------------------------
    def set_clips(self, clips, weights=None) -> None:
        """Train on these clips from now on (the study adds one per stage):
        WindowSampler.set_clips."""
        self.windows.set_clips(clips, weights)

    @property
    def clips(self) -> list:
        return self.windows.clips

    @property
    def clip_weights(self) -> np.ndarray:
        return self.windows.weights

    @property
    def padded(self) -> list:
        return self.windows.padded

    @property
    def T(self) -> int:
        return self.windows.T

    @property
    def cursor(self):
        return self.windows.cursor

    def sample_windows(self) -> Batch:
        """The next step's windows (WindowSampler.draw)."""
        return self.windows.draw(self.step)

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

    # -- optimisation -----------------------------------------------------------
    def lr_at(self, step: int) -> float:
        return lr_at(self.settings, step)

    def train_step(self) -> dict:
        """One step; a non-finite loss or gradient is skipped and never touches the weights.
        The update and the counters change together (Ctrl-C is held while they do); before
        that, an interrupted step has changed nothing but the window generator, which
        ``train`` rewinds before it saves."""
        self.windows.mark()
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
            if math.isfinite(loss) and math.isfinite(norm) and math.isfinite(penalty):
                self.opt.step(self.weights, grads, lr=lr, norm=norm)
                self._host = None
                self.bad_run = 0
            else:
                self._skip(rec, loss, norm, lr)
            self.step += 1
            self._in_step = False
        rec["samples_per_s"] = self.settings.batch * self.T / (time.perf_counter() - t0)
        return rec

    def _skip(self, rec, loss, norm, lr) -> None:
        self.skipped += 1
        self.bad_run += 1
        rec["skipped"] = True
        if self.bad_run > self.settings.max_bad_steps:
            raise TrainingError(
                f"{self.bad_run} consecutive steps had a non-finite loss or gradient "
                f"(last loss {loss}, gradient norm {norm}) at step {self.step + 1}; the "
                f"weights were not touched. Lower the learning rate (now {lr:g}) "
                "or check the data.")

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
        due = w.rank == 0 and self.clock.due()
        agreed = np.array([loss, votes.seen == 1, votes.seen == 2, due], np.float64)
        w.allreduce_(agreed)
        self._agreed = (2 if agreed[2] else 1 if agreed[1] else 0, bool(agreed[3]))
        return float(agreed[0]), grads

    # -- the loop ---------------------------------------------------------------
    def train(self, steps: int | None = None, *, progress: bool = True, callback=None,
              desc: str = "train", eta=None) -> list[dict]:
        """Run until ``self.step == steps`` (default settings.steps). ``callback(trainer, rec)``
        after every step may return True to stop early; Ctrl-C and SIGTERM wait for it (a
        step and its callback are one unit). Checkpoints every ``checkpoint_every`` steps or
        ``checkpoint_minutes`` minutes, whichever comes first, on return, and on Ctrl-C or
        SIGTERM (``Terminated``), when there is an out_dir. ``eta(steps_left, rec)`` -> text: shown
        on the progress bar (a study's time left)."""
        target = self.settings.steps if steps is None else steps
        logged = []
        bar = _progress(target - self.step, desc, progress and self.world.rank == 0)
        self._in_step = False
        self.clock.reset()
        try:
            with signals_voted(self.world):
                while self.step < target:
                    rec = self.train_step()
                    with signals_held():
                        stop = self._after_step(rec, target, bar, logged, callback, eta)
                    self._stop_if_voted()
                    if stop:
                        break
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM: save every completed step; a step cut short changed nothing
            # but the window generator, rewound here, so resume continues exactly
            if self.out_dir:
                if self._in_step:
                    self.windows.rewind()
                    self._in_step = False
                self.save_checkpoint()
            raise
        finally:
            bar.close()
        if self.out_dir:
            self.save_checkpoint()
        return logged

    def _after_step(self, rec, target, bar, logged, callback, eta) -> bool:
        """The progress bar, the log and a checkpoint when their triggers fire, and the
        callback; True stops the loop."""
        bar.update(1)
        if self.log_trigger.fires(self.step) or rec.get("skipped") or self.step == target:
            post = {"loss": f"{rec['loss']:.3f}", "sps": f"{rec['samples_per_s']:,.0f}"}
            if eta is not None:
                post["study left"] = eta(target - self.step, rec)
            bar.set_postfix(post)
            logged.append(rec)
            self._log(rec)
        stop = callback is not None and callback(self, rec)
        by_time = self._agreed[1] if self.world.size > 1 else self.clock.due()
        if (by_time or self.checkpoint_trigger.fires(self.step)) and self.out_dir:
            self.save_checkpoint()
            self.clock.reset()
        return stop

    def _stop_if_voted(self) -> None:
        """MPI: every rank stops after the step in which any rank saw Ctrl-C or SIGTERM."""
        if self._agreed[0]:
            kind, self._agreed = self._agreed[0], (0, False)
            votes.clear()
            raise Terminated("SIGTERM") if kind == 2 else KeyboardInterrupt()

    def _log(self, rec: dict) -> None:
        if self.out_dir and self.world.rank == 0:
            with open(os.path.join(self.out_dir, "train.jsonl"), "a", encoding="utf-8") as f:
                f.write(json.dumps({**rec, "run": self.run_id}) + "\n")

    # -- evaluation -------------------------------------------------------------
    def evaluate(self, clip, chunk: int | None = None, gc: int | None = None,
                 positions: int | None = None) -> Score:
        """Teacher-forced NLL over the whole clip, or about ``positions`` of it
        (evaluation.score). A conditioned model reads the clip with id ``gc`` (default: its
        index in the set)."""
        clip = load_clip(clip, self.config)
        ids = None
        if self.config.gc_ids:
            if gc is None:
                known = [c.fingerprint for c in self.clips]
                if clip.fingerprint not in known:
                    raise ValueError(f"{clip.name}: a conditioned model needs the clip's id (gc=)")
                gc = known.index(clip.fingerprint)
            ids = np.array([gc], dtype=np.int64)
        return score(self.net, self.weights, clip.classes, ids, chunk, positions)

    # -- checkpoints ------------------------------------------------------------
    def state(self) -> dict:
        return {"config": self.config.to_dict(), "settings": dataclasses.asdict(self.settings),
                "step": self.step, "skipped": self.skipped, "bad_run": self.bad_run,
                **self.windows.state(), "adam_step": self.opt.step_count,
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
    def resume(cls, source, clips, check_clips: bool = True, **overrides) -> Trainer:
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
        t.windows.load_state(meta)
        if meta.get("ewc") is not None:
            t.ewc = EWC.from_state(meta["ewc"], arrays, t.net.backend)
        t.opt.load_state({"m": arrays["adam_m"], "v": arrays["adam_v"], "step": meta["adam_step"]})
        t.step, t.skipped, t.bad_run = meta["step"], meta["skipped"], meta["bad_run"]
        t.extra = meta.get("extra", {})
        t.run_id = meta.get("run")
        t.resumed_settings = TrainSettings(**meta["settings"])   # what the run had planned
        return t


def _progress(total, desc, enabled):
    """tqdm on a terminal; silent otherwise."""
    return tqdm(total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True,
                disable=not (enabled and sys.stderr.isatty()))
