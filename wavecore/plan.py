"""What a study will cost, said before it runs (``wavecore study ... --plan``), and a study fitted
into a time budget (``--hours``).

The plan counts the work: the schedule (steps per stage, each on windows of ``batch x T`` loss
samples plus one receptive field), the training step's buffers (wavecore/workspace.py), and the
study's own work: memorisation checks, timeline renders, scoring every clip after every stage,
the stage renders. It prices the work with a few timed steps of this model on this machine and
backend: the training step at the study's window, or at a smaller one whose cost is scaled by
the floating-point operations of each (``step_flops``); one forward chunk of the evaluation; a
few hundred sampler steps. Under mpiexec the timed steps are data-parallel steps of every rank,
and scoring and renders are split across the ranks as the study splits them.
"""
from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from . import distributed
from .workspace import available_memory, step_bytes

FLOP_CAP = 1e12          # a timed step does at most about this much work (seconds)


class PlanError(ValueError):
    """A study that cannot run as asked: it does not fit the memory or the time budget."""


def schedule(settings, K: int) -> list[int]:
    """Steps per stage (a cap when a stage ends on memorisation)."""
    later = settings.later_steps if settings.later_steps is not None else settings.steps_per_stage
    return [settings.steps_per_stage] + [later] * (K - 1)


def stage_windows(settings, clips) -> list[int]:
    """The loss samples per window of each stage: the window, clamped to the shortest clip the
    stage draws from (as the trainer does)."""
    return [min(settings.train.window, min(len(clips[j].classes) for j in drawn(settings, k, clips)))
            for k in range(1, len(clips) + 1)]


def drawn(settings, stage: int, clips) -> list[int]:
    """The clips (indices) stage ``stage`` draws windows from, by the study's curriculum."""
    from .curriculum import stage_clips, stage_weights
    n = stage_clips(settings.curriculum, stage, len(clips))
    w = stage_weights(settings.curriculum, stage, [len(c.classes) for c in clips[:n]],
                      settings.train.sampling, settings.replay)
    return [j for j in range(n) if w[j] > 0]


def forward_flops(cfg, T: int, B: int) -> float:
    """Floating-point operations of the forward pass over B windows of RF + T samples: each
    layer's dilated conv and residual 1x1 over its rows, the skip GEMM and the head over TB."""
    R, D, S, A, L = cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels, cfg.classes, cfg.n_layers
    rows, total = (cfg.receptive_field + T - 2) * B, 0.0
    for d in cfg.dilations:
        rows -= d * B
        total += 2.0 * rows * (2 * R * 2 * D + D * R)
    return total + 2.0 * T * B * (L * D * S + S * S + S * A)


