"""The ``wavecore`` command.

Every flag of a setting is declared once, beside its field (WaveNetConfig, TrainSettings,
StudySettings; wavecore.engine.fields): its help, default, range and choices. A flag left out is
None here and the dataclass (or the preset) decides; a flag given is applied, or refused with one
line that names it. Values out of range are argparse errors naming the flag.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import time
import traceback
import warnings

import numpy as np

from .. import __version__
from ..engine import distributed, precision
from ..engine.backends import cpu_available, cpu_training_available, for_sampler, gpu_report
from ..engine.config import ConfigError, WaveNetConfig
from ..engine.fields import POSITIVE, add_flags, flag_of, given
from ..engine.model import WaveNet
from ..engine.sampler import CachedSampler
from ..study import Study, StudySettings, demo_setup, presets
from ..study import plan as _plan
from ..study.compare import build as build_compare
from ..study.record import load as load_record
from ..study.rejudge import rejudge, said
from ..study.report import build as build_report
from ..study.settings import prime_value
from ..training import Trainer, TrainSettings
from ..training.checkpoint import CheckpointError, latest, load
from ..training.rundir import LOCK, PID_FILE, DirectoryInUse, owned
from ..training.settings import lr_at
from ..training.signals import Terminated, signals_voted, sigterm_as_interrupt
from . import sample as _sample

MODEL = ("layers", "stacks", "residual_channels", "dilation_channels", "skip_channels", "classes",
         "sample_rate", "dilations_override")
TRAIN = ("steps", "batch", "window", "lr", "schedule", "warmup", "clip_norm", "sampling",
         "checkpoint_every", "checkpoint_minutes", "keep", "backend", "threads", "precision",
         "seed", "input_noise", "input_jitter", "input_snr")
# the study's flags by group: (title, dataclass, fields)
STUDY_GROUPS = (
    ("study", StudySettings, ("steps_per_stage", "memorise", "later_steps", "memorised_accuracy",
                              "temperatures", "timeline_every", "trajectory",
                              "trajectory_clips", "trajectory_seeds")),
    ("study", TrainSettings, ("batch", "window", "lr", "checkpoint_minutes", "adam_eps")),
    ("study", StudySettings, ("later_lr", "reset_optimizer")),
    ("study", TrainSettings, ("recompute", "backend", "threads", "precision", "seed")),
    ("curriculum", StudySettings, ("curriculum", "replay", "ewc", "ewc_fisher", "ewc_positions")),
    ("curriculum", TrainSettings, ("order", "input_noise", "input_jitter", "input_snr")),
    ("curriculum", StudySettings, ("eval_every", "eval_positions", "holdout")),
    ("renders", StudySettings, ("render_seconds", "render_seeds", "prime", "prime_from",
                                "trim_db")),
)


def config_from_args(args, base: WaveNetConfig | None = None) -> WaveNetConfig:
    """The model of --config, or ``base`` (WaveNetConfig() or a preset's) with the model flags
    given applied (--layers or --stacks replace a base's own dilation list)."""
    model = given(args, WaveNetConfig, MODEL)
    if args.config:
        if model:
            raise ConfigError(f"{flag_of(WaveNetConfig, next(iter(model)))}: the model comes from "
                              f"--config {args.config}; give one or the other")
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


def study_settings(args, base: StudySettings) -> StudySettings:
    """base with the study's flags given applied (--seed seeds the training and the renders)."""
    study = {k: v for _, cls, names in STUDY_GROUPS if cls is StudySettings
             for k, v in given(args, cls, names).items()}
    train = {k: v for _, cls, names in STUDY_GROUPS if cls is TrainSettings
             for k, v in given(args, cls, names).items()}
    if "seed" in train:
        study["seed"] = train["seed"]
    return dataclasses.replace(base, train=dataclasses.replace(base.train, **train), **study)


def _conditioned(cfg, args, n_clips):
    """--condition: one global-conditioning id per clip (clip i is read with id i)."""
    return dataclasses.replace(cfg, gc_ids=n_clips) if args.condition else cfg


# -- the commands -------------------------------------------------------------------------------
def cmd_info(args) -> int:
    meta = None
    if args.checkpoint:
        meta, _ = load(args.checkpoint)
        cfg = WaveNetConfig.from_dict(meta["config"])
    else:
        cfg = config_from_args(args)
    gpu = gpu_report() if args.gpu else {"summary": "not checked (pass --gpu: CuPy, CUDA, the "
                                                    "device, whether the GPU kernels compile)"}
    info = {}
    if meta:
        info["checkpoint"] = args.checkpoint
        info["step"] = meta["step"]
        info["skipped steps"] = meta["skipped"]
        info["precision"] = meta.get("precision", "fp32")
        info["clips"] = ", ".join(f"{c['name']} ({c['samples'] / cfg.sample_rate:.2f} s)"
                                  for c in meta["clips"])
        for name, m in meta.get("extra", {}).get("metrics", {}).items():
            info[f"clip {name}"] = f"{m['bits']:.3f} bits/sample, accuracy {m['accuracy']:.3f}"
    info.update({
        "wavecore": __version__,
        "cpu kernels": "built" if cpu_available() else "not built (NumPy reference only)",
        "cpu training kernels": "built" if cpu_training_available() else "not built",
        "bf16 path": precision.describe(),
        "gpu": gpu if args.json else gpu["summary"],
        "config": cfg.to_dict(),
        "receptive field": f"{cfg.receptive_field} samples = {cfg.receptive_field_ms:.1f} ms",
        "parameters": WaveNet(cfg, backend="numpy").size,
    })
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{'model' if k == 'config' else k:>22}: "
                  f"{cfg.describe() if k == 'config' else v}")
    return 0


def _resume_train(args):
    """train --resume: the checkpoint fixes the model, the seed and the clips; every training
    flag given is applied (and said); without --steps the run goes on to its planned total."""
    fixed = [f for f in (*MODEL, "config", "condition", "seed")
             if getattr(args, f, None) not in (None, False)]
    if fixed:
        name = flag_of(WaveNetConfig, fixed[0]) if fixed[0] in MODEL else "--" + fixed[0]
        what = "its random state" if fixed[0] == "seed" else "its model"
        raise ValueError(f"{name}: a resumed run keeps {what} from the checkpoint; "
                         "leave the flag out, or train into a new --out")
    path = latest(args.out)
    if path is None:
        raise CheckpointError(f"--resume: no checkpoint (ckpt-*.npz) in {args.out}")
    asked = given(args, TrainSettings, TRAIN)
    trainer = Trainer.resume(path, args.clips, **asked)
    old, new, k = trainer.resumed_settings, trainer.settings, trainer.step
    if "steps" in asked and asked["steps"] <= k:
        raise ValueError(f"--steps {asked['steps']}: the run in {args.out} is already at step "
                         f"{k}; give a larger total")
    print(f"resuming {path} at step {k} of {new.steps}")
    for d, v in asked.items():
        if d != "steps" and getattr(old, d) != v:
            print(f"  {flag_of(TrainSettings, d)} {v} (was {getattr(old, d)})")
    if "steps" in asked and new.steps != old.steps:
        if new.schedule == "cosine":
            print(f"  --steps {new.steps} (was {old.steps}): the cosine schedule now ends at step "
                  f"{new.steps}; the learning rate at step {k} is {lr_at(new, k):.3g} "
                  f"(was {lr_at(old, k):.3g})")
        else:
            print(f"  --steps {new.steps} (was {old.steps}): the learning rate stays {new.lr:g}")
    return trainer


def _another_run(out) -> str:
    """What run --out holds, in words ("" when none)."""
    path = latest(out) if os.path.isdir(out) else None
    if path is None:
        return ("a run's log (train.jsonl)"
                if os.path.exists(os.path.join(out, "train.jsonl")) else "")
    try:
        meta, _ = load(path)
    except CheckpointError as e:
        return f"a run whose newest checkpoint cannot be read ({e})"
    return (f"a run at step {meta['step']} on {', '.join(c['name'] for c in meta['clips'])} "
            f"({WaveNetConfig.from_dict(meta['config']).describe()})")


def _moved_aside(out) -> str:
    """Move everything in --out but its lock into a new sibling directory; its path."""
    stem = f"{os.path.normpath(out)}.replaced-{time.strftime('%Y%m%d-%H%M%S')}"
    dest, k = stem, 1
    while os.path.exists(dest):
        dest, k = f"{stem}-{k}", k + 1
    os.makedirs(dest)
    for name in os.listdir(out):
        if name not in (LOCK, PID_FILE):
            os.replace(os.path.join(out, name), os.path.join(dest, name))
    return dest


def cmd_train(args) -> int:
    with owned(args.out, "wavecore train", distributed.world()):
        return _train(args)


def _train(args) -> int:
    if args.resume and args.overwrite:
        raise ValueError("--overwrite: --resume continues the run in --out; give one or the other")
    if args.resume:
        trainer = _resume_train(args)
    else:
        there = _another_run(args.out)
        if there and not args.overwrite:
            raise ValueError(f"{args.out} holds {there}; continue it with --resume, train into "
                             "another --out, or pass --overwrite to move it aside")
        if there:
            print(f"moved {there} aside, to {_moved_aside(args.out)}")
        cfg = _conditioned(config_from_args(args), args, len(args.clips))
        trainer = Trainer(cfg, args.clips, TrainSettings(**given(args, TrainSettings, TRAIN)),
                          out_dir=args.out)
    print(f"model: {trainer.config.describe()}; {trainer.net.size:,} parameters, "
          f"backend {trainer.net.backend}, {trainer.net.precision}")
    trainer.train()
    for c in trainer.clips:
        m = trainer.evaluate(c)
        trainer.extra.setdefault("metrics", {})[c.name] = {"bits": m.bits, "accuracy": m.accuracy}
        print(f"{c.name}: {m.bits:.3f} bits/sample, teacher-forced accuracy {m.accuracy:.3f}")
    path = trainer.save_checkpoint()
    print(f"step {trainer.step} ({trainer.skipped} skipped); checkpoint {path}")
    return 0


def cmd_sample(args) -> int:
    path = args.checkpoint
    if os.path.isdir(path):
        path = latest(path)
        if path is None:
            raise CheckpointError(f"{args.checkpoint}: no checkpoint in this directory")
    s = _sample.SampleSettings(**given(args, _sample.SampleSettings))
    meta, arrays = load(path)
    cfg = WaveNetConfig.from_dict(meta["config"])
    dtype = np.dtype(meta["dtype"])
    be = for_sampler(None, s.backend, s.threads)     # where the sampler runs
    asked = s.precision or meta.get("precision", "fp32")
    if s.precision is None and be.bf16_refusal(dtype):
        asked = "fp32"                # the checkpoint's own, where it runs: its weights are fp32
    net = WaveNet(cfg, dtype, backend=be, precision=asked)
    n = s.samples if s.samples is not None else int(round(s.seconds * cfg.sample_rate))
    if n < 1:
        raise ValueError(f"--seconds {s.seconds} is less than one sample at {cfg.sample_rate} Hz")
    sampler = CachedSampler(net, arrays["params"], backend=be)
    if cfg.gc_ids and s.gc is None:
        names = ", ".join(f"{i} = {c['name']}" for i, c in enumerate(meta["clips"]))
        raise ValueError(f"this model is conditioned on clip ids; pass --gc ID ({names})")
    gen = sampler.generate(n, streams=s.streams, temperature=s.temperature,
                           prime=s.prime, seed=s.seed, gc=s.gc)
    stem, ext = os.path.splitext(s.out)
    outs = [s.out] if s.streams == 1 else [f"{stem}_{k}{ext or '.wav'}" for k in range(s.streams)]
    for k, out in enumerate(outs):
        gen.save(out, stream=k)
        print(f"wrote {out} ({n / cfg.sample_rate:.2f} s at {cfg.sample_rate} Hz, "
              f"T={s.temperature})")
    return 0


def _moments_flag(args) -> dict:
    """--moments CLIP=FILE ... as {CLIP: FILE}; ValueError naming the flag for a bad item."""
    out = {}
    for item in getattr(args, "moments", None) or []:
        clip, eq, path = item.partition("=")
        if not eq or not clip or not path:
            raise ValueError(f"--moments {item}: expected CLIP=FILE (a clip and its Audacity "
                             "label file)")
        out[clip] = path
    return out


def _run_study(cfg, clips, settings, args) -> int:
    """The study (or, with --plan, its plan); --hours fits its schedule to a budget first."""
    t0 = time.perf_counter()
    if args.hours is not None and args.resume:
        raise ValueError("--hours: a resumed study keeps the schedule it began with; leave it out")
    study = Study(cfg, clips, settings, out_dir=args.out, moments=_moments_flag(args),
                  references=getattr(args, "reference", ()))
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
    rec = study.run(resume=args.resume, plan=plan)
    if study.world.rank != 0:                    # under mpiexec rank 0 alone writes the report
        return 0
    acc = rec.measures["accuracy"]
    print(f"done in {time.perf_counter() - t0:.0f} s "
          f"(planned {plan.total_s + plan.measure_s:.0f} s); "
          "average accuracy after each stage: " + ", ".join(f"{a:.3f}" for a in acc["average"])
          + (f"; backward transfer {acc['bwt']:+.3f}" if acc["bwt"] is not None else ""))
    print(f"report: {os.path.abspath(os.path.join(args.out, 'report.html'))}")
    return 0


def cmd_study(args) -> int:
    cfg, settings = presets.get(args.preset) if args.preset else (WaveNetConfig(), StudySettings())
    cfg = _conditioned(config_from_args(args, cfg), args, len(args.clips))
    return _run_study(cfg, args.clips, study_settings(args, settings), args)


def cmd_demo(args) -> int:
    cfg, clips, settings = demo_setup(args.quick)
    print("wavecore demo: a learn-and-forget study on the built-in songs " + ", ".join(
        f"{n} ({len(x) / cfg.sample_rate:.1f} s)" for n, x in clips) + f" at {cfg.sample_rate} Hz")
    return _run_study(cfg, clips, study_settings(args, settings), args)


def cmd_report(args) -> int:
    rec = load_record(args.dir)
    try:
        with owned(args.dir, "wavecore report"):
            if args.rejudge:
                print(said(rejudge(args.dir)))
                rec = load_record(args.dir)
            page = build_report(args.dir, rec)
    except DirectoryInUse as e:
        raise DirectoryInUse(f"{e} (a study rewrites its own report after every stage)") from None
    print(f"report: {os.path.abspath(page)} ({len(rec.stages)} of {len(rec.clips)} stages)")
    return 0


def cmd_compare(args) -> int:
    print(f"page: {os.path.abspath(build_compare(args.dirs, args.out))} ({len(args.dirs)} studies)")
    return 0


# -- the parser ---------------------------------------------------------------------------------
class _OldSpelling(argparse.Action):
    """A flag's former name: works as the new one, and says so once."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: {option_string} is now {self.metavar}; the old spelling still works",
              file=sys.stderr)
        setattr(namespace, self.dest, values)


def _add_study_flags(p, out, defaults: str | None):
    """The study's flags (STUDY_GROUPS); defaults: what the help names as a flag's default
    (None: the dataclasses' own)."""
    groups = {}
    for title, cls, names in STUDY_GROUPS:
        if title not in groups:
            groups[title] = p.add_argument_group(title)
            if title == "study":
                groups[title].add_argument("--out", default=out, metavar="DIR",
                                           help="output directory (default %(default)s)")
                groups[title].add_argument("--resume", action="store_true", help="finish an "
                                           "interrupted study in --out (from inside the stage it "
                                           "stopped in)")
        add_flags(groups[title], cls, names,
                  StudySettings().train if cls is TrainSettings else None, defaults)
    groups["renders"].add_argument("--prime", dest="prime", type=prime_value,
                                   help=argparse.SUPPRESS, action=_OldSpelling,
                                   metavar="--prime-seconds")
    c = p.add_argument_group("cost")
    c.add_argument("--plan", action="store_true",
                   help="print what the study will cost (model, schedule, memory, measured speed, "
                   "estimated time) and exit")
    c.add_argument("--hours", type=POSITIVE, metavar="H",
                   help="fit the study into H hours: scale the stages' step counts from the "
                   "measured speed, keeping the first stage's ratio to the later ones")


def _add_model_flags(p):
    g = p.add_argument_group("model (or --config)")
    g.add_argument("--config", metavar="JSON", help="a WaveNetConfig JSON file")
    add_flags(g, WaveNetConfig, MODEL)


class _Parser(argparse.ArgumentParser):
    def error(self, message):                  # one line, no usage block
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="wavecore", description="A WaveNet engine written from scratch: train on "
                "clips, sample, and study how a WaveNet learns and forgets.")
    p.add_argument("--version", action="version", version=f"wavecore {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    pi = sub.add_parser("info", help="a checkpoint or a model: config, receptive field, size; "
                        "and what is built here",
                        description="Describe a checkpoint (config, receptive field in samples "
                        "and ms, parameter count, step, per-clip metrics) or, without one, the "
                        "model the flags describe. Also says whether the compiled kernels are "
                        "built.")
    pi.add_argument("checkpoint", nargs="?", help="a ckpt-*.npz file")
    _add_model_flags(pi)
    pi.add_argument("--gpu", action="store_true", help="also say which CuPy and CUDA are here, the "
                    "device, and whether the GPU kernels compile")
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
    add_flags(pt.add_argument_group("training"), TrainSettings, TRAIN)
    pt.add_argument("--resume", action="store_true",
                    help="continue from the newest checkpoint in --out")
    pt.add_argument("--overwrite", action="store_true",
                    help="--out holds another run: move it aside (into OUT.replaced-TIME) and "
                    "start anew")
    pt.add_argument("--condition", action="store_true",
                    help="global conditioning: clip i is read with id i (sample with --gc i)")
    pt.set_defaults(func=cmd_train)

    ps = sub.add_parser("sample", help="generate audio from a checkpoint",
                        description="Render audio with the cached sampler.")
    ps.add_argument("checkpoint", help="a ckpt-*.npz file, or a directory (its newest)")
    add_flags(ps.add_mutually_exclusive_group(), _sample.SampleSettings, _sample.LENGTH)
    add_flags(ps, _sample.SampleSettings, _sample.FLAGS)
    ps.set_defaults(func=cmd_sample)

    pst = sub.add_parser("study", help="the incremental learn-and-forget study on your clips",
                         description="Train on clip 1 until memorised, add the clips one by one; "
                         "after every stage score every clip and render the seen ones at each "
                         "temperature. Writes DIR/report.html and DIR/metrics.json. Ctrl-C and "
                         "SIGTERM save a checkpoint; --resume goes on from it.")
    pst.add_argument("clips", nargs="+", metavar="CLIP",
                     help="audio files, in the order to add them")
    pst.add_argument("--preset", choices=presets.NAMES,
                     help="a named recipe, every flag given overriding it: " + "; ".join(
                         f"{k}: {v}" for k, v in presets.DESCRIPTIONS.items()))
    _add_model_flags(pst)
    _add_study_flags(pst, "wavecore-study", None)
    pst.add_argument("--condition", action="store_true",
                     help="global conditioning: clip j is trained and rendered with id j")
    pst.add_argument("--moments", action="append", metavar="CLIP=FILE",
                     help="a clip's moments from an Audacity label file (start<TAB>end<TAB>label "
                     "per line), once per clip; without it, NAME.txt beside the clip, else what "
                     "the clip repeats")
    pst.add_argument("--reference", nargs="+", default=[], metavar="FILE",
                     help="clips every render is judged against too but never trained on: the "
                     "rest of the record (its other songs), so that what your clips share with "
                     "them is told apart (shared) from what the network kept")
    pst.set_defaults(func=cmd_study)

    pd = sub.add_parser("demo", help="the study on the built-in clips, small model (minutes)",
                        description="Run the learn-and-forget study on three built-in synthesised "
                        "songs (verse, scratch shriek, chorus; drums and bass) with a small model, "
                        "and print the path of the report. Flags left out take the demo's values "
                        "(wavecore.study.presets.demo_setup).")
    pd.add_argument("--quick", action="store_true", help="shorter clips and stages (a smoke test)")
    _add_study_flags(pd, "wavecore-demo", "default: the demo's")
    pd.set_defaults(func=cmd_demo)

    pr = sub.add_parser("report", help="rebuild a study's report.html from its metrics and renders",
                        description="Rebuild DIR/report.html and its figures from DIR/metrics.json "
                        "(or study.json) and the renders there, for a study stopped after some "
                        "stages (a running study holds DIR and rewrites its own after every "
                        "stage).")
    pr.add_argument("dir", metavar="DIR", help="the study's --out directory")
    pr.add_argument("--rejudge", action="store_true",
                    help="first judge every render again, from its file, by the current measure "
                    "(a study judged by an earlier one), and write the study's record")
    pr.set_defaults(func=cmd_report)

    pc = sub.add_parser("compare", help="several studies side by side on one page",
                        description="One self-contained page (relative links only) comparing "
                        "studies, typically the same clips under different curricula: forgetting, "
                        "BWT and FWT, merge maps, within-stage curves on shared axes, and players "
                        "for the same clip, stage and temperature in a row.")
    pc.add_argument("dirs", nargs="+", metavar="DIR", help="the studies' --out directories")
    pc.add_argument("--out", default="compare.html", metavar="PAGE",
                    help="the page to write (default %(default)s; figures go to PAGE_files/)")
    pc.set_defaults(func=cmd_compare)
    return p


def _saved(args) -> str:
    """Where an interrupted run's progress is: ' at step N (PATH)', or ''."""
    d = args.out if args.cmd == "train" else os.path.join(args.out, "checkpoints")
    path = latest(d) if os.path.isdir(d) else None
    return f" at step {load(path)[0]['step']} ({path})" if path else ""


def main(argv=None) -> int:
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
            warnings.showwarning = lambda msg, *a, **k: print(f"{who}: warning: {msg}",
                                                              file=sys.stderr)
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

