"""The ``wavecore`` command."""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .backend import BACKENDS, cpu_available, cpu_training_available, gpu_status
from .config import ConfigError, WaveNetConfig
from .train import TrainSettings


def _config_from_args(args) -> WaveNetConfig:
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as f:
                return WaveNetConfig.from_json(f.read())
        except OSError as e:
            raise ConfigError(f"{args.config}: cannot read config ({e.strerror})") from None
    return WaveNetConfig(layers=args.layers, stacks=args.stacks, residual_channels=args.residual,
                         dilation_channels=args.dilation, skip_channels=args.skip,
                         classes=args.classes, sample_rate=args.sample_rate)


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
    import dataclasses
    return dataclasses.replace(cfg, gc_ids=n_clips) if getattr(args, "condition", False) else cfg


def cmd_train(args) -> int:
    from .train import Trainer
    settings = TrainSettings(steps=args.steps, batch=args.batch, window=args.window, lr=args.lr,
                             schedule=args.schedule, clip_norm=args.clip_norm,
                             sampling=args.sampling, checkpoint_every=args.checkpoint_every,
                             keep=args.keep, seed=args.seed, backend=args.backend,
                             threads=args.threads)
    if args.resume:
        from .checkpoint import load, latest
        path = latest(args.out)
        if path is None:
            raise ValueError(f"--resume: no checkpoint in {args.out}")
        cfg = WaveNetConfig.from_dict(load(path)[0]["config"])
        trainer = Trainer.resume(args.out, args.clips, steps=args.steps, backend=args.backend,
                                 threads=args.threads)
        print(f"resuming {path} at step {trainer.step}")
    else:
        cfg = _conditioned(_config_from_args(args), args, len(args.clips))
        trainer = Trainer(cfg, args.clips, settings, out_dir=args.out)
    print(f"model: {cfg.describe()}; {trainer.net.size:,} parameters, backend {trainer.net.backend}")
    trainer.train()
    for c in trainer.clips:
        m = trainer.evaluate(c)
        trainer.extra.setdefault("metrics", {})[c.name] = {"bits": m["bits"], "accuracy": m["accuracy"]}
        print(f"{c.name}: {m['bits']:.3f} bits/sample, teacher-forced accuracy {m['accuracy']:.3f}")
    path = trainer.save_checkpoint()
    print(f"step {trainer.step} ({trainer.skipped} skipped); checkpoint {path}")
    return 0


def cmd_sample(args) -> int:
    import os

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
    n = args.samples if args.samples is not None else int(round((args.seconds or 2.0) * cfg.sample_rate))
    if args.streams < 1:
        raise ValueError("--streams must be >= 1")
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


def _run_study(cfg, clips, settings, out, resume) -> int:
    import time

    from .report import build
    from .study import Study
    t0 = time.perf_counter()
    study = Study(cfg, clips, settings, out_dir=out)
    M = study.run(resume=resume)
    path = build(out, M)
    acc = M["measures"]["accuracy"]
    print(f"done in {time.perf_counter() - t0:.0f} s; average accuracy after each stage: "
          + ", ".join(f"{a:.3f}" for a in acc["average"])
          + (f"; backward transfer {acc['bwt']:+.3f}" if acc["bwt"] is not None else ""))
    print(f"report: {os.path.abspath(path)}")
    return 0


def _study_settings(args):
    from .study import StudySettings
    train = TrainSettings(steps=10 ** 9, batch=args.batch, window=args.window, lr=args.lr,
                          schedule="constant", warmup=20, checkpoint_every=0, keep=1000,
                          seed=args.seed, backend=args.backend, threads=args.threads)
    return StudySettings(temperatures=tuple(args.temperatures), memorise=not args.fixed,
                         steps_per_stage=args.steps_per_stage or 1500, later_steps=args.later_steps,
                         memorised_accuracy=args.memorised or 0.998,
                         timeline_every=args.timeline_every, seed=args.seed, train=train)


def cmd_study(args) -> int:
    cfg = _conditioned(_config_from_args(args), args, len(args.clips))
    return _run_study(cfg, args.clips, _study_settings(args), args.out, args.resume)