def step_flops(cfg, T: int, B: int, recompute: bool = False) -> float:
    """A training step: the backward pass costs twice the forward; recomputing the gate
    activations adds each layer's dilated conv once more."""
    extra = 0.0
    if recompute:
        rows = (cfg.receptive_field + T - 2) * B
        for d in cfg.dilations:
            rows -= d * B
            extra += 2.0 * rows * 2 * cfg.residual_channels * 2 * cfg.dilation_channels
    return 3 * forward_flops(cfg, T, B) + extra


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
    def samples_per_s(self) -> float:
        return self.trained_samples / max(1e-9, self.seconds.get("training", 0.0))

    # -- saying it ----------------------------------------------------------------------------
    def lines(self) -> list[str]:
        cfg, st = self.config, self.settings
        names = [c.name for c in self.clips]
        sr = cfg.sample_rate
        stage = [f"stage {k + 1}: {n:,} steps on {_names([names[j] for j in drawn(st, k + 1, self.clips)])}"
                 for k, n in enumerate(self.steps)]
        cap = "" if not st.memorise else " (stage 1 at most: it ends when its clip is memorised)" \
            if st.later_steps is not None else " (at most: a stage ends when its newest clip is memorised)"
        out = [
            f"model     {cfg.describe()}",
            f"          {self.params:,} parameters; receptive field {cfg.receptive_field:,} samples "
            f"= {cfg.receptive_field / sr:.2f} s",
            "clips     " + ", ".join(f"{c.name} ({len(c.classes) / sr:.1f} s)" for c in self.clips)
            + ("" if st.trim_db is None else f", silence below {st.trim_db:g} dB trimmed"),
            "schedule  " + "; ".join(stage) + cap,
            f"curriculum {st.curriculum}" + (f" ({st.replay:.0%} of windows from older clips)"
                                             if st.curriculum == "replay" else "")
            + f", windows {st.train.order}" + ("" if st.ewc is None else
                                                f", EWC λ = {st.ewc:g} ({st.ewc_fisher} Fisher over "
                                                f"{st.ewc_positions} positions per stage)"),
            f"windows   {self.batch} x " + " / ".join(f"{T:,}" for T in dict.fromkeys(self.windows))
            + f" loss samples per step (+ {cfg.receptive_field:,} receptive field each)"
            + ("; Adam restarts at every stage" if st.reset_optimizer else ""),
            f"trained   {self.trained_samples:,} samples in all ({self.trained_samples / sr / 3600:,.1f} h of audio)",
            f"memory    training step {_gb(self.step_bytes + self.state_bytes)} "
            + (f"(recomputing gate activations in the backward pass; keeping them: "
               f"{_gb(self.keep_bytes + self.state_bytes)})" if self.recompute else
               "(keeping every activation)") + f"; {_gb(self.available)} available",
            f"speed     measured on {self.backend} ({self.threads} thread(s)"
            + (f", {self.ranks} MPI ranks" if self.ranks > 1 else "") + "): "
            + f"{self.samples_per_s:,.0f} trained samples/s, {self.step_s[0]:.3g} s per step"
            + ("" if self.measured_T == self.windows[0] else
               f" (timed at windows of {self.measured_T:,}, scaled by the work of a step)"),
            f"time      about {_duration(self.total_s)}: " + ", ".join(
                f"{k} {_duration(v)} ({100 * v / max(self.total_s, 1e-9):.0f} %)" for k, v in self.seconds.items()),
            f"renders   after every stage at T = {', '.join(f'{t:g}' for t in st.temperatures)}: "
            f"{st.render_seconds:g} s after a {st.prime_samples(cfg) / sr:.2f} s prime "
            f"({'clip 1' if st.prime_from == 'first' else 'each clip'}'s start)",
        ]
        if self.ranks == 1 and distributed.mpi_available():
            est = ", ".join(f"{n} ranks {_duration(self._with_ranks(n))}" for n in (2, 4, 8))
            out.append(f"MPI       on N machines like this one, one rank each: {est} (training split "
                       f"by windows, scoring and renders by clip; the Allreduce of "
                       f"{_gb(self.params * np.dtype(st.train.dtype).itemsize)} per step not included)")
        return out

    def short(self) -> str:
        over = self.total_s - self.seconds.get("training", 0.0)
        return (f"plan: {len(self.steps)} stages of {'/'.join(f'{n:,}' for n in self.steps)} steps"
                f"{' (at most)' if self.settings.memorise else ''} of {self.batch} x "
                f"{self.windows[0]:,} samples, {_count(self.trained_samples)} trained samples; step "
                f"memory {_gb(self.step_bytes + self.state_bytes)}; {self.samples_per_s:,.0f} samples/s "
                f"-> about {_duration(self.total_s)} (study overhead {100 * over / max(self.total_s, 1e-9):.0f} %)")

    @property
    def params(self) -> int:
        from .layout import size
        return size(self.config)

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


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


# -- making a plan ----------------------------------------------------------------------------------
def make(config, clips, settings) -> Plan:
    """Count the study's work and time a few steps of it here (every rank under mpiexec)."""
    from .train import Trainer
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
    recompute = be.name == "cpu" and be.uses_recompute(config, N, Bl, dtype, size)
    light = step_bytes(config, N, Bl, dtype, threads, size, True) if recompute else keep
    avail = available_memory() // max(1, world.local_size)
    state = 4 * size * dtype.itemsize
    if light + state > avail:
        raise PlanError(f"the training step needs {_gb(light + state)} (windows of {Bl} x "
                        f"{windows[0]:,} samples) and this machine has {_gb(avail)} available"
                        + (" per rank" if world.local_size > 1 else "") + "; lower --window or "
                        "--batch" + ("" if recompute else ", or recompute activations (--recompute on)"))
    plan = Plan(config, settings, list(clips), world.size, be.name, threads, schedule(settings, K),
                windows, recompute, light, keep, state, avail)
    del probe
    _measure(plan, world)
    plan.measure_s = time.perf_counter() - t0
    return plan


