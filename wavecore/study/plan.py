"""What a study will cost, said before it runs (``wavecore study ... --plan``), and a study fitted
into a time budget (``--hours``).

The plan counts the work: the schedule (steps per stage, each on windows of ``batch x T`` loss
samples plus one receptive field), the training step's buffers (wavecore/engine/workspace.py),
and the study's own work: memorisation checks, timeline renders, scoring every clip after every
stage, the stage renders. It prices the work with a few timed steps of this model on this
machine and backend: the training step at the study's window, or at a smaller one whose cost is
scaled by the floating-point operations of each (``step_flops``); one forward chunk of the
evaluation; a few hundred sampler steps. Under mpiexec the timed steps are data-parallel steps
of every rank, and scoring and renders are split across the ranks as the study splits them.
"""
from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time

import numpy as np

from ..engine import distributed
from ..engine.flops import forward_flops, step_flops
from ..engine.layout import size as param_count
from ..engine.model import Batch
from ..engine.sampler import CachedSampler
from ..engine.workspace import available_memory, step_bytes
from ..training import Trainer
from ..training.curriculum import stage_clips, stage_weights
from ..training.evaluation import eval_chunk
from . import report
from .activities import activities, priced

FLOP_CAP = 1e12          # a timed step does at most about this much work (seconds)
# the plan's warnings, from the regime map (docs/findings.md, bench/regime_map.py, measure 2):
# below this data to capacity stage 1 copied its clip in every cell trained to memorisation;
# from there up to NOISE_BELOW, without input corruption, every cell rendered noise, texture or
# a copy and none kept song 1, where both cells with input noise 0.1 there kept it
MEMORISES_BELOW = 1.0
NOISE_BELOW = 10.0


class PlanError(ValueError):
    """A study that cannot run as asked: it does not fit the memory or the time budget."""


def data_to_capacity(config, samples: int) -> float:
    """A clip's information against the network's: ``samples`` x log2(classes) bits (8 for 256
    μ-law classes) per parameter. A network stores about 2-3.6 bits per parameter, so far below
    1 it can hold the clip whole (it memorises: a copy), and far above it must generalise."""
    return samples * math.log2(config.classes) / param_count(config)


def schedule(settings, K: int) -> list[int]:
    """Steps per stage (a cap when a stage ends on memorisation)."""
    return [settings.steps(k) for k in range(1, K + 1)]


def stage_windows(settings, clips) -> list[int]:
    """The loss samples per window of each stage: the window, clamped to the shortest clip the
    stage draws from (as the trainer does)."""
    return [min(settings.train.window, min(settings.trained(len(clips[j].classes))
                                           for j in drawn(settings, k, clips)))
            for k in range(1, len(clips) + 1)]


def drawn(settings, stage: int, clips) -> list[int]:
    """The clips (indices) stage ``stage`` draws windows from, by the study's curriculum."""
    n = stage_clips(settings.curriculum, stage, len(clips))
    w = stage_weights(settings.curriculum, stage,
                      [settings.trained(len(c.classes)) for c in clips[:n]],
                      settings.train.sampling, settings.replay)
    return [j for j in range(n) if w[j] > 0]