def cmd_demo(args) -> int:
    import dataclasses

    from . import clips as builtin
    from .study import demo_setup
    cfg, clips, settings = demo_setup(args.quick)
    # flags override the demo's settings; those left at None keep the demo's values
    given = {k: v for k, v in (("steps_per_stage", args.steps_per_stage),
                               ("later_steps", args.later_steps),
                               ("memorised_accuracy", args.memorised)) if v is not None}
    train = dataclasses.replace(settings.train, batch=args.batch, window=args.window, lr=args.lr,
                                seed=args.seed, backend=args.backend,
                                threads=args.threads or settings.train.threads)
    settings = dataclasses.replace(settings, train=train, temperatures=tuple(args.temperatures),
                                   memorise=not args.fixed, timeline_every=args.timeline_every,
                                   seed=args.seed, **given)
    print(f"wavecore demo: a learn-and-forget study on the built-in clips "
          f"{', '.join(builtin.DEMO)} ({len(clips[0][1]) / cfg.sample_rate:g} s each at "
          f"{cfg.sample_rate} Hz)")
    return _run_study(cfg, clips, settings, args.out, args.resume)


def _add_study_flags(p, steps):
    g = p.add_argument_group("study")
    g.add_argument("--out", default="wavecore-study" if steps else "wavecore-demo", metavar="DIR",
                   help="output directory (default %(default)s)")
    g.add_argument("--resume", action="store_true", help="finish an interrupted study in --out")
    dflt = "default %(default)s" if steps else "default: the demo's"
    g.add_argument("--steps-per-stage", type=int, default=steps or None,
                   help=f"step cap per stage (or the fixed count with --fixed; {dflt})")
    g.add_argument("--fixed", action="store_true",
                   help="train a fixed number of steps per stage instead of until memorised")
    g.add_argument("--later-steps", type=int, default=None,
                   help="train stages 2.. for exactly this many steps (the original: memorise the "
                   "first song, then a fixed number per added song)")
    g.add_argument("--memorised", type=float, default=0.998 if steps else None,
                   help=f"teacher-forced accuracy on the newest clip that ends a stage ({dflt})")
    g.add_argument("--temperatures", type=float, nargs="+", default=[0.9, 0.7, 0.6],
                   help="render temperatures (default 0.9 0.7 0.6)")
    g.add_argument("--timeline-every", type=int, default=100, help="steps between timeline renders")
    g.add_argument("--batch", type=int, default=4)
    g.add_argument("--window", type=int, default=2000)
    g.add_argument("--lr", type=float, default=3e-3)
    g.add_argument("--backend", choices=BACKENDS, default="auto")
    g.add_argument("--threads", type=int, default=None)
    g.add_argument("--seed", type=int, default=0)


