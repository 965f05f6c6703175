"""The incremental learn-and-forget study.

Stage 1 trains on clip 1 (until the network has memorised it, or a fixed number of steps),
stage k on clips 1..k (the ``cumulative`` curriculum; ``sequential``, ``replay`` and ``joint``
are in wavecore.curriculum, with EWC). Before stage 1 (the untrained baseline) and after every
stage, every clip, seen or not, is scored teacher-forced (bits/sample, top-1 accuracy and the
per-position trace), so R[stage, clip] matrices and the measures of wavecore.measures follow;
inside each stage every ``eval_every`` steps too, on fixed positions (the within-stage curves).
After every stage each seen clip is reproduced at every temperature, primed with its first
``prime_seconds``, and compared with the original; one unprimed render per temperature shows
what the network makes up on its own; every render's frames are attributed to the clips,
silence, noise or novel sound (measures.resemblance). Inside each stage, every
``timeline_every`` steps, a short render of the newest clip lets one hear it being learned.
A checkpoint follows every stage; ``resume=True`` skips finished stages. With a conditioned
model (config.gc_ids >= number of clips) clip j is trained, scored and rendered with id j;
the unprimed renders of stage s use the newest clip's id.

Layout of the output directory:
    originals/NN_NAME.wav         the clips as the model hears them (μ-law, model rate)
    stage_S/NAME_stageS_T0.6_stepN.wav   primed reproductions (prime + continuation);
                                  stage_S/unprimed_stageS_T0.6_stepN.wav
    timeline/NAME_stageS_T0.7_stepN.wav  renders of the newest clip during stage S
    checkpoints/ckpt-*.npz        one per stage (and on Ctrl-C, SIGTERM, by time)
    study.json                    progress and every number (for resume)
    metrics.json, report.html, figures/*.png   written by wavecore.report
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from . import audio as _audio
from . import distributed, measures
from .checkpoint import CheckpointError, latest, load, step_path
from .config import WaveNetConfig
from .files import atomic_write, make_dir
from .sampler import CachedSampler
from .train import Clip, Trainer, TrainSettings, load_clip, signals_voted


def study_train_settings(**kw) -> TrainSettings:
    """A study's training defaults: a constant learning rate, no step-count checkpoints (one
    per stage, plus the time-based ones), every checkpoint kept."""
    return TrainSettings(**{**dict(batch=4, window=2000, lr=3e-3, schedule="constant", warmup=20,
                                   checkpoint_every=0, keep=1000), **kw})


@dataclass
class StudySettings:
    """Every default of ``wavecore study`` (the command reads them from here)."""
    temperatures: tuple = (0.9, 0.7, 0.6)
    memorise: bool = True            # stage ends when the newest clip is memorised (else fixed)
    steps_per_stage: int = 600       # the cap (memorise) or the fixed count
    later_steps: int | None = None   # if set: stages 2.. train exactly this many steps, as the
                                     # original did (memorise the first song, then +N per song)
    memorised_accuracy: float = 0.998  # teacher-forced top-1 accuracy on the newest clip
    check_every: int = 50
    check_positions: int = 8192      # a check scores this many fixed positions of the clip
    score_positions: int | None = 65536  # scoring after a stage: this many fixed positions of
                                     # each clip, in evenly spread blocks (None: every position)
    timeline_every: int = 100        # 0: no timeline
    timeline_seconds: float = 0.5
    prime: float | str = 0.1         # seconds of the original a render reads first, or "rf"
    prime_from: str = "own"          # "own": clip j's render primed by clip j; "first": by clip 1
    render_seconds: float = 4.0      # the continuation each render adds after its prime
    unprimed_seconds: float = 1.0
    reset_optimizer: bool = False    # restart Adam's moments at every stage (the step goes on)
    curriculum: str = "cumulative"   # what stage k trains on (wavecore.curriculum): cumulative,
                                     # sequential, replay or joint
    replay: float = 0.25             # replay: the fraction of windows drawn from older clips
    ewc: float | None = None         # EWC strength λ (None: no EWC; 0: Fisher kept, no penalty)
    ewc_fisher: str = "true"         # "true" (labels drawn from the model) or "empirical"
    ewc_positions: int = 256         # positions the Fisher is estimated over, per stage
    eval_every: int | None = None    # within-stage curves: score every clip every N steps (and
                                     # after 1, 2, 4, ... steps of a stage); None: the N whose
                                     # cost is about 3 % of training (plan.monitor_every); 0: off
    eval_positions: int = 2048       # the fixed positions of each clip those scores read
    trim_db: float | None = None     # trim each clip's leading/trailing frames below this RMS
    trace_bin_seconds: float = 0.01  # per-position NLL traces are averaged over such bins
    seed: int = 0
    train: TrainSettings = field(default_factory=study_train_settings)

    def __post_init__(self):
        if isinstance(self.train, dict):
            self.train = TrainSettings(**self.train)
        self.temperatures = tuple(float(t) for t in self.temperatures)
        if not self.temperatures or any(not (t >= 0) for t in self.temperatures):
            raise ValueError(f"temperatures must be >= 0, got {self.temperatures}")
        if self.steps_per_stage < 1 or self.check_every < 1 or (self.later_steps or 1) < 1:
            raise ValueError("steps_per_stage, later_steps and check_every must be >= 1")
        if not 0 <= self.memorised_accuracy <= 1:
            raise ValueError(f"memorised_accuracy must lie in [0, 1], got {self.memorised_accuracy}")
        if self.timeline_every < 0:
            raise ValueError(f"timeline_every must be >= 0, got {self.timeline_every}")
        if self.prime != "rf" and not (isinstance(self.prime, (int, float)) and self.prime > 0):
            raise ValueError(f"prime must be seconds > 0 or 'rf', got {self.prime!r}")
        if self.prime_from not in ("own", "first"):
            raise ValueError(f"prime_from must be 'own' or 'first', got {self.prime_from!r}")
        for k in ("render_seconds", "unprimed_seconds", "timeline_seconds"):
            if not getattr(self, k) > 0:
                raise ValueError(f"{k} must be > 0, got {getattr(self, k)}")
        if self.check_positions < 1 or (self.score_positions or 1) < 1 or self.eval_positions < 1:
            raise ValueError("check_positions, score_positions and eval_positions must be >= 1")
        from .curriculum import CURRICULA, FISHERS
        if self.curriculum not in CURRICULA:
            raise ValueError(f"curriculum must be one of {', '.join(CURRICULA)}, got {self.curriculum!r}")
        if not 0 <= self.replay < 1:
            raise ValueError(f"replay must lie in [0, 1), got {self.replay}")
        if self.ewc is not None and not self.ewc >= 0:
            raise ValueError(f"ewc must be >= 0, got {self.ewc}")
        if self.ewc_fisher not in FISHERS or self.ewc_positions < 1:
            raise ValueError(f"ewc_fisher must be one of {FISHERS} and ewc_positions >= 1")
        if self.eval_every is not None and self.eval_every < 0:
            raise ValueError(f"eval_every must be >= 0, got {self.eval_every}")

    def prime_samples(self, config) -> int:
        """The prime's length in samples: one receptive field, or ``prime`` seconds."""
        if self.prime == "rf":
            return config.receptive_field
        return max(1, int(round(self.prime * config.sample_rate)))


