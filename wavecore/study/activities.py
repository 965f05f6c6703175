"""What a study does besides training, one object each: its trigger (when it runs), its run
(what it does, into the study's record) and its cost (forward FLOPs and sampler steps). The
study's loop runs them, the plan prices their costs, the report reads their records; a new
activity is one new class here, added to ``activities()``.

When an activity runs:
- during a stage, at the steps its ``trigger(stage)`` fires on (counted from the stage's start);
- at the end of a stage (``at_end(stage)``), stage 0 being the untrained network, before stage 1.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..analysis import measures
from ..analysis.verbatim import runs, summary, unseen_credit, verdict
from ..engine import audio as _audio
from ..engine.flops import forward_flops, scored_flops, step_flops
from ..engine.sampler import CachedSampler
from ..training import curriculum as _curriculum
from ..training.evaluation import eval_chunk
from ..training.triggers import Every
from .ranks import busiest, split_gather
from .record import Render, Unprimed

MONITOR_SHARE = 0.03      # the within-stage curves' default cost, as a share of training


# -- costs -------------------------------------------------------------------------------------
@dataclass
class Job:
    """One unit of work: forward FLOPs (scoring), or one sampler call of ``streams`` streams
    that reads ``forced`` steps (its prime; the silence before it costs no step) and generates
    ``generated``."""
    flops: float = 0.0
    streams: int = 0
    forced: int = 0
    generated: int = 0


@dataclass
class Cost:
    """The work of an activity over a stage: its jobs, and whether they are split across the
    ranks of an MPI job (else every rank, or rank 0 alone, does all of them)."""
    jobs: list = field(default_factory=list)
    split: bool = False

    @property
    def flops(self) -> float:
        return sum(j.flops for j in self.jobs)

    @property
    def samples(self) -> int:
        """Samples generated, over all streams."""
        return sum(j.streams * j.generated for j in self.jobs)


class Activity:
    """The base: runs nowhere, costs nothing."""
    name = ""             # its key in a stage's time split, the plan and the record
    title = ""            # in the report's words
    during = False        # whether it can run inside a stage (a key in every stage's time split)

    def __init__(self, study):
        self.study = study
        self.cfg, self.st, self.clips = study.config, study.settings, study.clips
        self.lengths = [len(c.classes) for c in self.clips]

    def trigger(self, stage: int) -> Every | None:
        return None

    def at_end(self, stage: int) -> bool:
        return False

    def unit(self, stage: int) -> Cost:
        """The cost of one run in ``stage``."""
        return Cost()

    def cost(self, stage: int, steps: int) -> Cost:
        """Its cost over ``stage`` (of ``steps`` steps; stage 0: before training)."""
        t = self.trigger(stage) if stage else None
        runs = (t.count(steps) if t else 0) + self.at_end(stage)
        one = self.unit(stage)
        return Cost(one.jobs * runs, one.split)

    def run(self, trainer, stage: int, part: dict) -> bool:
        """Do it now; True ends the stage. ``part``: the stage's progress (checkpointed)."""
        return False


def _samples(seconds, cfg) -> int:
    return max(1, int(round(seconds * cfg.sample_rate)))


def _scoring(cfg, lengths, positions) -> list:
    """One job per clip of ``lengths`` samples: scoring it on ``positions`` (Trainer.evaluate)."""
    chunk = eval_chunk(cfg)
    return [Job(flops=scored_flops(cfg, n, chunk, positions)) for n in lengths]


class MemorisationCheck(Activity):
    """Ends a stage once the newest clip's teacher-forced accuracy reaches the threshold."""
    name = title = "checks"
    during = True

    def trigger(self, stage):
        return None if self.st.fixed(stage) else Every(self.st.check_every)

    def unit(self, stage):
        newest = self.st.trained(self.lengths[stage - 1])       # its trained part
        return Cost(_scoring(self.cfg, [newest], self.st.check_positions))

    def run(self, trainer, stage, part):
        m = trainer.evaluate(self.study.heads[stage - 1], gc=self.study.gc(stage - 1),
                             positions=self.st.check_positions)
        if m.accuracy >= self.st.memorised_accuracy:
            part["memorised"] = part["trained"] = True
            return True
        return False