def _add_model_flags(p):
    d = WaveNetConfig()
    g = p.add_argument_group("model (ignored with --config)")
    g.add_argument("--config", metavar="JSON", help="a WaveNetConfig JSON file")
    g.add_argument("--layers", type=int, default=d.layers, help="layers per stack (default %(default)s)")
    g.add_argument("--stacks", type=int, default=d.stacks, help="stacks (default %(default)s)")
    g.add_argument("--residual", type=int, default=d.residual_channels, help="residual channels R")
    g.add_argument("--dilation", type=int, default=d.dilation_channels, help="gate channels D")
    g.add_argument("--skip", type=int, default=d.skip_channels, help="skip channels S")
    g.add_argument("--classes", type=int, default=d.classes, help="μ-law classes")
    g.add_argument("--sample-rate", type=int, default=d.sample_rate, help="Hz")


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
                        "model the flags describe. Also says whether the compiled kernels are built.")
    pi.add_argument("checkpoint", nargs="?", help="a ckpt-*.npz file")
    _add_model_flags(pi)
    pi.add_argument("--gpu", action="store_true", help="also probe CuPy and the CUDA device")
    pi.add_argument("--json", action="store_true", help="print JSON")
    pi.set_defaults(func=cmd_info)

    pt = sub.add_parser("train", help="train a WaveNet on audio clips",
                        description="Train on one or more clips (any format soundfile reads; "
                        "mixed to mono and resampled to --sample-rate). Checkpoints go to --out; "
                        "--resume continues the newest one exactly.")
    pt.add_argument("clips", nargs="+", metavar="CLIP", help="audio files")
    pt.add_argument("--out", required=True, metavar="DIR", help="output directory")
    _add_model_flags(pt)
    d = TrainSettings()
    pt.add_argument("--steps", type=int, default=d.steps, help="total steps (default %(default)s)")
    pt.add_argument("--batch", type=int, default=d.batch, help="windows per step (default %(default)s)")
    pt.add_argument("--window", type=int, default=d.window,
                    help="loss-bearing samples per window (default %(default)s)")
    pt.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (default %(default)s)")
    pt.add_argument("--schedule", choices=["cosine", "constant"], default=d.schedule)
    pt.add_argument("--clip-norm", type=float, default=d.clip_norm, help="gradient clipping (0: off)")
    pt.add_argument("--sampling", choices=["length", "uniform"], default=d.sampling,
                    help="draw windows by clip length or uniformly per clip")
    pt.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    pt.add_argument("--keep", type=int, default=d.keep, help="checkpoints kept")
    pt.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    pt.add_argument("--condition", action="store_true",
                    help="global conditioning: clip i is read with id i (sample with --gc i)")
    pt.add_argument("--backend", choices=BACKENDS, default="auto")
    pt.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    pt.add_argument("--seed", type=int, default=0)
    pt.set_defaults(func=cmd_train)

    ps = sub.add_parser("sample", help="generate audio from a checkpoint",
                        description="Render audio with the cached sampler.")
    ps.add_argument("checkpoint", help="a ckpt-*.npz file, or a directory (its newest)")
    n = ps.add_mutually_exclusive_group()
    n.add_argument("--seconds", type=float, default=None, help="length in seconds (default 2)")
    n.add_argument("--samples", type=int, default=None, help="length in samples")
    ps.add_argument("--temperature", type=float, default=1.0, help="0 = argmax (default %(default)s)")
    ps.add_argument("--prime", "--wav_seed", "--wav-seed", dest="prime", metavar="WAV",
                    help="audio the network reads before generating")
    ps.add_argument("--streams", type=int, default=1, help="independent renders (OUT_k.wav)")
    ps.add_argument("--seed", type=int, default=0)
    ps.add_argument("--gc", type=int, default=None, metavar="ID",
                    help="conditioning id (the clip index) for a model trained with --condition")
    ps.add_argument("--backend", choices=BACKENDS, default="auto",
                    help="where the sampler runs (auto: the compiled CPU loop)")
    ps.add_argument("--threads", type=int, default=None)
    ps.add_argument("--out", required=True, metavar="WAV", help="output WAV")
    ps.set_defaults(func=cmd_sample)

    pst = sub.add_parser("study", help="the incremental learn-and-forget study on your clips",
                         description="Train on clip 1 until memorised, add the clips one by one; "
                         "after every stage score every clip and render the seen ones at each "
                         "temperature. Writes DIR/report.html and DIR/metrics.json.")
    pst.add_argument("clips", nargs="+", metavar="CLIP", help="audio files, in the order to add them")
    _add_model_flags(pst)
    _add_study_flags(pst, 600)
    pst.add_argument("--condition", action="store_true",
                     help="global conditioning: clip j is trained and rendered with id j")
    pst.set_defaults(func=cmd_study)

    pd = sub.add_parser("demo", help="the study on the built-in clips, small model (minutes)",
                        description="Run the learn-and-forget study on built-in synthesised clips "
                        "(a hip-hop style mix, a breakbeat, scratch shrieks) with a small model, "
                        "and print the path of the report.")
    pd.add_argument("--quick", action="store_true", help="shorter clips and stages (a smoke test)")
    _add_study_flags(pd, 0)
    pd.set_defaults(func=cmd_demo)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ValueError, OSError, RuntimeError) as e:    # AudioError, ConfigError, BackendError...
        print(f"wavecore {args.cmd}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"wavecore {args.cmd}: interrupted" + (" (progress saved; --resume continues)"
              if args.cmd in ("train", "study", "demo") else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
