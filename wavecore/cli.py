"""The ``wavecore`` command.

Every default comes from the settings dataclasses (WaveNetConfig, TrainSettings, StudySettings,
demo_setup): a flag left out is None here and the dataclass decides; a flag given is applied, or
refused with one line that names it. Values out of range are argparse errors naming the flag.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import warnings

from . import __version__, distributed
from .backend import BACKENDS, cpu_available, cpu_training_available, gpu_status
from .config import ConfigError, WaveNetConfig
from .train import TrainSettings

# flag dest -> WaveNetConfig field
MODEL_FLAGS = {"layers": "layers", "stacks": "stacks", "residual": "residual_channels",
               "dilation": "dilation_channels", "skip": "skip_channels", "classes": "classes",
               "sample_rate": "sample_rate", "dilations": "dilations_override"}
# flag dest -> TrainSettings field (train); the study's and demo's subset below
TRAIN_FLAGS = ("steps", "batch", "window", "lr", "schedule", "warmup", "clip_norm", "sampling",
               "checkpoint_every", "checkpoint_minutes", "keep", "seed", "backend", "threads")
STUDY_TRAIN_FLAGS = ("batch", "window", "lr", "adam_eps", "checkpoint_minutes", "seed", "backend",
                     "threads", "recompute", "order")
# flag dest -> StudySettings field
STUDY_FLAGS = {"steps_per_stage": "steps_per_stage", "later_steps": "later_steps",
               "memorised": "memorised_accuracy", "temperatures": "temperatures",
               "timeline_every": "timeline_every", "seed": "seed", "render_seconds": "render_seconds",
               "prime": "prime", "prime_from": "prime_from", "reset_optimizer": "reset_optimizer",
               "trim_db": "trim_db", "curriculum": "curriculum", "replay": "replay", "ewc": "ewc",
               "ewc_fisher": "ewc_fisher", "ewc_positions": "ewc_positions",
               "eval_every": "eval_every", "eval_positions": "eval_positions"}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _given(args, dests) -> dict:
    """{dest: value} of the flags the user gave (argparse leaves the others None)."""
    return {d: getattr(args, d) for d in dests if getattr(args, d, None) is not None}


def _number(kind, low=None, high=None, low_open=False):
    """An argparse type: kind (int/float) within [low, high] (low excluded with low_open)."""
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if low is not None and (v <= low if low_open else v < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}, got {text}")
        if high is not None and v > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {text}")
        return v
    return parse


COUNT, COUNT0, POSITIVE, NONNEG = _number(int, 1), _number(int, 0), _number(float, 0, low_open=True), \
    _number(float, 0)


def _prime(text):
    """--prime: seconds, or rf (one receptive field)."""
    return "rf" if text == "rf" else POSITIVE(text)


def _dilations(text):
    from .config import parse_dilations
    try:
        return parse_dilations(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _config_from_args(args, base: WaveNetConfig | None = None) -> WaveNetConfig:
    """The model of --config, or ``base`` (WaveNetConfig() or a preset's) with the model flags
    given applied (--layers or --stacks replace a base's own dilation list)."""
    model = {MODEL_FLAGS[d]: v for d, v in _given(args, MODEL_FLAGS).items()}
    if args.config:
        if model:
            raise ConfigError(f"{_flag(next(k for k, f in MODEL_FLAGS.items() if f in model))}: the "
                              f"model comes from --config {args.config}; give one or the other")
        try:
            with open(args.config, encoding="utf-8") as f:
                return WaveNetConfig.from_json(f.read())
        except OSError as e:
            raise ConfigError(f"{args.config}: cannot read config ({e.strerror})") from None
    if base is None:
        return WaveNetConfig(**model)
    if ("layers" in model or "stacks" in model) and "dilations_override" not in model:
        model["dilations_override"] = None
    return dataclasses.replace(base, **model)


def cmd_info(args) -> int:
    from .model import WaveNet
    meta = None
    if args.checkpoint:
        from .checkpoint import load
        meta, _ = load(args.checkpoint)
        cfg = WaveNetConfig.from_dict(meta["config"])
    else:
        cfg = _config_from_args(args)
    ok, why = gpu_status() if args.gpu else (False, "not checked (pass --gpu)")
    info = {}
    if meta:
        info["checkpoint"] = args.checkpoint
        info["step"] = meta["step"]
        info["skipped steps"] = meta["skipped"]
        info["clips"] = ", ".join(f"{c['name']} ({c['samples'] / cfg.sample_rate:.2f} s)"
                                  for c in meta["clips"])
        for name, m in meta.get("extra", {}).get("metrics", {}).items():
            info[f"clip {name}"] = f"{m['bits']:.3f} bits/sample, accuracy {m['accuracy']:.3f}"
    info.update({
        "wavecore": __version__,
        "cpu kernels": "built" if cpu_available() else "not built (NumPy reference only)",
        "cpu training kernels": "built" if cpu_training_available() else "not built",
        "gpu": why,
        "config": cfg.to_dict(),
        "receptive field": f"{cfg.receptive_field} samples = {cfg.receptive_field_ms:.1f} ms",
        "parameters": WaveNet(cfg, backend="numpy").size,
    })
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            if k == "config":
                print(f"{'model':>22}: {cfg.describe()}")
            else:
                print(f"{k:>22}: {v}")
    return 0


def _conditioned(cfg, args, n_clips):
    """--condition: one global-conditioning id per clip (clip i is read with id i)."""
    return dataclasses.replace(cfg, gc_ids=n_clips) if args.condition else cfg


def _resume_train(args):
    """train --resume: the checkpoint fixes the model, the seed and the clips; every training
    flag given is applied (and said); without --steps the run goes on to its planned total."""
    from .checkpoint import CheckpointError, latest
    from .train import Trainer, lr_at
    fixed = [d for d in (*MODEL_FLAGS, "config", "condition", "seed")
             if getattr(args, d, None) not in (None, False)]
    if fixed:
        what = "its random state" if fixed[0] == "seed" else "its model"
        raise ValueError(f"{_flag(fixed[0])}: a resumed run keeps {what} from the checkpoint; "
                         "leave the flag out, or train into a new --out")
    path = latest(args.out)
    if path is None:
        raise CheckpointError(f"--resume: no checkpoint (ckpt-*.npz) in {args.out}")
    given = _given(args, TRAIN_FLAGS)
    trainer = Trainer.resume(path, args.clips, **given)
    old = trainer.resumed_settings
    if "steps" in given and given["steps"] <= trainer.step:
        raise ValueError(f"--steps {given['steps']}: the run in {args.out} is already at step "
                         f"{trainer.step}; give a larger total")
    print(f"resuming {path} at step {trainer.step} of {trainer.settings.steps}")
    for d, v in given.items():
        if d != "steps" and getattr(old, d) != v:
            print(f"  {_flag(d)} {v} (was {getattr(old, d)})")
    new, k = trainer.settings, trainer.step
    if "steps" in given and new.steps != old.steps:
        if new.schedule == "cosine":
            print(f"  --steps {new.steps} (was {old.steps}): the cosine schedule now ends at step "
                  f"{new.steps}; the learning rate at step {k} is {lr_at(new, k):.3g} "
                  f"(was {lr_at(old, k):.3g})")
        else:
            print(f"  --steps {new.steps} (was {old.steps}): the learning rate stays {new.lr:g}")
    return trainer


def cmd_train(args) -> int:
    from .train import Trainer
    if args.resume:
        trainer = _resume_train(args)
    else:
        cfg = _conditioned(_config_from_args(args), args, len(args.clips))
        settings = TrainSettings(**_given(args, TRAIN_FLAGS))
        trainer = Trainer(cfg, args.clips, settings, out_dir=args.out)
    print(f"model: {trainer.config.describe()}; {trainer.net.size:,} parameters, "
          f"backend {trainer.net.backend}")
    trainer.train()
    for c in trainer.clips:
        m = trainer.evaluate(c)
        trainer.extra.setdefault("metrics", {})[c.name] = {"bits": m["bits"], "accuracy": m["accuracy"]}
        print(f"{c.name}: {m['bits']:.3f} bits/sample, teacher-forced accuracy {m['accuracy']:.3f}")
    path = trainer.save_checkpoint()
    print(f"step {trainer.step} ({trainer.skipped} skipped); checkpoint {path}")
    return 0


def cmd_sample(args) -> int:
    import numpy as np

    from .checkpoint import CheckpointError, latest, load
    from .model import WaveNet
    from .sampler import CachedSampler
    path = args.checkpoint
    if os.path.isdir(path):
        path = latest(path)
        if path is None:
            raise CheckpointError(f"{args.checkpoint}: no checkpoint in this directory")
    meta, arrays = load(path)
    cfg = WaveNetConfig.from_dict(meta["config"])
    net = WaveNet(cfg, np.dtype(meta["dtype"]), backend="numpy")
    n = args.samples if args.samples is not None else int(round(args.seconds * cfg.sample_rate))
    if n < 1:
        raise ValueError(f"--seconds {args.seconds} is less than one sample at {cfg.sample_rate} Hz")
    sampler = CachedSampler(net, arrays["params"], backend=args.backend, threads=args.threads)
    if cfg.gc_ids and args.gc is None:
        names = ", ".join(f"{i} = {c['name']}" for i, c in enumerate(meta["clips"]))
        raise ValueError(f"this model is conditioned on clip ids; pass --gc ID ({names})")
    gen = sampler.generate(n, streams=args.streams, temperature=args.temperature,
                           prime=args.prime, seed=args.seed, gc=args.gc)
    stem, ext = os.path.splitext(args.out)
    outs = [args.out] if args.streams == 1 else [f"{stem}_{k}{ext or '.wav'}" for k in range(args.streams)]
    for k, out in enumerate(outs):
        gen.save(out, stream=k)
        print(f"wrote {out} ({n / cfg.sample_rate:.2f} s at {cfg.sample_rate} Hz, T={args.temperature})")
    return 0


def _run_study(cfg, clips, settings, args) -> int:
    """The study (or, with --plan, its plan); --hours fits its schedule to a budget first."""
    import time

    from . import plan as _plan
    from .study import Study
    t0 = time.perf_counter()
    if args.hours is not None and args.resume:
        raise ValueError("--hours: a resumed study keeps the schedule it began with; leave it out")
    study = Study(cfg, clips, settings, out_dir=args.out)
    lead = study.world.rank == 0
    plan = _plan.make(study.config, study.clips, study.settings)
    if args.hours is not None:
        fitted, f = _plan.fit_hours(plan, args.hours)
        plan = _plan.rescaled(plan, fitted)
        study.settings = fitted
        print(f"--hours {args.hours:g}: {fitted.steps_per_stage:,} steps for stage 1"
              + (f", {fitted.later_steps:,} for each later stage" if len(study.clips) > 1 else "")
              + f" ({100 * f:.3g} % of the schedule; stages train their counts)")
    if args.plan:
        print("\n".join(plan.lines()))
        print(f"(planned in {time.perf_counter() - t0:.0f} s)")
        return 0
    M = study.run(resume=args.resume, plan=plan)
    if not lead:                                 # under mpiexec rank 0 alone writes the report
        return 0
    acc = M["measures"]["accuracy"]
    print(f"done in {time.perf_counter() - t0:.0f} s (planned {plan.total_s + plan.measure_s:.0f} s); "
          "average accuracy after each stage: " + ", ".join(f"{a:.3f}" for a in acc["average"])
          + (f"; backward transfer {acc['bwt']:+.3f}" if acc["bwt"] is not None else ""))
    print(f"report: {os.path.abspath(os.path.join(args.out, 'report.html'))}")
    return 0


def _study_settings(args, base):
    """base (StudySettings) with the flags given applied."""
    study = {STUDY_FLAGS[d]: v for d, v in _given(args, STUDY_FLAGS).items()}
    if args.fixed:
        study["memorise"] = False
    train = dataclasses.replace(base.train, **_given(args, STUDY_TRAIN_FLAGS))
    return dataclasses.replace(base, train=train, **study)


def cmd_study(args) -> int:
    from . import presets
    from .study import StudySettings
    cfg, settings = presets.get(args.preset) if args.preset else (WaveNetConfig(), StudySettings())
    cfg = _conditioned(_config_from_args(args, cfg), args, len(args.clips))
    return _run_study(cfg, args.clips, _study_settings(args, settings), args)


def cmd_demo(args) -> int:
    from .study import demo_setup
    cfg, clips, settings = demo_setup(args.quick)
    settings = _study_settings(args, settings)
    print("wavecore demo: a learn-and-forget study on the built-in songs " + ", ".join(
        f"{n} ({len(x) / cfg.sample_rate:.1f} s)" for n, x in clips) + f" at {cfg.sample_rate} Hz")
    return _run_study(cfg, clips, settings, args)


def cmd_report(args) -> int:
    from .report import build, load
    M = load(args.dir)
    print(f"report: {os.path.abspath(build(args.dir, M))} ({len(M['stages'])} of "
          f"{len(M['clips'])} stages)")
    return 0


def cmd_compare(args) -> int:
    from .compare import build
    print(f"page: {os.path.abspath(build(args.dirs, args.out))} ({len(args.dirs)} studies)")
    return 0


def _add_study_flags(p, out, defaults: str):
    """The study's flags; ``defaults`` says where a flag left out takes its value."""
    from .study import StudySettings
    d = StudySettings()
    dflt = (lambda v: f"default {v}") if defaults == "study" else (lambda v: "default: the demo's")
    g = p.add_argument_group("study")
    g.add_argument("--out", default=out, metavar="DIR", help="output directory (default %(default)s)")
    g.add_argument("--resume", action="store_true",
                   help="finish an interrupted study in --out (from inside the stage it stopped in)")
    g.add_argument("--steps-per-stage", type=COUNT,
                   help=f"step cap per stage (or the fixed count with --fixed; {dflt(d.steps_per_stage)})")
    g.add_argument("--fixed", action="store_true",
                   help="train a fixed number of steps per stage instead of until memorised")
    g.add_argument("--later-steps", type=COUNT,
                   help="train stages 2.. for exactly this many steps (the original: memorise the "
                   "first song, then a fixed number per added song)")
    g.add_argument("--memorised", type=_number(float, 0, 1), metavar="ACC",
                   help="teacher-forced accuracy on the newest clip that ends a stage, in [0, 1] "
                   f"({dflt(d.memorised_accuracy)}; 0 ends a stage at its first check)")
    g.add_argument("--temperatures", type=NONNEG, nargs="+",
                   help=f"render temperatures ({dflt(' '.join(f'{t:g}' for t in d.temperatures))})")
    g.add_argument("--timeline-every", type=COUNT0,
                   help=f"steps between timeline renders, 0: none ({dflt(d.timeline_every)})")
    g.add_argument("--batch", type=COUNT, help=f"windows per step ({dflt(d.train.batch)})")
    g.add_argument("--window", type=COUNT, help=f"loss-bearing samples per window ({dflt(d.train.window)})")
    g.add_argument("--lr", type=POSITIVE, help=f"learning rate, constant ({dflt(d.train.lr)})")
    g.add_argument("--checkpoint-minutes", type=NONNEG,
                   help=f"also checkpoint this often inside a stage ({dflt(d.train.checkpoint_minutes)})")
    g.add_argument("--adam-eps", type=POSITIVE, help=f"Adam's epsilon ({dflt(d.train.adam_eps)})")
    g.add_argument("--reset-optimizer", action="store_const", const=True,
                   help="restart Adam's moments and bias correction at every stage; the step count "
                   "goes on (as the essay's runs did)")
    g.add_argument("--recompute", choices=["auto", "on", "off"],
                   help="recompute gate activations in the backward pass: less memory for long "
                   "windows, about a fifth more time (default auto: when keeping them would take "
                   "over a third of the memory available)")
    g.add_argument("--backend", choices=BACKENDS, help="compute path (default auto)")
    g.add_argument("--threads", type=COUNT, help="threads (default: all cores)")
    g.add_argument("--seed", type=int, help="seed of the initialisation, windows and renders (default 0)")
    cu = p.add_argument_group("curriculum")
    cu.add_argument("--curriculum", choices=["cumulative", "sequential", "replay", "joint"],
                    help="what stage k trains on: cumulative: clips 1..k (the essay's); sequential: "
                    "clip k alone; replay: clip k plus --replay of the windows from older clips; "
                    f"joint: every clip from stage 1 on, the reference ({dflt(d.curriculum)})")
    cu.add_argument("--replay", type=_number(float, 0, 0.999), metavar="F",
                    help=f"replay: the fraction of windows from earlier clips ({dflt(d.replay)})")
    cu.add_argument("--ewc", type=NONNEG, metavar="LAMBDA",
                    help="elastic weight consolidation of strength LAMBDA: after every stage a "
                    "diagonal Fisher, and a penalty toward that stage's weights (default: none)")
    cu.add_argument("--ewc-fisher", choices=["true", "empirical"],
                    help="the Fisher from labels drawn from the model (true) or the clips' own "
                    f"next samples (empirical) ({dflt(d.ewc_fisher)})")
    cu.add_argument("--ewc-positions", type=COUNT,
                    help=f"positions the Fisher is estimated over, per stage ({dflt(d.ewc_positions)})")
    cu.add_argument("--order", choices=["shuffled", "in-order"],
                    help="shuffled: every window anywhere in its clip; in-order: a drawn clip is fed "
                    f"whole as consecutive windows, as the essay's code did ({dflt(d.train.order)})")
    cu.add_argument("--eval-every", type=COUNT0, metavar="N",
                    help="within-stage curves: score every clip every N steps (and 1, 2, 4, ... steps "
                    "into each stage); 0: off (default: the N that costs about 3 %% of training)")
    cu.add_argument("--eval-positions", type=COUNT,
                    help=f"the fixed positions of each clip those scores read ({dflt(d.eval_positions)})")
    r = p.add_argument_group("renders")
    r.add_argument("--render-seconds", type=POSITIVE,
                   help=f"continuation each render adds after its prime ({dflt(d.render_seconds)})")
    r.add_argument("--prime", type=_prime, metavar="SECONDS|rf",
                   help=f"seconds of the original a render reads first, or rf: one receptive field "
                   f"({dflt(d.prime)})")
    r.add_argument("--prime-from", choices=["own", "first"],
                   help="own: each clip's render starts from that clip; first: every render starts "
                   f"from clip 1, as the essay's code did ({dflt(d.prime_from)})")
    r.add_argument("--trim-db", type=float, metavar="DB",
                   help="trim each clip's leading and trailing frames quieter than this RMS in dBFS "
                   "(-20 = RMS 0.1, the essay's threshold; default: no trimming)")
    c = p.add_argument_group("cost")
    c.add_argument("--plan", action="store_true",
                   help="print what the study will cost (model, schedule, memory, measured speed, "
                   "estimated time) and exit")
    c.add_argument("--hours", type=POSITIVE, metavar="H",
                   help="fit the study into H hours: scale the stages' step counts from the measured "
                   "speed, keeping the first stage's ratio to the later ones")


def _add_model_flags(p):
    d = WaveNetConfig()
    g = p.add_argument_group("model (or --config)")
    g.add_argument("--config", metavar="JSON", help="a WaveNetConfig JSON file")
    g.add_argument("--layers", type=COUNT, help=f"layers per stack (default {d.layers})")
    g.add_argument("--stacks", type=COUNT, help=f"stacks (default {d.stacks})")
    g.add_argument("--residual", type=COUNT, help=f"residual channels R (default {d.residual_channels})")
    g.add_argument("--dilation", type=COUNT, help=f"gate channels D (default {d.dilation_channels})")
    g.add_argument("--skip", type=COUNT, help=f"skip channels S (default {d.skip_channels})")
    g.add_argument("--classes", type=_number(int, 2), help=f"μ-law classes (default {d.classes})")
    g.add_argument("--sample-rate", type=COUNT, help=f"Hz (default {d.sample_rate})")
    g.add_argument("--dilations", type=_dilations, metavar="SPEC",
                   help="the dilation of every layer, e.g. '5x[1, 1, 2, ..., 4096]' (the essay's 70 "
                   "layers) or '1, 2, 4, 8'; replaces --layers and --stacks")


def _add_train_flags(p):
    d = TrainSettings()
    p.add_argument("--steps", type=COUNT,
                   help=f"total steps (default {d.steps}; with --resume: the run's planned total, "
                   "or a new one)")
    p.add_argument("--batch", type=COUNT, help=f"windows per step (default {d.batch})")
    p.add_argument("--window", type=COUNT, help=f"loss-bearing samples per window (default {d.window})")
    p.add_argument("--lr", type=POSITIVE, help=f"peak learning rate (default {d.lr})")
    p.add_argument("--schedule", choices=["cosine", "constant"], help=f"(default {d.schedule})")
    p.add_argument("--warmup", type=COUNT0, help=f"linear warm-up steps (default {d.warmup})")
    p.add_argument("--clip-norm", type=NONNEG, help=f"gradient clipping, 0: off (default {d.clip_norm})")
    p.add_argument("--sampling", choices=["length", "uniform"],
                   help=f"draw windows by clip length or uniformly per clip (default {d.sampling})")
    p.add_argument("--checkpoint-every", type=COUNT0,
                   help=f"steps between checkpoints, 0: by time only (default {d.checkpoint_every})")
    p.add_argument("--checkpoint-minutes", type=NONNEG,
                   help=f"minutes between checkpoints, 0: by steps only (default {d.checkpoint_minutes:g})")
    p.add_argument("--keep", type=COUNT, help=f"checkpoints kept (default {d.keep})")
    p.add_argument("--backend", choices=BACKENDS, help="compute path (default auto)")
    p.add_argument("--threads", type=COUNT, help="threads (default: all cores)")
    p.add_argument("--seed", type=int, help=f"seed of the initialisation and the windows (default {d.seed})")


class _Parser(argparse.ArgumentParser):
    def error(self, message):                  # one line, no usage block
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from . import presets
    p = _Parser(prog="wavecore", description="A WaveNet engine written from scratch: train on "
                "clips, sample, and study how a WaveNet learns and forgets.")
    p.add_argument("--version", action="version", version=f"wavecore {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    pi = sub.add_parser("info", help="a checkpoint or a model: config, receptive field, size; "
                        "and what is built here",
                        description="Describe a checkpoint (config, receptive field in samples "
                        "and ms, parameter count, step, per-clip metrics) or, without one, the "
                        "model the flags describe. Also says whether the compiled kernels are built.")
    pi.add_argument("checkpoint", nargs="?", help="a ckpt-*.npz file")
    _add_model_flags(pi)
    pi.add_argument("--gpu", action="store_true", help="also probe CuPy and the CUDA device")
    pi.add_argument("--json", action="store_true", help="print JSON")
    pi.set_defaults(func=cmd_info)

    pt = sub.add_parser("train", help="train a WaveNet on audio clips",
                        description="Train on one or more clips (any format soundfile reads; "
                        "mixed to mono and resampled to --sample-rate). Checkpoints go to --out; "
                        "--resume continues the newest one exactly, to its planned total "
                        "(--steps sets a new one). Ctrl-C and SIGTERM save a checkpoint and stop.")
    pt.add_argument("clips", nargs="+", metavar="CLIP", help="audio files")
    pt.add_argument("--out", required=True, metavar="DIR", help="output directory")
    _add_model_flags(pt)
    _add_train_flags(pt)
    pt.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    pt.add_argument("--condition", action="store_true",
                    help="global conditioning: clip i is read with id i (sample with --gc i)")
    pt.set_defaults(func=cmd_train)

    ps = sub.add_parser("sample", help="generate audio from a checkpoint",
                        description="Render audio with the cached sampler.")
    ps.add_argument("checkpoint", help="a ckpt-*.npz file, or a directory (its newest)")
    n = ps.add_mutually_exclusive_group()
    n.add_argument("--seconds", type=POSITIVE, default=2.0, help="length in seconds (default %(default)s)")
    n.add_argument("--samples", type=COUNT, help="length in samples")
    ps.add_argument("--temperature", type=NONNEG, default=1.0, help="0 = argmax (default %(default)s)")
    ps.add_argument("--prime", "--wav_seed", "--wav-seed", dest="prime", metavar="WAV",
                    help="audio the network reads before generating")
    ps.add_argument("--streams", type=COUNT, default=1, help="independent renders (OUT_k.wav)")
    ps.add_argument("--seed", type=int, default=0)
    ps.add_argument("--gc", type=COUNT0, default=None, metavar="ID",
                    help="conditioning id (the clip index) for a model trained with --condition")
    ps.add_argument("--backend", choices=BACKENDS, default="auto",
                    help="where the sampler runs (auto: the compiled CPU loop)")
    ps.add_argument("--threads", type=COUNT, default=None)
    ps.add_argument("--out", required=True, metavar="WAV", help="output WAV")
    ps.set_defaults(func=cmd_sample)

    pst = sub.add_parser("study", help="the incremental learn-and-forget study on your clips",
                         description="Train on clip 1 until memorised, add the clips one by one; "
                         "after every stage score every clip and render the seen ones at each "
                         "temperature. Writes DIR/report.html and DIR/metrics.json. Ctrl-C and "
                         "SIGTERM save a checkpoint; --resume goes on from it.")
    pst.add_argument("clips", nargs="+", metavar="CLIP", help="audio files, in the order to add them")
    pst.add_argument("--preset", choices=presets.NAMES,
                     help="a named recipe, every flag given overriding it: " + "; ".join(
                         f"{k}: {v}" for k, v in presets.DESCRIPTIONS.items()))
    _add_model_flags(pst)
    _add_study_flags(pst, "wavecore-study", "study")
    pst.add_argument("--condition", action="store_true",
                     help="global conditioning: clip j is trained and rendered with id j")
    pst.set_defaults(func=cmd_study)

    pd = sub.add_parser("demo", help="the study on the built-in clips, small model (minutes)",
                        description="Run the learn-and-forget study on three built-in synthesised "
                        "songs (verse, scratch shriek, chorus; drums and bass) with a small model, "
                        "and print the path of the report. Flags left out take the demo's values "
                        "(wavecore.study.demo_setup).")
    pd.add_argument("--quick", action="store_true", help="shorter clips and stages (a smoke test)")
    _add_study_flags(pd, "wavecore-demo", "demo")
    pd.set_defaults(func=cmd_demo)

    pr = sub.add_parser("report", help="rebuild a study's report.html from its metrics and renders",
                        description="Rebuild DIR/report.html and its figures from DIR/metrics.json "
                        "(or study.json) and the renders there: also for a study still running or "
                        "stopped after some stages.")
    pr.add_argument("dir", metavar="DIR", help="the study's --out directory")
    pr.set_defaults(func=cmd_report)

    pc = sub.add_parser("compare", help="several studies side by side on one page",
                        description="One self-contained page (relative links only) comparing studies, "
                        "typically the same clips under different curricula: forgetting, BWT and FWT, "
                        "merge maps, within-stage curves on shared axes, and players for the same clip, "
                        "stage and temperature in a row.")
    pc.add_argument("dirs", nargs="+", metavar="DIR", help="the studies' --out directories")
    pc.add_argument("--out", default="compare.html", metavar="PAGE",
                    help="the page to write (default %(default)s; figures go to PAGE_files/)")
    pc.set_defaults(func=cmd_compare)
    return p


def _saved(args) -> str:
    """Where an interrupted run's progress is: ' at step N (PATH)', or ''."""
    from .checkpoint import latest, load
    d = args.out if args.cmd == "train" else os.path.join(args.out, "checkpoints")
    path = latest(d) if os.path.isdir(d) else None
    return f" at step {load(path)[0]['step']} ({path})" if path else ""


def main(argv=None) -> int:
    from .train import Terminated, signals_voted, sigterm_as_interrupt
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    long_run = args.cmd in ("train", "study", "demo")
    w, who = distributed.Single(), f"wavecore {args.cmd}"
    try:
        if long_run:                             # under mpiexec: rank 0 alone prints
            w = distributed.world()
            who += f" (rank {w.rank} of {w.size})" if w.size > 1 else ""
        with warnings.catch_warnings(), contextlib.redirect_stdout(
                sys.stdout if w.rank == 0 else open(os.devnull, "w")):
            warnings.showwarning = lambda msg, *a, **k: print(f"{who}: warning: {msg}", file=sys.stderr)
            # SIGTERM (a scheduler) saves and stops like Ctrl-C; under MPI both only vote, and
            # every rank stops at the same training step
            stop = signals_voted(w) if w.size > 1 else sigterm_as_interrupt() if long_run \
                else contextlib.nullcontext()
            with stop:
                return args.func(args)
    except (ValueError, OSError, RuntimeError) as e:    # AudioError, ConfigError, BackendError...
        print(f"{who}: error: {e}", file=sys.stderr)
        if w.size > 1:
            sys.stderr.flush()
            w.abort(1)                                   # the other ranks would wait forever
        return 1
    except Exception:                                   # a bug: under MPI, stop the others too
        if w.size > 1:
            import traceback
            traceback.print_exc()
            sys.stderr.flush()
            w.abort(1)
        raise
    except KeyboardInterrupt as e:
        how = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
        if w.rank == 0:
            print(f"wavecore {args.cmd}: {how}" + (f"; progress saved{_saved(args)}; --resume "
                  "continues" if long_run else ""), file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