class TimelineRenders(Activity):
    """A short render of the newest clip (T = 0.7), by rank 0: hearing it being learned."""
    name = title = "timeline"
    during = True
    temperature = 0.7

    def trigger(self, stage):
        return Every(self.st.timeline_every) if self.st.timeline_every else None

    def unit(self, stage):
        return Cost([Job(streams=1,
                         forced=self.st.prime_samples(self.cfg),
                         generated=_samples(self.st.timeline_seconds, self.cfg))])

    def run(self, trainer, stage, part):
        clip, s = self.clips[stage - 1], self.study
        path = s.render_path(stage, clip.name, self.temperature, trainer.step, folder="timeline")
        part["timeline"].append({"stage": stage, "step": trainer.step, "clip": clip.name,
                                 "path": path})
        if s.world.rank == 0:
            job = self.unit(stage).jobs[0]
            g = CachedSampler(trainer.net, trainer.weights).generate(
                job.generated, temperature=self.temperature,
                prime_classes=clip.classes[:self.st.prime_samples(self.cfg)], gc=s.gc(stage - 1),
                seed=s.seed(stage, 0, trainer.step))
            s.save(path, g.audio[0])
        return False


@dataclass(frozen=True)
class At:
    """Fires at the given steps into a stage."""
    steps: tuple

    def fires(self, n: int) -> bool:
        return n in self.steps

    def count(self, steps: int) -> int:
        return sum(1 for s in self.steps if s <= steps)


