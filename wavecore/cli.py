"""The ``wavecore`` command."""
from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .backend import cpu_available, cpu_training_available, gpu_status
from .config import ConfigError, WaveNetConfig


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
    cfg = _config_from_args(args)
    from .model import WaveNet
    ok, why = gpu_status() if args.gpu else (False, "not checked (pass --gpu)")
    info = {
        "wavecore": __version__,
        "cpu kernels": "built" if cpu_available() else "not built (NumPy reference only)",
        "cpu training kernels": "built" if cpu_training_available() else "not built",
        "gpu": why,
        "config": cfg.to_dict(),
        "receptive field": f"{cfg.receptive_field} samples = {cfg.receptive_field_ms:.1f} ms",
        "parameters": WaveNet(cfg).size,
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            if k == "config":
                print(f"{'model':>22}: {cfg.describe()}")
            else:
                print(f"{k:>22}: {v}")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wavecore", description="A WaveNet engine written from scratch.")
    p.add_argument("--version", action="version", version=f"wavecore {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    pi = sub.add_parser("info", help="what is built here, and a model's size and receptive field")
    _add_model_flags(pi)
    pi.add_argument("--gpu", action="store_true", help="also probe CuPy and the CUDA device")
    pi.add_argument("--json", action="store_true", help="print JSON")
    pi.set_defaults(func=cmd_info)
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
        print(f"wavecore {args.cmd}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