def _write_json(path, obj):
    atomic_write(path, lambda f: json.dump(obj, f, indent=1), "w")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


class Study:
    def __init__(self, config: WaveNetConfig, clips, settings: StudySettings | None = None,
                 out_dir="study", report: bool = True):
        """report: rewrite DIR/report.html after every stage (wavecore.report)."""
        self.report = report
        self.world = distributed.world()     # under mpiexec: this rank (see run())
        self.config = config
        self.settings = settings or StudySettings()
        self.clips: list[Clip] = [self._trimmed(load_clip(c, config, name=n)) for n, c in _named(clips)]
        if config.gc_ids and config.gc_ids < len(self.clips):
            raise ValueError(f"{len(self.clips)} clips but the model has {config.gc_ids} "
                             "conditioning ids (clip j is read with id j)")
        if len({c.name for c in self.clips}) != len(self.clips):
            raise ValueError("clip names must be unique: " + ", ".join(c.name for c in self.clips))
        self.out = os.fspath(out_dir)

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
        from .display import config_html, study_html
        from .report import load
        try:
            M = load(self.out)
        except ValueError:                       # nothing there yet, or no stage ended
            M = None
        clips = ", ".join(f"{c.name} ({len(c.classes) / self.config.sample_rate:.1f} s)" for c in self.clips)
        head = f"<div><b>Study</b> of {len(self.clips)} clips: {clips}; curriculum {self.settings.curriculum}</div>"
        return head + config_html(self.config) + (study_html(M, self.out) if M else "<div>Not started.</div>")

    # -- bookkeeping ----------------------------------------------------------
    def _identity(self) -> dict:
        return {"config": self.config.to_dict(),
                "settings": json.loads(json.dumps(dataclasses.asdict(self.settings))),
                "clips": [{"name": c.name, "samples": len(c.classes), "fingerprint": c.fingerprint}
                          for c in self.clips]}

    def _path(self, *parts) -> str:
        p = os.path.join(self.out, *parts)
        make_dir(os.path.dirname(p))
        return p

    # -- the run ---------------------------------------------------------------
    def run(self, resume: bool = False, progress: bool = True, log=print, plan=None) -> dict:
        """Run (or finish) the study; returns the metrics dict (also in study.json).

        Under mpiexec every rank runs this: training is data-parallel (wavecore.train), the
        scoring of the clips and the renders are split across the ranks and gathered, and rank
        0 alone writes and logs. Ctrl-C and SIGTERM then stop every rank at one training step.
        plan (wavecore.plan.make; made here when not given): said in one line before the study
        starts; its estimates give the progress bar the study's time left."""
        w = self.world
        lead = w.rank == 0
        log = log if lead else (lambda *a, **k: None)
        state_path = os.path.join(self.out, "study.json")
        state, problem = self._state(state_path, resume) if lead else (None, None)
        state, problem = w.bcast((state, problem))          # rank 0 read it: all decide alike
        if problem:
            raise problem[0](problem[1])
        M = state["metrics"]
        done = len(M["stages"])
        st = self.settings
        from .plan import make, monitor_every
        if plan is None:
            plan = make(self.config, self.clips, st)
        self.plan = plan
        self.every = st.eval_every if st.eval_every is not None else monitor_every(self.config, st, self.clips)
        M["monitor_every"] = self.every
        log(plan.short())
        if lead:
            for k, c in enumerate(self.clips):
                _audio.save(self._path(M["originals"][k]), _audio.mu_law_decode(
                    c.classes, self.config.classes), self.config.sample_rate)
        ckdir = os.path.join(self.out, "checkpoints")
        trainer, part = self._trainer(ckdir, M, done, log)
        if trainer is None:
            trainer = Trainer(self.config, self._stage_set(1)[0], st.train, out_dir=ckdir)
            log(f"model: {self.config.describe()}; {trainer.net.size:,} parameters, "
                f"backend {trainer.net.backend}")
            self._score(trainer, M, stage=0)
            if self.every:
                M["monitor"].append(self._monitor(trainer, 0))
            self._write(state_path, state)
        with signals_voted(self.world):
            from .display import StudyResults
            return StudyResults(self._stages(trainer, part, state, state_path, done, progress, log), self.out)

    def _stages(self, trainer, part, state, state_path, done, progress, log):
        """Stages done + 1 .. K (``part``: the progress of stage done + 1 when it resumes)."""
        st, M, K = self.settings, state["metrics"], len(self.clips)
        ckdir = os.path.join(self.out, "checkpoints")
        for s in range(done + 1, K + 1):
            t0 = time.perf_counter()
            newest = self.clips[s - 1]
            if part is None:                 # the stage's progress, checkpointed with the trainer
                trainer.set_clips(*self._stage_set(s))
                if st.reset_optimizer:
                    trainer.opt.reset()          # moments and bias correction; the step goes on
                part = {"stage": s, "start": trainer.step, "loss_curve": [], "timeline": [],
                        "monitor": [], "memorised": False, "trained": False,
                        "time": {"training": 0.0, "checks": 0.0, "timeline": 0.0, "monitor": 0.0}}
                log(f"stage {s}/{K}: training on {self._describe(trainer)}")
            trainer.extra["stage"] = part
            start = part["start"]
            fixed = s > 1 and st.later_steps is not None
            steps = st.later_steps if fixed else st.steps_per_stage

            def callback(tr, rec, s=s, newest=newest, part=part):
                n = tr.step - part["start"]
                if rec.get("step", 0) % st.train.log_every == 0:
                    part["loss_curve"].append([tr.step, rec["bits"], s])
                t = part["time"]
                if self.every and (n % self.every == 0 or (n < self.every and n & (n - 1) == 0)):
                    t0 = time.perf_counter()            # every N steps, and after 1, 2, 4, ...
                    part["monitor"].append(self._monitor(tr, s))
                    t["monitor"] += time.perf_counter() - t0
                if st.timeline_every and n % st.timeline_every == 0:
                    t0 = time.perf_counter()
                    part["timeline"].append(self._timeline(tr, s, newest))
                    t["timeline"] += time.perf_counter() - t0
                if st.memorise and not fixed and n % st.check_every == 0:
                    t0 = time.perf_counter()
                    acc = tr.evaluate(newest, gc=self._gc(s - 1), positions=st.check_positions)["accuracy"]
                    t["checks"] += time.perf_counter() - t0
                    if acc >= st.memorised_accuracy:
                        part["memorised"] = part["trained"] = True
                        return True
                return False
            if not part["trained"]:
                spent = part["time"]
                t1, side = time.perf_counter(), spent["checks"] + spent["timeline"] + spent["monitor"]
                trainer.train(start + steps, progress=progress, callback=callback,
                              desc=f"stage {s}/{K}", eta=self._eta(s))
                side = spent["checks"] + spent["timeline"] + spent["monitor"] - side   # callbacks'
                spent["training"] += time.perf_counter() - t1 - side
            ck = os.path.basename(step_path(ckdir, trainer.step))     # train() wrote it
            if st.ewc is not None and (trainer.ewc is None or trainer.ewc.stages < s):
                t1 = time.perf_counter()
                self._consolidate(trainer, s, M)
                trainer.save_checkpoint()              # the stage's checkpoint, with the penalty
                part["time"]["ewc"] = time.perf_counter() - t1
            M["loss_curve"] += part["loss_curve"]
            M["timeline"] += part["timeline"]
            M["monitor"] += part["monitor"]
            t1 = time.perf_counter()
            self._score(trainer, M, stage=s)
            t2 = time.perf_counter()
            self._render(trainer, M, stage=s)
            part["time"].update(scoring=t2 - t1, renders=time.perf_counter() - t2)
            how = "fixed" if fixed or not st.memorise else "memorised" if part["memorised"] else "cap reached"
            M["stages"].append({"stage": s, "clips": [c.name for c in self.clips[:s]],
                                "steps": trainer.step - start, "end_step": trainer.step,
                                "memorised": part["memorised"], "checkpoint": ck,
                                "seconds": time.perf_counter() - t0, "ended": how,
                                "time": {k: round(v, 3) for k, v in part["time"].items()}})
            row = M["accuracy"][s]
            log(f"  {trainer.step - start} steps ({how}), "
                "accuracy " + ", ".join(f"{c.name} {a:.3f}" for c, a in zip(self.clips, row)))
            M["measures"] = _measures(M)
            self._write(state_path, state)
            if self.world.rank == 0 and self.report:      # a run of hours can be looked at now
                from .report import build
                build(self.out, M)
            part = None
            trainer.extra.pop("stage")
        return M

    def _eta(self, s):
        """eta(steps left in stage s, the last step's record) -> the study's time left: this
        stage's steps at the speed now, then the plan's estimate of what follows."""
        p = self.plan
        if p is None:
            return None
        over = (p.total_s - p.seconds["training"]) / len(p.steps)     # per stage, roughly
        after = sum(n * t for n, t in zip(p.steps[s:], p.step_s[s:])) + over * (len(p.steps) - s + 1)
        per_step = p.batch * p.windows[s - 1]

        def eta(left, rec):
            from .plan import _duration
            return _duration(left * per_step / max(rec["samples_per_s"], 1e-9) + after)
        return eta

    def _state(self, state_path, resume):
        """(study.json's state or a new one, None) or (None, (exception class, message))."""
        ident = self._identity()
        if not os.path.exists(state_path):
            make_dir(self.out)
            return {"identity": ident, "metrics": self._empty_metrics()}, None
        if not resume:
            return None, (FileExistsError, f"{self.out} already holds a study; pass resume=True "
                          "(--resume) to finish it, or choose another directory")
        with open(state_path, encoding="utf-8") as f:
            state = json.load(f)
        if state["identity"] != ident:
            diff = "; ".join(f"{k}: {a!r} there, {b!r} now"
                             for k, a, b in _differences(state["identity"], ident)[:4])
            return None, (CheckpointError, f"{state_path}: the study there used another config, "
                          f"settings or clips ({diff}); it cannot be resumed with these")
        return state, None

    def _write(self, state_path, state):
        if self.world.rank == 0:
            _write_json(state_path, state)

    def _trainer(self, ckdir, M, done, log):
        """(trainer, stage progress) to go on from: the newest checkpoint when it lies inside
        stage done + 1 (written on Ctrl-C, SIGTERM or by time), else the end of stage done;
        (None, None) for a new study."""
        newest = self.world.bcast(latest(ckdir) if os.path.isdir(ckdir) else None)
        part = load(newest)[0].get("extra", {}).get("stage") if newest else None
        if part is not None and part["stage"] == done + 1:
            trainer = Trainer.resume(newest, self._stage_set(done + 1)[0])
            log(f"resuming stage {done + 1} at step {trainer.step}")
            return trainer, part
        if done == 0:
            return None, None
        trainer = Trainer.resume(os.path.join(ckdir, M["stages"][-1]["checkpoint"]), self._stage_set(done)[0])
        log(f"resuming after stage {done} (step {trainer.step})")
        return trainer, None

    def _empty_metrics(self) -> dict:
        return {"clips": [c.name for c in self.clips], "sample_rate": self.config.sample_rate,
                "originals": [os.path.join("originals", f"{k + 1:02d}_{_slug(c.name)}.wav")
                              for k, c in enumerate(self.clips)],
                "receptive_field": self.config.receptive_field,
                "temperatures": list(self.settings.temperatures), "stages": [],
                "bits": [], "accuracy": [], "traces": [], "renders": [], "unprimed": [],
                "timeline": [], "loss_curve": [], "monitor": [],
                "curriculum": {"name": self.settings.curriculum, "order": self.settings.train.order,
                               "replay": self.settings.replay if self.settings.curriculum == "replay" else None,
                               "ewc": None if self.settings.ewc is None else {
                                   "lambda": self.settings.ewc, "fisher": self.settings.ewc_fisher,
                                   "positions": self.settings.ewc_positions, "stages": []}},
                "eval_positions": self.settings.eval_positions,
                "trace_bin_seconds": self.settings.trace_bin_seconds}

    def _stage_set(self, s):
        """(clips, weights): what the trainer holds in stage s and each clip's share of the
        windows (wavecore.curriculum)."""
        from .curriculum import stage_clips, stage_weights
        st = self.settings
        held = self.clips[:stage_clips(st.curriculum, s, len(self.clips))]
        return held, stage_weights(st.curriculum, s, [len(c.classes) for c in held],
                                   st.train.sampling, st.replay)

    def _describe(self, trainer) -> str:
        """The stage's clips and their shares of the windows, in words."""
        parts = [f"{c.name}" + ("" if w == 1 else f" ({w:.0%})")
                 for c, w in zip(trainer.clips, trainer.clip_weights) if w > 0]
        return ", ".join(parts) + f" [{self.settings.curriculum}, {trainer.settings.order}]"

    def _monitor(self, trainer, stage) -> list:
        """[global step, stage, [bits/sample of every clip on its fixed eval_positions]]."""
        n = self.settings.eval_positions
        return [trainer.step, stage, [round(trainer.evaluate(c, gc=self._gc(j), positions=n)["bits"], 5)
                                      for j, c in enumerate(self.clips)]]

    def _consolidate(self, trainer, s, M):
        """EWC: the stage's Fisher at its final parameters, added to the trainer's penalty."""
        from .curriculum import EWC, fisher
        st = self.settings
        t0 = time.perf_counter()
        F = fisher(trainer, st.ewc_positions, st.ewc_fisher, seed=self._seed(s, 77))
        if trainer.ewc is None:
            trainer.ewc = EWC(st.ewc, trainer.net.size, trainer.net.backend)
        trainer.ewc.consolidate(F, trainer.params)
        M["curriculum"]["ewc"]["stages"].append(
            {"stage": s, "seconds": round(time.perf_counter() - t0, 3), "fisher_mean": float(F.mean()),
             "fisher_max": float(F.max()), "fisher_nonzero": float((F > 0).mean())})

    def _score(self, trainer, M, stage):
        """Row `stage` of the matrices and the binned per-position traces, for every clip
        (under MPI, clip j on rank j mod P, gathered)."""
        w = self.world
        binn = max(1, int(round(self.settings.trace_bin_seconds * self.config.sample_rate)))
        mine = {}
        for j, c in enumerate(self.clips):
            if j % w.size == w.rank:
                m = trainer.evaluate(c, gc=self._gc(j), positions=self.settings.score_positions)
                nb = m["block"] // binn                     # whole bins per block
                nll = m["nll"].reshape(len(m["starts"]), m["block"])[:, :nb * binn]
                mine[j] = (m["bits"], m["accuracy"],
                           np.round(nll.reshape(-1, nb, binn).mean(axis=2).ravel(), 4).tolist(),
                           {"starts": m["starts"], "bins": nb})
        got = {j: v for part in w.allgather(mine) for j, v in part.items()}
        K = range(len(self.clips))
        M["bits"].append([got[j][0] for j in K])
        M["accuracy"].append([got[j][1] for j in K])
        M["traces"].append([got[j][2] for j in K])
        M["trace_blocks"] = [got[j][3] for j in K]     # the same positions at every stage

    def _gc(self, j):
        """The conditioning id of clip j (its position), or None for an unconditioned model."""
        return j if self.config.gc_ids else None

    def _seed(self, stage, clip, extra=0):
        return int(self.settings.seed) * 1_000_003 + stage * 10_007 + clip * 101 + extra

    def _render(self, trainer, M, stage):
        """The stage's renders, primed (``_render_jobs``) and unprimed, one job of
        len(temperatures) streams each (under MPI, job i on rank i mod P, gathered); rank 0
        writes them. A primed render's file holds the prime followed by the continuation."""
        st, cfg, w = self.settings, self.config, self.world
        sampler = CachedSampler(trainer.net, trainer.weights)
        sources = self._sources()
        P = st.prime_samples(cfg)
        n = max(1, int(round(st.render_seconds * cfg.sample_rate)))
        temps = list(st.temperatures)
        jobs = render_jobs(st, cfg, self.clips, stage) + [None]
        mine = {}
        for i, job in enumerate(jobs):
            if i % w.size != w.rank:
                continue
            if job is None:                                            # unprimed
                u = max(1, int(round(st.unprimed_seconds * cfg.sample_rate)))
                mine[i] = sampler.generate(u, streams=len(temps), temperature=temps, gc=self._gc(stage - 1),
                                           seed=[self._seed(stage, 99, k) for k in range(len(temps))]).classes
            else:
                j, p = job
                mine[i] = sampler.generate(
                    n, streams=len(temps), temperature=temps,
                    prime_classes=[self.clips[p].classes[:P]] * len(temps), gc=self._gc(j),
                    seed=[self._seed(stage, j, k) for k in range(len(temps))]).classes
        got = {i: v for part in w.allgather(mine) for i, v in part.items()}   # classes: (streams, n)
        for i, job in enumerate(jobs):
            audio = _audio.mu_law_decode(got[i], cfg.classes)
            for k, t in enumerate(temps):
                if job is None:
                    path = self._render_path(stage, "unprimed", t, trainer.step)
                    self._save(path, audio[k])
                    M["unprimed"].append({"stage": stage, "temperature": t, "path": path,
                                          "step": trainer.step,
                                          "resemblance": measures.resemblance(audio[k], sources)})
                    continue
                j, p = job
                c = self.clips[j]
                original = _audio.mu_law_decode(c.classes, cfg.classes)
                prime = _audio.mu_law_decode(self.clips[p].classes[:P], cfg.classes)
                path = self._render_path(stage, c.name, t, trainer.step)
                self._save(path, np.concatenate([prime, audio[k]]))   # prime + continuation
                entry = {"stage": stage, "clip": c.name, "temperature": t, "path": path,
                         "step": trainer.step, "primed_by": self.clips[p].name,
                         "prime_samples": P, "lsd_db": None, "follow_s": None,
                         "resemblance": measures.resemblance(audio[k], sources)}
                if p == j and len(original) > P:       # it continues its own original
                    close = measures.closeness(audio[k], original[P:], cfg.sample_rate)
                    entry.update(lsd_db=close["lsd_db"], follow_s=close["follow_s"])
                M["renders"].append(entry)

    def _sources(self) -> measures.Sources:
        """The reference the renders are attributed to (every clip as the model hears it)."""
        if getattr(self, "_resemblance_sources", None) is None:
            cfg = self.config
            self._resemblance_sources = measures.Sources(
                [(c.name, _audio.mu_law_decode(c.classes, cfg.classes)) for c in self.clips],
                cfg.sample_rate, cfg.classes)
        return self._resemblance_sources

    @staticmethod
    def _render_path(stage, name, t, step, folder=None):
        """Where a render goes: its file name says clip, stage, temperature and step."""
        return os.path.join(folder or f"stage_{stage}", f"{_slug(name)}_stage{stage}_T{t:g}_step{step}.wav")

    def _save(self, path, audio):
        if self.world.rank == 0:
            _audio.save(self._path(path), audio, self.config.sample_rate)

    def _timeline(self, trainer, stage, clip) -> dict:
        """A short render of the newest clip now (by rank 0); returns its entry of M["timeline"]."""
        cfg, st = self.config, self.settings
        path = self._render_path(stage, clip.name, 0.7, trainer.step, folder="timeline")
        entry = {"stage": stage, "step": trainer.step, "clip": clip.name, "path": path}
        if self.world.rank != 0:
            return entry
        P = st.prime_samples(cfg)
        n = max(1, int(round(st.timeline_seconds * cfg.sample_rate)))
        g = CachedSampler(trainer.net, trainer.weights).generate(
            n, temperature=0.7, prime_classes=clip.classes[:P], gc=self._gc(stage - 1),
            seed=self._seed(stage, 0, trainer.step))
        _audio.save(self._path(path), g.audio[0], cfg.sample_rate)
        return entry


