"""The essay model's speed and memory, in one run: its training step at the essay's window
(2 x 96 000) and at T = 16 000, keeping every activation and recomputing the gate activations,
in fp32 and (keeping) in bf16, against PyTorch (the same network: conv1d + autograd; fp32 and
bf16 autocast); its sampler at 1 and 16 streams, fp32 and bf16, against the PyTorch cached loop.

    python bench/compare_essay.py [--threads 2] [--T 16000 96000] [--repeat 2]

Each training measurement runs in a process of its own, so that its peak RSS is its own. PyTorch
is skipped where it is not installed, and at a window whose activations would not fit in memory.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, window  # noqa: E402

from wavecore import WaveNet  # noqa: E402
from wavecore.engine import layout, precision  # noqa: E402
from wavecore.engine.flops import step_flops  # noqa: E402
from wavecore.engine.workspace import available_memory, step_bytes  # noqa: E402
from wavecore.study import presets  # noqa: E402

B = 2


def one(kind, T, threads, repeat):
    """Child: time ``repeat`` steps after one warm-up; print JSON."""
    cfg = presets.essay()[0]
    x = window(cfg, T, B)
    if kind.startswith("torch"):
        import torch
        from torch_twin import TorchWaveNet
        torch.set_num_threads(threads)
        model, xt = TorchWaveNet(cfg), torch.as_tensor(x.T.copy())

        def step():
            model.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=kind == "torch-bf16"):
                loss = model(xt)
            loss.backward()
    else:
        net = WaveNet(cfg, np.float32, backend="cpu", threads=threads,
                      precision="bf16" if kind == "bf16" else "fp32")
        net.backend.recompute = "on" if kind == "recompute" else "off"
        p = net.init_params(0)

        def step():
            net.loss_and_grads(p, x)
    ts = []
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        step()
        if i:
            ts.append(time.perf_counter() - t0)
    print(json.dumps({"step_s": statistics.median(ts),
                      "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def torch_bytes(cfg, T, measured):
    """What PyTorch will need at window T: the peak RSS measured at a smaller window scaled by
    the columns, else a rough count of what autograd keeps (per layer and column: h, [f; g],
    tanh, sigmoid, z)."""
    N = cfg.receptive_field + T
    if measured:
        T0, rss = max(measured.items())
        return 1.1 * rss * N / (cfg.receptive_field + T0)
    return 4 * B * N * cfg.n_layers * (cfg.residual_channels + 5 * cfg.dilation_channels)


def sampler_rates(threads, n):
    from wavecore.engine.sampler import CachedSampler
    cfg = presets.essay()[0]
    rates = {}
    for prec in ("fp32", "bf16") if precision.bf16_path() else ("fp32",):
        net = WaveNet(cfg, np.float32, backend="cpu", threads=threads, precision=prec)
        sampler = CachedSampler(net, net.init_params(0))
        who = "wavecore" if prec == "fp32" else "wavecore bf16"
        for streams in (1, 16):
            sampler.generate(8, streams=streams)
            t0 = time.perf_counter()
            sampler.generate(n, streams=streams, temperature=0.7)
            rates[(who, streams)] = n * streams / (time.perf_counter() - t0)
    try:
        import torch
        from torch_twin import TorchWaveNet, torch_cached_generate
        torch.set_num_threads(threads)
        model = TorchWaveNet(cfg)
        for streams in (1, 16):
            m = max(20, n // 10)
            t0 = time.perf_counter()
            torch_cached_generate(model, m, streams=streams, temperature=0.7)
            rates[("torch", streams)] = m * streams / (time.perf_counter() - t0)
    except ImportError:
        pass
    return rates


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--T", type=int, nargs="+", default=[16000, 96000])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--samples", type=int, default=2000,
                    help="sampler steps timed per stream count")
    ap.add_argument("--one", nargs=2, metavar=("KIND", "T"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return one(args.one[0], int(args.one[1]), args.threads, args.repeat)
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    cfg = presets.essay()[0]
    print(machine())
    print(f"essay model: {cfg.describe()}; batch {B}; {args.threads} threads; float32 parameters")
    print(f"{'T':>7} {'path':<22}{'step s':>9}{'samples/s':>11}{'GFLOP/s':>9}{'peak RSS':>10}"
          f"{'buffers':>9}{'vs fp32':>9}{'vs torch':>10}")
    kinds = ["keep", "recompute"] + (["bf16"] if precision.bf16_path() else []) + \
        (["torch", "torch-bf16"] if have_torch else [])
    names = {"keep": "wavecore keep", "recompute": "wavecore recompute",
             "bf16": "wavecore keep bf16", "torch": "PyTorch autograd",
             "torch-bf16": "PyTorch bf16 autocast"}
    torch_rss = {}                              # T -> bytes, to size the next window
    size = layout.size(cfg)
    for T in sorted(args.T):
        rows = {}
        for kind in kinds:
            need = torch_bytes(cfg, T, torch_rss) if kind.startswith("torch") else 0
            if need > 0.8 * available_memory():
                rows[kind] = None
                print(f"{T:>7} {names[kind]:<22} does not fit: autograd would keep about "
                      f"{need / 2 ** 30:.0f} GiB "
                      f"({available_memory() / 2 ** 30:.0f} GiB available)")
                continue
            out = subprocess.run([sys.executable, __file__, "--one", kind, str(T), "--threads",
                                  str(args.threads), "--repeat", str(args.repeat)],
                                 capture_output=True, text=True, check=True).stdout
            rows[kind] = json.loads(out.strip().splitlines()[-1])
            if kind == "torch":
                torch_rss[T] = rows[kind]["rss_mib"] * 2 ** 20
        for kind, r in rows.items():
            if r is None:
                continue
            t = r["step_s"]
            flops = step_flops(cfg, T, B, kind == "recompute")
            if kind.startswith("torch"):
                buf = ""
            else:
                ws = step_bytes(cfg, cfg.receptive_field + T, B, np.float32, args.threads, size,
                                kind == "recompute")
                buf = f"{ws / 2 ** 30:.2f}G"
            vs, fp32 = rows.get("torch"), rows.get("keep")
            print(f"{T:>7} {names[kind]:<22}"
                  f"{t:>9.2f}{B * T / t:>11,.0f}{flops / t / 1e9:>9.0f}{r['rss_mib'] / 1024:>9.2f}G"
                  f"{buf:>9}{(fp32['step_s'] / t if fp32 else float('nan')):>9.2f}"
                  f"{(vs['step_s'] / t if vs else float('nan')):>10.2f}")
    rates = sampler_rates(args.threads, args.samples)
    print("sampler (T = 0.7): " + "; ".join(
        f"{who} {s} stream{'s' if s > 1 else ''} {r:,.0f} samples/s"
        for (who, s), r in rates.items()))
    for s in (1, 16):
        if ("torch", s) in rates:
            print(f"  {s} stream(s): wavecore / PyTorch cached loop = "
                  f"{rates[('wavecore', s)] / rates[('torch', s)]:.1f}x")
        if ("wavecore bf16", s) in rates:
            print(f"  {s} stream(s): wavecore bf16 / fp32 = "
                  f"{rates[('wavecore bf16', s)] / rates[('wavecore', s)]:.2f}x")
    print("peak RSS: the whole process's (interpreter, model, window, buffers); buffers: the "
          "step's workspace as wavecore/engine/workspace.py prices it (the plan's memory line)")


if __name__ == "__main__":
    main()