@dataclasses.dataclass
class Plan:
    """The counted and measured cost of a study; ``lines()`` says it."""
    config: object
    settings: object               # StudySettings
    clips: list
    ranks: int
    backend: str
    threads: int
    steps: list                    # per stage
    windows: list                  # T per stage
    recompute: bool
    step_bytes: int                # the training step's buffers
    keep_bytes: int                # ... when keeping every activation
    state_bytes: int               # parameters, gradients, Adam's moments
    available: int
    measured_T: int = 0
    step_s: list = dataclasses.field(default_factory=list)    # seconds per step, per stage
    seconds: dict = dataclasses.field(default_factory=dict)   # estimated wall time by part
    measure_s: float = 0.0
    # measured: forward FLOP/s, sampler, report
    rates: dict = dataclasses.field(default_factory=dict)
    precision: str = "fp32"        # the GEMMs' arithmetic the run will use (and was timed in)
    bf16_faster: bool = False      # the backend says --precision auto would run bf16 here

    # -- counts -----------------------------------------------------------------------------
    @property
    def batch(self) -> int:
        return self.settings.train.batch

    @property
    def trained_samples(self) -> int:
        return sum(n * self.batch * T for n, T in zip(self.steps, self.windows))

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())

    @property
    def first_samples(self) -> int:
        """The samples of stage 1's clip that are trained on (all but a held-out tail)."""
        return self.settings.trained(len(self.clips[0].classes))

    @property
    def ratio(self) -> float:
        """Stage 1's data to capacity (data_to_capacity)."""
        return data_to_capacity(self.config, self.first_samples)

    @property
    def passes(self) -> float:
        """Stage 1's passes over its clip: the samples it trains on / the clip's."""
        return self.steps[0] * self.batch * self.windows[0] / self.first_samples

    def warning(self) -> str | None:
        """One line when stage 1 is set up to memorise song 1 (data to capacity below
        MEMORISES_BELOW) or, by the regime map, to render noise (below NOISE_BELOW, without
        input corruption); else None."""
        name, r = self.clips[0].name, self.ratio
        if r < MEMORISES_BELOW:
            return (f"warning: data to capacity {r:.2f} (< {MEMORISES_BELOW:g}): stage 1 is set "
                    f"up to memorise {name}, and memorised renders copy it; a longer clip or a "
                    "smaller model (--residual-channels) moves it toward the regime")
        if r < NOISE_BELOW and not self.settings.train.corrupts:
            return (f"warning: data to capacity {r:.2f}: in the regime map every stage 1 "
                    f"between {MEMORISES_BELOW:g} and {NOISE_BELOW:g} without input noise "
                    "rendered noise, texture or a copy, never kept; with --input-noise 0.1 both "
                    "cells tried there kept song 1")
        return None

    @property
    def samples_per_s(self) -> float:
        return self.trained_samples / max(1e-9, self.seconds.get("training", 0.0))

    # -- saying it ----------------------------------------------------------------------------
    def lines(self) -> list[str]:
        cfg, st = self.config, self.settings
        names = [c.name for c in self.clips]
        sr = cfg.sample_rate
        stage = [f"stage {k + 1}: {n:,} steps on "
                 f"{_names([names[j] for j in drawn(st, k + 1, self.clips)])}"
                 for k, n in enumerate(self.steps)]
        cap = "" if not st.memorise else " (stage 1 at most: it ends when its clip is memorised)" \
            if st.later_steps is not None else \
            " (at most: a stage ends when its newest clip is memorised)"
        out = [
            f"model     {cfg.describe()}",
            f"          {self.params:,} parameters; receptive field {cfg.receptive_field:,} "
            f"samples = {cfg.receptive_field / sr:.2f} s",
            "clips     " + ", ".join(f"{c.name} ({len(c.classes) / sr:.1f} s)" for c in self.clips)
            + ("" if st.trim_db is None else f", silence below {st.trim_db:g} dB trimmed")
            + ("" if not st.holdout else
               f"; the last {100 * st.holdout:.0f} % of each held out of training"),
            "schedule  " + "; ".join(stage) + cap,
            f"curriculum {st.curriculum}" + (f" ({st.replay:.0%} of windows from older clips)"
                                             if st.curriculum == "replay" else "")
            + f", windows {st.train.order}"
            + ("" if st.ewc is None else
               f", EWC λ = {st.ewc:g} ({st.ewc_fisher} Fisher over "
               f"{st.ewc_positions} positions per stage)"),
            f"windows   {self.batch} x " + " / ".join(f"{T:,}" for T in dict.fromkeys(self.windows))
            + f" loss samples per step (+ {cfg.receptive_field:,} receptive field each)"
            + ("; Adam restarts at every stage" if st.reset_optimizer else "")
            + ("" if st.later_lr is None else
               f"; learning rate {st.train.lr:g}, then {st.later_lr:g} from stage 2"),
            f"trained   {self.trained_samples:,} samples in all "
            f"({self.trained_samples / sr / 3600:,.1f} h of audio)",
            f"data      stage 1: {self.clips[0].name}'s samples x {math.log2(cfg.classes):g} bits "
            f"/ parameters = {self.ratio:.2f} (data to capacity), "
            f"{self.passes:,.0f} passes over it",
            f"memory    training step {_gb(self.step_bytes + self.state_bytes)} "
            + (f"(recomputing gate activations in the backward pass; keeping them: "
               f"{_gb(self.keep_bytes + self.state_bytes)})" if self.recompute else
               "(keeping every activation)") + f"; {_gb(self.available)} available",
            f"speed     measured on {self.backend} in {self.precision} ({self.threads} thread(s)"
            + (f", {self.ranks} MPI ranks" if self.ranks > 1 else "") + "): "
            + f"{self.samples_per_s:,.0f} trained samples/s, {self.step_s[0]:.3g} s per step"
            + ("" if self.measured_T == self.windows[0] else
               f" (timed at windows of {self.measured_T:,}, scaled by the work of a step)"),
            f"time      about {duration(self.total_s)}: " + ", ".join(
                f"{k} {duration(v)} ({100 * v / max(self.total_s, 1e-9):.0f} %)"
                for k, v in self.seconds.items()),
            f"renders   after every stage at T = {', '.join(f'{t:g}' for t in st.temperatures)}"
            + (f", {st.render_seeds} seeds each" if st.render_seeds > 1 else "") + ": "
            f"{st.render_seconds:g} s after a {st.prime_samples(cfg) / sr:.2f} s prime "
            f"({'clip 1' if st.prime_from == 'first' else 'each clip'}'s start)",
        ]
        out += filter(None, [self.warning()])
        if self.precision == "fp32" and self.bf16_faster:
            out.append("bf16      this processor runs bf16 GEMMs (AVX512-BF16): --precision auto "
                       "trains faster here (fp32 accumulation; docs/internals.md, bf16 on the CPU)")
        if self.ranks == 1 and distributed.mpi_available():
            est = ", ".join(f"{n} ranks {duration(self._with_ranks(n))}" for n in (2, 4, 8))
            out.append(f"MPI       on N machines like this one, one rank each: {est} (training "
                       f"split by windows, scoring and renders by clip; the Allreduce of "
                       f"{_gb(self.params * np.dtype(st.train.dtype).itemsize)} per step not "
                       f"included)")
        return out

    def short(self) -> str:
        over = self.total_s - self.seconds.get("training", 0.0)
        return (f"plan: {len(self.steps)} stages of {'/'.join(f'{n:,}' for n in self.steps)} steps"
                f"{' (at most)' if self.settings.memorise else ''} of {self.batch} x "
                f"{self.windows[0]:,} samples, {_count(self.trained_samples)} trained samples; "
                f"step memory {_gb(self.step_bytes + self.state_bytes)}; "
                f"{self.samples_per_s:,.0f} samples/s -> about {duration(self.total_s)} "
                f"(study overhead {100 * over / max(self.total_s, 1e-9):.0f} %)")

    @property
    def params(self) -> int:
        return param_count(self.config)

    def _with_ranks(self, n: int) -> float:
        K = len(self.clips)
        return sum(v / (n if k == "training" else min(n, K + 1)) for k, v in self.seconds.items())


