"""The incremental learn-and-forget study.

Stage 1 trains on clip 1 (until the network has memorised it, or a fixed number of steps),
stage k on clips 1..k (the ``cumulative`` curriculum; the others are in
wavecore.training.curriculum).
Everything else is an activity (wavecore.study.activities) with its own trigger: the
memorisation check, the timeline renders and the within-stage curves inside a stage; the EWC
Fisher, the scoring of every clip (teacher-forced) and the renders at every temperature at its
end. A checkpoint follows every stage; ``resume=True`` goes on from the newest one. With a
conditioned model (config.gc_ids >= number of clips) clip j is trained, scored and rendered with
id j; the unprimed renders of stage s use the newest clip's id.

Layout of the output directory:
    originals/NN_NAME.wav         the clips as the model hears them (μ-law, model rate)
    references/NN_NAME.wav        the references (judged against, never trained on), likewise
    stage_S/NAME_stageS_T0.6_stepN.wav   primed reproductions (prime + continuation);
                                  stage_S/unprimed_stageS_T0.6_stepN.wav
    timeline/NAME_stageS_T0.7_stepN.wav  renders of the newest clip during stage S
    checkpoints/ckpt-*.npz        one per stage (and on Ctrl-C, SIGTERM, by time)
    study.json                    progress and every number (for resume; wavecore.study.record)
    metrics.json, report.html, figures/*.png   written by wavecore.study.report
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

from ..analysis import measures
from ..analysis import moments as _moments
from ..engine import audio as _audio
from ..engine import distributed
from ..engine.config import WaveNetConfig
from ..engine.files import make_dir
from ..pages import render
from ..training import Clip, Trainer, load_clip
from ..training.checkpoint import CheckpointError, latest, load, step_path
from ..training.curriculum import stage_clips, stage_weights
from ..training.rundir import owned
from ..training.signals import signals_voted
from . import record as _record
from .activities import activities
from .plan import duration, make
from .report import build
from .settings import StudySettings
from .view import StudyResults, study_html

ALONE = ("one clip and no references: what it shares with other songs (a drum kit, a sound) "
         "cannot be told from what the network kept of it; give the rest of the record as "
         "references (--reference) so that a verdict can say shared")


class Study:
    def __init__(self, config: WaveNetConfig, clips, settings: StudySettings | None = None,
                 out_dir="study", report: bool = True, moments: dict | None = None,
                 references=()):
        """report: rewrite DIR/report.html after every stage (wavecore.study.report).
        moments: {clip name: an Audacity label file of its moments}; a clip given as a path
        without one takes NAME.txt beside it where there is one; else its moments are the
        built-in song's or what it repeats (wavecore.analysis.moments.ClipMoments.find).
        references: clips as ``clips`` are given, which every render is judged against too but
        which are never trained on: the rest of a record (its other songs), so that what a clip
        shares with them is told apart (*shared*) from what the network kept of the clip alone."""
        self.report = report
        self.world = distributed.world()     # under mpiexec: this rank (see run())
        self.config = config
        self.settings = settings or StudySettings()
        named = list(_named(clips))
        self.clips: list[Clip] = [self._trimmed(load_clip(c, config, name=n)) for n, c in named]
        self.references: list[Clip] = [self._trimmed(load_clip(c, config, name=n))
                                       for n, c in _named(references)]
        self._labels = _labels(self.clips, named, moments or {})
        self._moments = {}
        if config.gc_ids and config.gc_ids < len(self.clips):
            raise ValueError(f"{len(self.clips)} clips but the model has {config.gc_ids} "
                             "conditioning ids (clip j is read with id j)")
        every = self.clips + self.references
        if len({c.name for c in every}) != len(every):
            raise ValueError("clip and reference names must be unique: "
                             + ", ".join(c.name for c in every))
        self.out = os.fspath(out_dir)
        self.plan = self.record = self._sources = None
        # what is trained on: each clip but its held-out tail (settings.holdout)
        self.heads = [_head(c, self.settings.trained(len(c.classes))) for c in self.clips]

    def _trimmed(self, clip: Clip) -> Clip:
        """The clip without its leading and trailing silence (settings.trim_db), as the essay's
        runs trimmed theirs; as it is when trim_db is None."""
        if self.settings.trim_db is None:
            return clip
        a, _ = _audio.trim_silence(clip.audio, self.config.sample_rate,
                                   threshold_db=self.settings.trim_db, source=clip.name)
        return load_clip(a, self.config, name=clip.name)

    def _repr_html_(self) -> str:
        """In Jupyter: the config, the clips, and the results so far (read from the output
        directory, so a study running in another process shows its progress too)."""
        try:
            rec = _record.load(self.out)
        except ValueError:                       # nothing there yet, or no stage ended
            rec = None
        clips = [(c.name, len(c.classes) / self.config.sample_rate) for c in self.clips]
        return render("study_setup.html", clips=clips, curriculum=self.settings.curriculum,
                      config=self.config._repr_html_(),
                      results=study_html(rec, self.out) if rec else None)

    # -- what activities use -----------------------------------------------------------------
    def gc(self, j):
        """The conditioning id of clip j (its position), or None for an unconditioned model."""
        return j if self.config.gc_ids else None

    def seed(self, stage, clip, extra=0) -> int:
        return int(self.settings.seed) * 1_000_003 + stage * 10_007 + clip * 101 + extra

    @staticmethod
    def render_path(stage, name, t, step, folder=None, seed=0) -> str:
        """Where a render goes: its file name says clip, stage, temperature, step and (after
        the first) the render seed."""
        tail = f"_seed{seed}" if seed else ""
        return os.path.join(folder or f"stage_{stage}",
                            f"{_record.slug(name)}_stage{stage}_T{t:g}_step{step}{tail}.wav")

    def save(self, path, audio) -> None:
        """Write a render (rank 0 alone), path relative to the study's directory."""
        if self.world.rank == 0:
            p = os.path.join(self.out, path)
            make_dir(os.path.dirname(p))
            _audio.save(p, audio, self.config.sample_rate)

    def sources(self) -> measures.Sources:
        """What the renders are attributed to: every clip as the model hears it, then the
        references."""
        if self._sources is None:
            cfg = self.config
            self._sources = measures.Sources([(c.name, _audio.mu_law_decode(c.classes, cfg.classes))
                                              for c in self.clips + self.references],
                                             cfg.sample_rate, cfg.classes)
        return self._sources

    def moments(self, j) -> _moments.ClipMoments | None:
        """Clip j's moments (found once; None for a clip too long to seek what it repeats)."""
        if j not in self._moments:
            c, cfg = self.clips[j], self.config
            self._moments[j] = _moments.ClipMoments.find(
                c.name, _audio.mu_law_decode(c.classes, cfg.classes), cfg.sample_rate,
                self._labels.get(c.name))
            found = self._moments[j]
            if self.record is not None and found is not None:
                self.record.moments[c.name] = {"from": found.source,
                                               "moments": [list(m) for m in found.moments]}
        return self._moments[j]

    # -- the run -----------------------------------------------------------------------------
    def run(self, resume: bool = False, progress: bool = True, log=print,
            plan=None) -> StudyResults:
        """Run (or finish) the study; returns its record (also in study.json and metrics.json).

        Under mpiexec every rank runs this: training is data-parallel (wavecore.training.trainer),
        the scoring and the renders are split across the ranks and gathered, and rank 0 alone writes
        and logs. Ctrl-C and SIGTERM then stop every rank at one training step. plan
        (wavecore.study.plan.make; made here when not given): said in one line before the study
        starts; its estimates give the progress bar the study's time left."""
        with owned(self.out, "wavecore study", self.world):
            return self._run(resume, progress, log, plan)

    def _run(self, resume, progress, log, plan) -> StudyResults:
        w = self.world
        log = log if w.rank == 0 else (lambda *a, **k: None)
        got = self._state(resume) if w.rank == 0 else None
        record, problem = w.bcast(got)                     # rank 0 read it: all decide alike
        if problem:
            raise problem[0](problem[1])
        self.record, done = record, len(record.stages)
        self.activities = activities(self)
        self.plan = plan or make(self.config, self.clips, self.settings)
        record.monitor_every = next(a.every for a in self.activities if a.name == "monitor")
        log(self.plan.short())
        for line in filter(None, [self.plan.warning()]):
            log(line)
        if self.references:
            log("references (every render judged against them too, never trained on): "
                + ", ".join(c.name for c in self.references))
        elif len(self.clips) == 1:
            log(f"note: {ALONE}")
        if w.rank == 0:
            for rel, c in zip(record.originals + record.reference_files,
                              self.clips + self.references):
                self.save(rel, _audio.mu_law_decode(c.classes, self.config.classes))
        trainer, part = self._trainer(done, log)
        if trainer is None:
            trainer = Trainer(self.config, self._stage_set(1)[0], self.settings.train,
                              out_dir=os.path.join(self.out, "checkpoints"))
            log(f"model: {self.config.describe()}; {trainer.net.size:,} parameters, "
                f"backend {trainer.net.backend}, {trainer.net.precision}")
            part = self._begin(trainer, 0)
            for a in self.activities:                     # stage 0: the untrained network
                if a.at_end(0):
                    a.run(trainer, 0, part)
            self.record.monitor += part["monitor"]
            part = None
            self._write()
        with signals_voted(self.world):
            for s in range(done + 1, len(self.clips) + 1):
                self._stage(trainer, s, part, progress, log)
                part = None
        return StudyResults(self.record, self.out)

    def _begin(self, trainer, s) -> dict:
        """The progress of stage s (checkpointed with the trainer, so a stage resumes inside)."""
        return {"stage": s, "start": trainer.step, "loss_curve": [], "timeline": [], "monitor": [],
                "trajectory": [],
                "memorised": False, "trained": False,
                "time": {"training": 0.0, **{a.name: 0.0 for a in self.activities if a.during}}}

    def _stage(self, trainer, s, part, progress, log):
        st, rec, K = self.settings, self.record, len(self.clips)
        t0 = time.perf_counter()
        if part is None:
            trainer.set_clips(*self._stage_set(s))
            if st.reset_optimizer:
                trainer.reset_optimizer()          # moments and bias correction; the step goes on
            part = self._begin(trainer, s)
            log(f"stage {s}/{K}: training on {self._describe(trainer)}")
        if trainer.settings.lr != st.lr(s):               # (a resumed stage's too)
            trainer.settings = dataclasses.replace(trainer.settings, lr=st.lr(s))
        trainer.extra["stage"] = part
        if not part["trained"]:
            self._train(trainer, s, part, progress)
        ck = os.path.basename(step_path(trainer.out_dir, trainer.step))     # train() wrote it
        rec.loss_curve += part["loss_curve"]
        rec.timeline += [_record.Timeline(**t) for t in part["timeline"]]
        rec.trajectory += [_record.Point(**p) for p in part.get("trajectory", [])]
        rec.monitor += part["monitor"]
        for a in self.activities:
            if a.at_end(s):
                t1 = time.perf_counter()
                a.run(trainer, s, part)
                part["time"][a.name] = time.perf_counter() - t1
        how = "fixed" if st.fixed(s) else "memorised" if part["memorised"] else "cap reached"
        rec.stages.append(_record.Stage(
            s, [c.name for c in self.clips[:s]], trainer.step - part["start"], trainer.step,
            part["memorised"], ck, time.perf_counter() - t0, how,
            {k: round(v, 3) for k, v in part["time"].items()}))
        log(f"  {trainer.step - part['start']} steps ({how}), accuracy "
            + ", ".join(f"{c.name} {a:.3f}" for c, a in zip(self.clips, rec.accuracy[s])))
        rec.measures = rec.measured()
        self._write()
        if self.world.rank == 0 and self.report:      # a run of hours can be looked at now
            build(self.out, rec)
        trainer.extra.pop("stage")

    def _train(self, trainer, s, part, progress):
        """Train stage s to its step count, running the activities whose triggers fire."""
        every = self.settings.train.log_every
        firing = [(a, a.trigger(s)) for a in self.activities if a.during and a.trigger(s)]
        spent = part["time"]

        def hook(tr, rec):
            n = tr.step - part["start"]
            if rec.get("step", 0) % every == 0:
                part["loss_curve"].append([tr.step, rec["bits"], s])
            stop = False
            for a, trigger in firing:
                if trigger.fires(n):
                    t0 = time.perf_counter()
                    stop = a.run(tr, s, part) or stop
                    spent[a.name] += time.perf_counter() - t0
            return stop
        side = sum(spent[a.name] for a, _ in firing)
        t1 = time.perf_counter()
        trainer.train(part["start"] + self.settings.steps(s), progress=progress, callback=hook,
                      desc=f"stage {s}/{len(self.clips)}", eta=self._eta(s))
        side = sum(spent[a.name] for a, _ in firing) - side       # the activities' share
        spent["training"] += time.perf_counter() - t1 - side

    def _eta(self, s):
        """eta(steps left in stage s, the last step's record) -> the study's time left: this
        stage's steps at the speed now, then the plan's estimate of what follows."""
        p = self.plan
        over = (p.total_s - p.seconds["training"]) / len(p.steps)     # per stage, roughly
        after = (sum(n * t for n, t in zip(p.steps[s:], p.step_s[s:]))
                 + over * (len(p.steps) - s + 1))
        per_step = p.batch * p.windows[s - 1]
        return lambda left, rec: duration(left * per_step / max(rec["samples_per_s"], 1e-9) + after)

    # -- bookkeeping -----------------------------------------------------------------------
    def _identity(self) -> dict:
        def said(clips):
            return [{"name": c.name, "samples": len(c.classes), "fingerprint": c.fingerprint}
                    for c in clips]
        return {"config": self.config.to_dict(),
                "settings": json.loads(json.dumps(dataclasses.asdict(self.settings))),
                "clips": said(self.clips),
                **({"references": said(self.references)} if self.references else {})}

    def _state(self, resume):
        """(the record in study.json, or a new one; None) or (None, (exception class, message))."""
        ident = self._identity()
        path = os.path.join(self.out, "study.json")
        if not os.path.exists(path):
            make_dir(self.out)
            return (_record.Record.new(self.config, self.settings, [c.name for c in self.clips],
                                       [c.name for c in self.references]), None)
        if not resume:
            return None, (FileExistsError, f"{self.out} already holds a study; finish it with "
                          "--resume, or choose another --out")
        try:
            there, rec = _record.read_state(self.out)
        except ValueError as e:
            return None, (CheckpointError, str(e))
        if there != ident:
            diff = "; ".join(f"{k}: {a!r} there, {b!r} now"
                             for k, a, b in _differences(there, ident)[:4])
            return None, (CheckpointError, f"{path}: the study there used another config, settings "
                          f"or clips ({diff}); it cannot be resumed with these")
        return rec, None

    def _write(self):
        if self.world.rank == 0:
            _record.write_state(self.out, self._identity(), self.record)

    def _trainer(self, done, log):
        """(trainer, stage progress) to go on from: the newest checkpoint when it lies inside
        stage done + 1 (written on Ctrl-C, SIGTERM or by time), else the end of stage done;
        (None, None) for a new study."""
        ckdir = os.path.join(self.out, "checkpoints")
        newest = self.world.bcast(latest(ckdir) if os.path.isdir(ckdir) else None)
        part = load(newest)[0].get("extra", {}).get("stage") if newest else None
        if part is not None and part["stage"] == done + 1:
            trainer = Trainer.resume(newest, self._stage_set(done + 1)[0])
            log(f"resuming stage {done + 1} at step {trainer.step}")
            return trainer, part
        if done == 0:
            return None, None
        trainer = Trainer.resume(os.path.join(ckdir, self.record.stages[-1].checkpoint),
                                 self._stage_set(done)[0])
        log(f"resuming after stage {done} (step {trainer.step})")
        return trainer, None

    def _stage_set(self, s):
        """(clips, weights): what the trainer holds in stage s and each clip's share of the
        windows (wavecore.training.curriculum)."""
        st = self.settings
        held = self.heads[:stage_clips(st.curriculum, s, len(self.clips))]
        return held, stage_weights(st.curriculum, s, [len(c.classes) for c in held],
                                   st.train.sampling, st.replay)

    def _describe(self, trainer) -> str:
        """The stage's clips and their shares of the windows, in words."""
        parts = [f"{c.name}" + ("" if w == 1 else f" ({w:.0%})")
                 for c, w in zip(trainer.clips, trainer.clip_weights) if w > 0]
        return ", ".join(parts) + f" [{self.settings.curriculum}, {trainer.settings.order}]"