def render_jobs(settings, config, clips, stage) -> list:
    """[(clip index j, primed by clip p)]: what stage ``stage`` renders, besides the unprimed
    ones. prime_from "own": each seen clip from its own start; "first": clip 1's start, for clip
    1 alone (an unconditioned model reads the same prime alike) or, with conditioning, for every
    seen clip with its id. A clip shorter than the prime is not rendered."""
    P = settings.prime_samples(config)
    if settings.prime_from == "first":
        seen = range(stage) if config.gc_ids else range(1)
        return [(j, 0) for j in seen] if len(clips[0].classes) >= P else []
    return [(j, j) for j in range(stage) if len(clips[j].classes) >= P]


def _measures(M) -> dict:
    """The continual-learning measures of the stages done so far (over their clips)."""
    S = len(M["stages"])
    return {"accuracy": measures.continual_measures(np.array(M["accuracy"])[:S + 1, :S]),
            "bits": _bits_measures(np.array(M["bits"])[:S + 1, :S])}


def _bits_measures(bits: np.ndarray) -> dict:
    """The measures on -bits, reported back in bits (positive forgetting = more bits now)."""
    m = measures.continual_measures(-bits)
    m["average"] = [-v for v in m["average"]]
    for k in ("bwt", "fwt"):
        if m[k] is not None:
            m[k] = -m[k]           # bits: BWT > 0 means later stages cost bits on old clips
    return m


def _differences(a, b, where=""):
    """[(dotted key, value in a, value in b)] where two JSON documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in _differences(a.get(k), b.get(k), f"{where}.{k}" if where else str(k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [(where, a, b)]


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


def demo_setup(quick: bool = False, **overrides):
    """The demo study: (config, clips, settings): the ``demo`` preset (wavecore.presets.demo) on
    the three built-in songs (wavecore.clips.SONGS: 4.4, 5.0 and 3.8 s; quick: their first 1 s)."""
    from . import clips as builtin
    from .presets import demo
    cfg, settings = demo(quick)
    clips = [(name, builtin.get(name, cfg.sample_rate, 1.0 if quick else None)) for name in builtin.SONGS]
    return cfg, clips, dataclasses.replace(settings, **overrides)