def _count(n: float) -> str:
    for unit, v in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= v:
            return f"{n / v:,.3g} {unit}"
    return f"{n:,.0f}"


def _names(names) -> str:
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} .. {names[-1]}"


def _gb(n: float) -> str:
    return f"{n / 2 ** 30:.2f} GiB" if n >= 2 ** 30 else f"{n / 2 ** 20:.0f} MiB"


def duration(s: float) -> str:
    """Seconds in words: 42 s, 17 min, 3.5 h, 2.0 days."""
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


# -- making a plan ---------------------------------------------------------------------------------
def make(config, clips, settings) -> Plan:
    """Count the study's work and time a few steps of it here (every rank under mpiexec)."""
    world = distributed.world()
    t0 = time.perf_counter()
    ts = settings.train
    K, windows = len(clips), stage_windows(settings, clips)
    B, dtype = ts.batch, np.dtype(ts.dtype)
    # the first stage's window is the longest (later ones add clips, the window can only shrink)
    probe = Trainer(config, clips[:1], dataclasses.replace(ts, window=min(windows[0], 256)))
    be = probe.net.backend
    size, threads = probe.net.size, be.threads
    Bl = max(1, -(-B // world.size))                          # windows of the busiest rank
    N = config.receptive_field + windows[0]
    keep = step_bytes(config, N, Bl, dtype, threads, size, False)
    recompute = be.uses_recompute(config, N, Bl, dtype, size)
    light = step_bytes(config, N, Bl, dtype, threads, size, True) if recompute else keep
    avail = available_memory() // max(1, world.local_size)
    state = 4 * size * dtype.itemsize
    if light + state > avail:
        raise PlanError(f"the training step needs {_gb(light + state)} (windows of {Bl} x "
                        f"{windows[0]:,} samples) and this machine has {_gb(avail)} available"
                        + (" per rank" if world.local_size > 1 else "") + "; lower --window or "
                        "--batch"
                        + ("" if recompute else ", or recompute activations (--recompute on)"))
    plan = Plan(config, settings, list(clips), world.size, be.name, threads, schedule(settings, K),
                windows, recompute, light, keep, state, avail, precision=probe.net.precision,
                bf16_faster=be.resolve_precision("auto", dtype) == "bf16")
    del probe
    _measure(plan, world)
    _estimate(plan)
    plan.measure_s = time.perf_counter() - t0
    return plan


def _measure(plan: Plan, world) -> None:
    """Time the training step, an evaluation chunk and the sampler (plan.step_s, plan.rates)."""
    cfg, st, clips = plan.config, plan.settings, plan.clips
    RF, B = cfg.receptive_field, plan.batch
    Bl = max(1, -(-B // world.size))
    T = plan.windows[0]
    while T > 256 and step_flops(cfg, T, Bl, plan.recompute) > FLOP_CAP:
        T //= 2
    plan.measured_T = T
    tr = Trainer(cfg, clips[:1], dataclasses.replace(st.train, window=T))
    tr.net.backend.recompute = "on" if plan.recompute else "off"
    tr.train_step()                                           # buffers, first touches
    t0 = time.perf_counter()
    tr.train_step()
    first = world.bcast(time.perf_counter() - t0)             # rank 0's clock decides (MPI:
    more = max(1, min(4, int(3.0 / first)))                   # every rank steps alike)
    t0 = time.perf_counter()
    for _ in range(more):
        tr.train_step()
    step = world.bcast((first + time.perf_counter() - t0) / (more + 1))
    rate = step_flops(cfg, T, Bl, plan.recompute) / step
    plan.step_s = [step if Tk == T else step_flops(cfg, Tk, Bl, plan.recompute) / rate
                   for Tk in plan.windows]
    # forward only: one evaluation chunk (or a smaller one, scaled by its work)
    chunk = eval_chunk(cfg)
    c = min(chunk, max(len(x.classes) for x in clips))
    while c > 1024 and forward_flops(cfg, c, 1) > FLOP_CAP / 3:
        c //= 2
    x = np.random.default_rng(0).integers(0, cfg.classes, size=(RF + c, 1))
    gc = np.zeros(1, np.int64) if cfg.gc_ids else None
    tr.net.evaluate(tr.weights, Batch(x, gc))                 # buffers, first touches
    t0 = time.perf_counter()
    tr.net.evaluate(tr.weights, Batch(x, gc))
    eval_rate = world.bcast(forward_flops(cfg, c, 1) / (time.perf_counter() - t0))
    # the sampler, for len(temperatures) streams per trajectory seed (the trajectory), as many
    # per render seed (the stage renders) and one (the timeline): a call reads its prime (forced
    # steps, no output head; one prime shared by every stream is read once, as a study's are),
    # then generates; two lengths and a prime separate the two costs (a forced step costs the
    # same wherever it falls, so a prime of at most 2048 steps prices one of any length)
    sampler = CachedSampler(tr.net, tr.weights)
    costs, gc = {}, 0 if cfg.gc_ids else None
    S = len(st.temperatures)
    prime = np.full(min(RF, 2048), sampler.silence, np.int64)
    for streams in sorted({S * st.trajectory_seeds, S * st.render_seeds,
                           1 if st.timeline_every else S}):
        took = []
        for n, p in ((64, None), (64, None), (2112, None), (64, prime)):   # the first warms up
            t0 = time.perf_counter()
            sampler.generate(n, streams=streams, gc=gc, prime_classes=p)
            took.append(time.perf_counter() - t0)
        gen = max(1e-9, (took[2] - took[1]) / 2048)
        forced = max(0.0, took[3] - took[1]) / len(prime)
        costs[streams] = world.bcast((forced, gen))           # seconds per forced, generated step
    plan.rates = {"eval_flops_per_s": eval_rate, "sampler": costs,
                  "report": world.bcast(_report_cost(cfg.sample_rate))}


def _report_cost(sr) -> tuple[float, float]:
    """Seconds to draw one of the report's summary figures and one render's spectrogram."""
    plt = report.pyplot()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        report.heatmap(plt, [[0.5, 0.5]] * 3, ["a", "b"], os.path.join(d, "h.png"), "", ".2f",
                       "viridis", 0, 1)
        t1 = time.perf_counter()
        report.spectrogram(plt, np.zeros(sr, np.float32) + 0.1, sr, os.path.join(d, "s.png"), "")
        return t1 - t0, time.perf_counter() - t1


def _estimate(plan: Plan) -> None:
    """plan.seconds from the measured rates: the training step per stage, each activity's cost
    (wavecore.study.activities) at the forward FLOP/s and the sampler's speed, the report's
    figures."""
    cfg, st, clips, r = plan.config, plan.settings, plan.clips, plan.rates
    K = len(clips)
    acts = activities(_Costing(cfg, st, clips))
    seconds = {"training": sum(n * s for n, s in zip(plan.steps, plan.step_s))}
    for a in acts:
        seconds[a.name] = sum(priced(a.cost(s, plan.steps[s - 1] if s else 0),
                                     r["eval_flops_per_s"], r["sampler"], plan.ranks)
                              for s in range(K + 1))
    fig, spec = r["report"]
    renders = next(a for a in acts if a.name == "renders")
    seconds["report"] = sum(4 * fig + len(renders.jobs(s)) * len(st.temperatures) * spec
                            + (K * spec if s == 1 else 0) for s in range(1, K + 1))
    plan.seconds = seconds


@dataclasses.dataclass
class _Costing:
    """What an activity reads to state its cost (a Study, without running one)."""
    config: object
    settings: object
    clips: list


def fit_hours(plan: Plan, hours: float):
    """The study's settings with the stage step counts scaled to end in ``hours`` (counting the
    plan's own measurement), keeping the ratio of the first stage to the later ones; stages then
    train their counts (no early end on memorisation). Returns (settings, fraction of the
    preset's schedule)."""
    budget = hours * 3600 - plan.measure_s
    fixed_steps = dataclasses.replace(plan.settings, memorise=False)
    full = rescaled(plan, fixed_steps)
    none = rescaled(plan, fixed_steps, steps=[0] * len(plan.steps))
    fixed = none.total_s                          # what does not grow with the steps
    f = (budget - fixed) / max(1e-9, full.total_s - fixed)
    if f <= 0 or f * plan.steps[0] < 1:
        raise PlanError(f"--hours {hours:g}: scoring and renders alone take about "
                        f"{duration(fixed)} here, and a step {plan.step_s[0]:.3g} s; give more "
                        "time or fewer temperatures, shorter --render-seconds or fewer clips")
    first = max(1, round(f * plan.steps[0]))
    later = max(1, round(f * plan.steps[1])) if len(plan.steps) > 1 else None
    return dataclasses.replace(fixed_steps, steps_per_stage=first, later_steps=later), f


def rescaled(plan: Plan, settings, steps=None) -> Plan:
    """The plan of ``settings`` (another schedule) from the same measurements."""
    p = dataclasses.replace(plan, settings=settings,
                            steps=steps if steps is not None
                            else schedule(settings, len(plan.clips)))
    _estimate(p)
    return p