def _head(clip: Clip, n: int) -> Clip:
    """The clip's first n samples (the clip itself when that is all of it)."""
    return clip if n == len(clip.classes) else Clip(clip.name, clip.audio[:n], clip.classes[:n])


def _differences(a, b, where=""):
    """[(dotted key, value in a, value in b)] where two JSON documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in _differences(a.get(k), b.get(k), f"{where}.{k}" if where else str(k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in _differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [(where, a, b)]


def _labels(clips, named, given: dict) -> dict:
    """{clip name: its label file}: those given, by clip name or by the path the clip was given
    as (ValueError naming an unknown clip or a missing file), and for a clip given as a path,
    NAME.txt beside it where there is one; every file read once to say now what is wrong."""
    names = [c.name for c in clips]
    by_path = {os.fspath(src): c.name for c, (_, src) in zip(clips, named)
               if isinstance(src, (str, os.PathLike))}
    out = {}
    for key, path in given.items():
        name = key if key in names else by_path.get(key)
        if name is None:
            raise ValueError(f"--moments {key}={path}: no clip is named {key!r} (the clips: "
                             f"{', '.join(names)})")
        if not os.path.isfile(path):
            raise ValueError(f"--moments {key}={path}: no such file")
        out[name] = path
    for clip, (_, source) in zip(clips, named):
        if clip.name not in out and isinstance(source, (str, os.PathLike)):
            beside = os.path.splitext(os.fspath(source))[0] + ".txt"
            if os.path.isfile(beside):
                out[clip.name] = beside
    for path in out.values():
        _moments.read_labels(path)            # a bad file says so now, not after a stage
    return out


def _named(clips):
    """Accept Clip objects, (name, source) pairs, paths or arrays."""
    for i, c in enumerate(clips):
        if isinstance(c, Clip):
            yield c.name, c
        elif isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], str):
            yield c
        elif isinstance(c, (str, os.PathLike)):
            yield None, c
        else:
            yield f"clip{i + 1}", c