def _measure(plan: Plan, world) -> None:
    """Time the training step, an evaluation chunk and the sampler; fill plan.seconds."""
    from .model import Batch
    from .sampler import CachedSampler
    from .train import Trainer, eval_chunk
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
    # the sampler, for len(temperatures) streams (stage renders) and one (timeline): a call
    # first reads a receptive field of silence plus its prime (forced steps, no output head),
    # then generates; two lengths separate the two costs
    sampler = CachedSampler(tr.net, tr.weights)
    costs, gc = {}, 0 if cfg.gc_ids else None
    for streams in {len(st.temperatures), 1 if st.timeline_every else len(st.temperatures)}:
        took = []
        for n in (64, 64, 2112):                              # the first one warms up
            t0 = time.perf_counter()
            sampler.generate(n, streams=streams, gc=gc)
            took.append(time.perf_counter() - t0)
        gen = max(1e-9, (took[2] - took[1]) / 2048)
        forced = max(0.0, took[1] - 64 * gen) / (RF + 1)
        costs[streams] = world.bcast((forced, gen))           # seconds per forced, generated step
    _estimate(plan, world.size, eval_rate, costs, world.bcast(_report_cost(cfg.sample_rate)))


def _report_cost(sr) -> tuple[float, float]:
    """Seconds to draw one of the report's summary figures and one render's spectrogram."""
    import tempfile

    from . import report
    plt = report._plt()
    M = {"accuracy": [[0.5, 0.5]] * 3, "clips": ["a", "b"]}
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        report._heatmap(plt, M, "accuracy", os.path.join(d, "h.png"), "", ".2f", "viridis", 0, 1)
        t1 = time.perf_counter()
        report._spectrogram(plt, np.zeros(sr, np.float32) + 0.1, sr, os.path.join(d, "s.png"), "")
        return t1 - t0, time.perf_counter() - t1