class Trajectory(Activity):
    """Renders of the newest clip (``trajectory_clips`` "seen": of every seen clip, one sampler
    call each) at 1/2^N, ..., 1/4, 1/2 of the stage (``settings.trajectory`` = N; the stage's
    own renders are its end), at every temperature from ``trajectory_seeds`` seeds, by rank 0,
    each with its runs, verdict (wavecore.analysis.verbatim) and moments: the way from noise,
    through texture, to a copy, and an old clip's dip when a new one arrives."""
    name = "trajectory"
    title = "renders inside a stage"
    during = True

    def trigger(self, stage):
        n = self.st.steps(stage)
        at = sorted({max(1, round(n / 2 ** i)) for i in range(1, self.st.trajectory + 1)})
        return At(tuple(at)) if at else None

    def rendered(self, stage) -> list[int]:
        """The clips the trajectory renders in ``stage``, newest last."""
        return list(range(stage)) if self.st.trajectory_clips == "seen" else [stage - 1]

    def unit(self, stage):
        return Cost([Job(streams=len(self.st.temperatures) * self.st.trajectory_seeds,
                         forced=self.st.prime_samples(self.cfg),
                         generated=_samples(self.st.render_seconds, self.cfg))
                     for _ in self.rendered(stage)])

    def run(self, trainer, stage, part):
        s, st, cfg = self.study, self.st, self.cfg
        if s.world.rank != 0:
            return False
        T, P = len(st.temperatures), st.prime_samples(cfg)
        temps = list(st.temperatures) * st.trajectory_seeds      # stream k: temps[k], seed k // T
        size = self.unit(stage).jobs[0].generated
        sampler = CachedSampler(trainer.net, trainer.weights)
        n = trainer.step - part["start"]
        for j in self.rendered(stage):
            clip = self.clips[j]
            kind = 55 if j == stage - 1 else 56 + j          # the newest clip's seeds as before
            g = sampler.generate(
                size, streams=len(temps), temperature=temps,
                prime_classes=[clip.classes[:P]] * len(temps), gc=s.gc(j),
                seed=[s.seed(stage, kind + 1000 * (k // T), trainer.step * 16 + k % T)
                      for k in range(len(temps))])         # seed 0's streams as before seeds
            prime = _audio.mu_law_decode(clip.classes[:P], cfg.classes)
            for k, t in enumerate(temps):
                x = g.audio[k]
                path = s.render_path(stage, clip.name, t, trainer.step, folder="trajectory",
                                     seed=k // T)
                s.save(path, np.concatenate([prime, x]))
                like, found, v, kept = judged(x, clip.name, s.sources(), cfg.sample_rate,
                                              stage, (len(clip.classes) - P) / cfg.sample_rate,
                                              s.moments(j))
                part["trajectory"].append({
                    "stage": stage, "step": trainer.step,
                    "fraction": round(n / st.steps(stage), 4), "clip": clip.name,
                    "temperature": t, "path": path, "shares": like["shares"], "runs": found,
                    "verdict": v, "moments": kept, "seed": k // T})
        return False


def monitor_every(cfg, settings, clips) -> int:
    """The default ``eval_every``: the fewest steps between two scorings of every clip (on
    ``eval_positions`` positions each) for which their forward passes cost at most
    MONITOR_SHARE of the training steps' FLOPs. The extra scorings at 1, 2, 4, ... steps into
    a stage add about log2(N) per stage; the cost measured is in each stage's time split."""
    scoring = sum(j.flops for j in _scoring(cfg, [len(c.classes) for c in clips],
                                            settings.eval_positions))
    T = min(settings.train.window, min(len(c.classes) for c in clips))
    return max(1, int(np.ceil(scoring
                              / (MONITOR_SHARE * step_flops(cfg, T, settings.train.batch)))))


class Monitor(Activity):
    """The within-stage curves: every clip's bits/sample on fixed positions, before stage 1 and
    every ``eval_every`` steps (and after 1, 2, 4, ... steps) of every stage."""
    name = "monitor"
    title = "within-stage curves"
    during = True

    def __init__(self, study):
        super().__init__(study)
        e = self.st.eval_every
        self.every = e if e is not None else monitor_every(self.cfg, self.st, self.clips)

    def trigger(self, stage):
        return Every(self.every, doubling=True) if self.every else None

    def at_end(self, stage):
        return stage == 0 and bool(self.every)

    def unit(self, stage):
        return Cost(_scoring(self.cfg, self.lengths, self.st.eval_positions))

    def run(self, trainer, stage, part):
        n, s = self.st.eval_positions, self.study
        part["monitor"].append([trainer.step, stage, [
            round(trainer.evaluate(c, gc=s.gc(j), positions=n).bits, 5)
            for j, c in enumerate(self.clips)]])
        return False


class Fisher(Activity):
    """EWC: the stage's diagonal Fisher at its final parameters, added to the trainer's penalty;
    the stage's checkpoint is written again with it."""
    name = "ewc"
    title = "EWC Fisher"

    def at_end(self, stage):
        return stage > 0 and self.st.ewc is not None

    def unit(self, stage):          # one forward and backward per position (+ a forward: true)
        one = step_flops(self.cfg, 1, 1) + (forward_flops(self.cfg, 1, 1)
                                             if self.st.ewc_fisher == "true" else 0)
        return Cost([Job(flops=self.st.ewc_positions * one)])

    def run(self, trainer, stage, part):
        if trainer.ewc is not None and trainer.ewc.stages >= stage:
            return False                              # consolidated before an interruption
        st, t0 = self.st, time.perf_counter()
        F = _curriculum.fisher(trainer, st.ewc_positions, st.ewc_fisher,
                               seed=self.study.seed(stage, 77))
        _curriculum.consolidate(trainer, st.ewc, F)
        self.study.record.curriculum.ewc.stages.append(
            {"stage": stage, "seconds": round(time.perf_counter() - t0, 3),
             "fisher_mean": float(F.mean()), "fisher_max": float(F.max()),
             "fisher_nonzero": float((F > 0).mean())})
        trainer.save_checkpoint()
        return False


class Scoring(Activity):
    """Row ``stage`` of the matrices and the binned per-position traces, for every clip (under
    MPI, clip j on rank j mod P)."""
    name = title = "scoring"

    def at_end(self, stage):
        return True

    def unit(self, stage):
        return Cost(_scoring(self.cfg, self.lengths, self.st.score_positions), split=True)

    def run(self, trainer, stage, part):
        s, rec = self.study, self.study.record
        binn = max(1, int(round(self.st.trace_bin_seconds * self.cfg.sample_rate)))

        def score(j):
            m = trainer.evaluate(self.clips[j], gc=s.gc(j), positions=self.st.score_positions)
            nb = m.block // binn                     # whole bins per block
            nll = m.nll.reshape(len(m.starts), m.block)[:, :nb * binn]
            return (m.bits, m.accuracy,
                    np.round(nll.reshape(-1, nb, binn).mean(axis=2).ravel(), 4).tolist(),
                    {"starts": m.starts, "bins": nb}, _split(m, self.st.trained(self.lengths[j])))
        got = split_gather(s.world, range(len(self.clips)), score)
        K = range(len(self.clips))
        rec.bits.append([got[j][0] for j in K])
        rec.accuracy.append([got[j][1] for j in K])
        rec.traces.append([got[j][2] for j in K])
        rec.trace_blocks = [got[j][3] for j in K]     # the same positions at every stage
        if rec.held_out is not None:
            rec.held_out["samples"] = [self.st.trained(n) for n in self.lengths]
            for part in ("trained", "tail"):
                for key in ("bits", "accuracy"):
                    rec.held_out[part][key].append([got[j][4][part][key] for j in K])
        return False


def _split(m, cut) -> dict:
    """An evaluation's scores on the positions before ``cut`` (trained) and from it on (the
    held-out tail), from its per-position bits and hits; None for a part it did not score."""
    pos = (np.asarray(m.starts)[:, None] + np.arange(m.block)).ravel()    # clip positions
    out = {}
    for part, mask in (("trained", pos < cut), ("tail", pos >= cut)):
        out[part] = {"bits": float(m.nll[mask].mean()) if mask.any() else None,
                     "accuracy": float(m.hit[mask].mean()) if mask.any() else None}
    return out


def judged(x, clip, sources, sample_rate, trained, available=None, moments=None):
    """A render's continuation x of ``clip`` (a name; None for an unprimed render) after
    training on the first ``trained`` clips of ``sources``, judged: (measures.resemblance,
    wavecore.analysis.verbatim summary with its ``unseen_credit``, ``level_db`` (the render's
    RMS, dBFS) and ``clip_level_db`` (its clip's), verdict or None, what it keeps of the clip's
    ``moments`` (a ClipMoments) or None); ``available``: the seconds of ``clip`` after the
    prime (a copy is at most that long)."""
    like, found = measures.resemblance(x, sources), runs(x, sources)
    v = None if clip is None else verdict(clip, like["shares"], found, len(x) / sample_rate,
                                          available, sources.seconds)
    kept = None if moments is None else moments.of_render(x, found)
    level = {"level_db": round(measures.level_db(x), 1)}
    if clip is not None:
        level["clip_level_db"] = round(sources.levels[clip], 1)
    return like, {**summary(found), **level,
                  "unseen_credit": unseen_credit(found, sources.names[:trained])}, v, kept


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


class Renders(Activity):
    """After a stage: every seen clip reproduced at every temperature, primed (``render_jobs``),
    and one unprimed render per temperature; every render's frames attributed to the clips,
    silence, noise or novel sound (measures.resemblance), its runs through the clips and, for
    a reproduction, its verdict (wavecore.analysis.verbatim). One sampler call per job of
    len(temperatures) x render_seeds streams (stream k: temperature k mod len(temperatures), seed
    k), split across the ranks; rank 0 writes the files."""
    name = title = "renders"

    def at_end(self, stage):
        return stage > 0

    def jobs(self, stage) -> list:
        """render_jobs, then None: the unprimed renders."""
        return render_jobs(self.st, self.cfg, self.clips, stage) + [None]

    def unit(self, stage):
        S = len(self.st.temperatures) * self.st.render_seeds
        n, u = (_samples(self.st.render_seconds, self.cfg),
                _samples(self.st.unprimed_seconds, self.cfg))
        P = self.st.prime_samples(self.cfg)
        return Cost([Job(streams=S, forced=P, generated=n) if job else
                     Job(streams=S, generated=u) for job in self.jobs(stage)],
                    split=True)

    def run(self, trainer, stage, part):
        st, cfg, s = self.st, self.cfg, self.study
        sampler = CachedSampler(trainer.net, trainer.weights)
        P = st.prime_samples(cfg)
        temps = list(st.temperatures) * st.render_seeds       # stream k: temps[k], seed k
        jobs = self.jobs(stage)
        units = self.unit(stage).jobs

        def render(i):
            job, size = jobs[i], units[i].generated
            if job is None:
                return sampler.generate(size, streams=len(temps), temperature=temps,
                                        gc=s.gc(stage - 1),
                                        seed=[s.seed(stage, 99, k)
                                              for k in range(len(temps))]).classes
            j, p = job
            return sampler.generate(size, streams=len(temps), temperature=temps,
                                    prime_classes=[self.clips[p].classes[:P]] * len(temps),
                                    gc=s.gc(j),
                                    seed=[s.seed(stage, j, k) for k in range(len(temps))]).classes
        got = split_gather(s.world, range(len(jobs)), render)     # classes: (streams, n)
        sources = s.sources()
        for i, job in enumerate(jobs):
            audio = _audio.mu_law_decode(got[i], cfg.classes)
            if job is not None:                          # the original and the prime, once per job
                j, p = job
                c = self.clips[j]
                original = _audio.mu_law_decode(c.classes, cfg.classes)
                prime = _audio.mu_law_decode(self.clips[p].classes[:P], cfg.classes)
                available = (len(c.classes) - (P if p == j else 0)) / cfg.sample_rate
            for k, t in enumerate(temps):
                seed = k // len(st.temperatures)              # its index among the cell's seeds
                like, found, v, kept = judged(
                    audio[k], None if job is None else c.name, sources, cfg.sample_rate, stage,
                    available if job else None, s.moments(j) if job else None)
                if job is None:
                    path = s.render_path(stage, "unprimed", t, trainer.step, seed=seed)
                    s.save(path, audio[k])
                    s.record.unprimed.append(Unprimed(stage, t, path, trainer.step, like, found,
                                                      seed=seed))
                    continue
                path = s.render_path(stage, c.name, t, trainer.step, seed=seed)
                s.save(path, np.concatenate([prime, audio[k]]))   # prime + continuation
                r = Render(stage, c.name, t, path, trainer.step, self.clips[p].name, P,
                           resemblance=like, runs=found, verdict=v, seed=seed, moments=kept)
                if p == j and len(original) > P:       # it continues its own original
                    close = measures.closeness(audio[k], original[P:], cfg.sample_rate)
                    r.lsd_db, r.follow_s = close["lsd_db"], close["follow_s"]
                s.record.renders.append(r)
        return False


KINDS = (MemorisationCheck, TimelineRenders, Trajectory, Monitor, Fisher, Scoring, Renders)


def activities(study) -> list[Activity]:
    """The study's activities, in the order they run (and its time split is told): those inside
    a stage, then those at its end. EWC's Fisher is there only when the study uses EWC."""
    return [k(study) for k in KINDS if k is not Fisher or study.settings.ewc is not None]


def priced(cost: Cost, eval_rate: float, sampler_costs: dict, ranks: int) -> float:
    """Seconds of a cost at measured rates: forward FLOP/s, and the sampler's (forced,
    generated) seconds per step by stream count; split jobs go to the busiest rank."""
    times = []
    for j in cost.jobs:
        t = j.flops / eval_rate
        if j.streams:
            forced, gen = sampler_costs[j.streams]
            t += j.forced * forced + j.generated * gen
        times.append(t)
    return busiest(times, ranks) if cost.split else math.fsum(times)