def _estimate(plan: Plan, ranks: int, eval_rate: float, sampler_costs: dict, report_cost) -> None:
    """plan.seconds from the measured rates: the training step per stage, forward FLOP/s, the
    sampler's (forced, generated) seconds per step by stream count, the report's figures."""
    from .study import render_jobs
    from .train import eval_chunk
    cfg, st, clips = plan.config, plan.settings, plan.clips
    K, sr = len(clips), cfg.sample_rate
    P = st.prime_samples(cfg)
    chunk = eval_chunk(cfg)
    train = sum(n * s for n, s in zip(plan.steps, plan.step_s))
    checks = 0.0
    if st.memorise:
        size = min(chunk, st.check_positions)
        one = -(-st.check_positions // size) * forward_flops(cfg, size, 1) / eval_rate
        fixed_later = st.later_steps is not None
        checks = sum((n // st.check_every) * one for k, n in enumerate(plan.steps)
                     if k == 0 or not fixed_later)
    def render_s(streams, prime, n):                  # one sampler call
        forced, gen = sampler_costs[streams]
        return (cfg.receptive_field + prime) * forced + n * gen

    timeline = 0.0
    if st.timeline_every:
        one = render_s(1, P, int(round(st.timeline_seconds * sr)))
        timeline = sum(n // st.timeline_every for n in plan.steps) * one
    score_one = sum(_scored_flops(cfg, len(c.classes), chunk, st.score_positions) for c in clips) / eval_rate
    scoring = (K + 1) * score_one / min(ranks, K)
    n_render = int(round(st.render_seconds * sr))
    n_unprimed = int(round(st.unprimed_seconds * sr))
    renders = report = 0.0
    fig, spec = report_cost
    for s in range(1, K + 1):
        S = len(st.temperatures)
        jobs = [render_s(S, P, n_render)] * len(render_jobs(st, cfg, clips, s)) + [render_s(S, 0, n_unprimed)]
        renders += sum(sorted(jobs, reverse=True)[::ranks])
        report += 4 * fig + len(jobs) * len(st.temperatures) * spec + (K * spec if s == 1 else 0)
    every = st.eval_every if st.eval_every is not None else monitor_every(cfg, st, clips)
    monitor = 0.0
    if every:
        evals = 1 + sum(n // every + sum(1 for k in range(64) if 2 ** k < every and 2 ** k <= n)
                        for n in plan.steps)        # every N steps, and 1, 2, 4, ... < N into a stage
        monitor = evals * sum(_scored_flops(cfg, len(c.classes), chunk, st.eval_positions)
                              for c in clips) / eval_rate
    plan.seconds = {"training": train, "checks": checks, "timeline": timeline, "monitor": monitor,
                    "scoring": scoring, "renders": renders, "report": report}
    if st.ewc is not None:          # one forward and backward per position (+ a forward: true)
        one = (step_flops(cfg, 1, 1) + (forward_flops(cfg, 1, 1) if st.ewc_fisher == "true" else 0))
        plan.seconds["ewc"] = K * st.ewc_positions * one / eval_rate


MONITOR_SHARE = 0.03      # the within-stage curves' default cost, as a share of training


def monitor_every(cfg, settings, clips) -> int:
    """The default ``eval_every``: the fewest steps between two scorings of every clip (on
    ``eval_positions`` positions each) for which their forward passes cost at most
    MONITOR_SHARE of the training steps' FLOPs. The extra scorings at 1, 2, 4, ... steps into
    a stage add about log2(N) per stage; the cost measured is in each stage's time split."""
    from .train import eval_chunk
    chunk = eval_chunk(cfg)
    scoring = sum(_scored_flops(cfg, len(c.classes), chunk, settings.eval_positions) for c in clips)
    T = min(settings.train.window, min(len(c.classes) for c in clips))
    step = step_flops(cfg, T, settings.train.batch)
    return max(1, int(np.ceil(scoring / (MONITOR_SHARE * step))))


def _scored_flops(cfg, n, chunk, positions):
    """The work of scoring a clip of n samples (Trainer.evaluate)."""
    if positions is not None and positions < n:
        size = min(chunk, positions)
        return -(-positions // size) * forward_flops(cfg, size, 1)
    c = min(chunk, n)
    return -(-n // c) * forward_flops(cfg, c, 1)


def fit_hours(plan: Plan, hours: float):
    """The study's settings with the stage step counts scaled to end in ``hours`` (counting the
    plan's own measurement), keeping the ratio of the first stage to the later ones; stages then
    train their counts (no early end on memorisation). Returns (settings, fraction of the
    preset's schedule)."""
    st = plan.settings
    budget = hours * 3600 - plan.measure_s
    fixed = plan.seconds["scoring"] + plan.seconds["renders"] + plan.seconds["report"]
    per_step = [s + (plan.seconds["timeline"] / max(1, sum(plan.steps)))
                for s in plan.step_s]
    base = sum(n * c for n, c in zip(plan.steps, per_step))
    f = (budget - fixed) / base
    if f <= 0 or f * plan.steps[0] < 1:
        raise PlanError(f"--hours {hours:g}: scoring and renders alone take about "
                        f"{_duration(fixed)} here, and a step {plan.step_s[0]:.3g} s; give more time "
                        "or fewer temperatures, shorter --render-seconds or fewer clips")
    first = max(1, round(f * plan.steps[0]))
    later = max(1, round(f * plan.steps[1])) if len(plan.steps) > 1 else None
    new = dataclasses.replace(st, memorise=False, steps_per_stage=first, later_steps=later)
    return new, f


def rescaled(plan: Plan, settings) -> Plan:
    """The plan of ``settings`` (another schedule) from the same measurements."""
    p = dataclasses.replace(plan, settings=settings, steps=schedule(settings, len(plan.clips)))
    s = dict(plan.seconds)
    s["training"] = sum(n * t for n, t in zip(p.steps, p.step_s))
    s["timeline"] = plan.seconds["timeline"] * sum(p.steps) / max(1, sum(plan.steps))
    s["checks"] = 0.0 if not settings.memorise else plan.seconds["checks"]
    p.seconds = s
    return p
