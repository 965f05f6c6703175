"""GPU throughput: the wavecore training step beside PyTorch (cuDNN) on the same GPU, and the
GPU cached sampler for 1, 16 and 256 streams, all in one run.

    python bench/compare_gpu.py [--channels 32 64] [--essay] [--repeat 20] [--seconds 1.0]
                                [--json PATH]
    WAVECORE_GPU=emulate python bench/compare_gpu.py --smoke     # the script itself, no GPU

Training: the reference config (2 x 10 layers, S = 256, 256 classes), one window of
T = 16000 loss-bearing samples (B = 1), float32, forward + backward (no optimizer step) on
both sides; PyTorch runs the same network (bench/torch_twin.py) with cudnn.benchmark on.
--essay adds the essay model (5 x [1, 1, 2, ..., 4096]: 70 layers, R = D = 32, S = 1024, 256
classes; T = --essay-T, B = 1) to both parts.
Times come from CUDA events around `repeat` steps after warm-up steps (compilation, cuDNN
autotuning and allocation stay outside), with the device synchronised before reading them.
Sampler: steady-state samples/s (all streams) = (n2 - n1) * streams / (t2 - t1) over two
render lengths, so priming and launch setup cancel out.
--json PATH writes every rate measured (rewritten after each row, so a run cut short keeps the
rows it finished; NaN as null) for bench/gpu_check.py.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import T_REF, reference_config, train_flops, window  # noqa: E402

from wavecore import Batch, WaveNet, WaveNetConfig  # noqa: E402
from wavecore.engine._gpu import device as gdev  # noqa: E402
from wavecore.engine.sampler import CachedSampler  # noqa: E402


def timed(dev, fn, repeat, warmup):
    """Seconds per call of fn on the device: CUDA events when on CUDA, else a wall clock."""
    for _ in range(warmup):
        fn()
    if dev.name == "cuda":
        start, end = dev.xp.cuda.Event(), dev.xp.cuda.Event()
        dev.synchronize()
        start.record()
        for _ in range(repeat):
            fn()
        end.record()
        end.synchronize()
        return dev.xp.cuda.get_elapsed_time(start, end) / 1e3 / repeat
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def torch_step_time(cfg, x, repeat, warmup, tf32):
    """PyTorch's step; tf32=False keeps cuDNN and cuBLAS in strict float32 like wavecore (by
    default PyTorch lets cuDNN convolutions use TF32 tensor cores)."""
    import torch
    from torch_twin import TorchWaveNet
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    model = TorchWaveNet(cfg).cuda()
    xt = torch.as_tensor(x.T.copy()).cuda()

    def step():
        model.zero_grad(set_to_none=True)
        model(xt).backward()
    for _ in range(warmup):
        step()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(repeat):
        step()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3 / repeat


ESSAY = dict(dilations_override="5x[1, 1, 2, ..., 4096]", residual_channels=32,
             dilation_channels=32, skip_channels=1024, classes=256, sample_rate=16000)


def essay_config(smoke=False):
    """The essay model (70 layers, receptive field 2.56 s at 16 kHz); in --smoke its shape at
    toy size."""
    if smoke:
        return WaveNetConfig(dilations_override="2x[1, 1, 2, ..., 8]", residual_channels=8,
                             dilation_channels=8, skip_channels=64, classes=32, sample_rate=16000)
    return WaveNetConfig(**ESSAY)


class Results:
    """The rates measured so far, as JSON at ``path`` (None: not written), rewritten whole after
    each row through a temporary file and a rename."""

    def __init__(self, path, **head):
        self.path, self.data = path, {**head, "train": [], "sampler": [], "errors": [],
                                      "complete": False}

    def add(self, part, **row):
        self.data[part].append(row)
        self.write()

    def write(self):
        if not self.path:
            return

        def clean(v):                                    # NaN / inf are not JSON: null
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(clean(self.data), f, indent=1)
        os.replace(tmp, self.path)


def failed(results, part, model, what, e):
    """A row that raised: said on stdout and kept in the JSON; the other rows still run."""
    msg = f"{type(e).__name__}: {e}".splitlines()[0][:300]
    print(f"{model:<10}{what:<22} failed: {msg}", flush=True)
    results.data["errors"].append({"part": part, "model": model, "what": what, "error": msg})
    results.write()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--essay", action="store_true",
                    help="also the essay model (70 layers, S = 1024)")
    ap.add_argument("--essay-T", type=int, default=16000, help="the essay model's training window")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=1.0, help="sampler render length at 16 kHz")
    ap.add_argument("--streams", type=int, nargs="+", default=[1, 16, 256])
    ap.add_argument("--smoke", action="store_true",
                    help="a tiny config, a few steps: checks the script")
    ap.add_argument("--json", metavar="PATH", help="write every measured rate here as JSON")
    args = ap.parse_args()
    dev = gdev.get()
    T = 200 if args.smoke else T_REF
    print(f"device: {getattr(dev, 'description', dev.name)}")
    has_torch, torch_version = False, None
    if dev.name == "cuda":
        try:
            import torch
            has_torch = torch.cuda.is_available()
            torch_version = f"{torch.__version__} (cuDNN {torch.backends.cudnn.version()})"
        except ImportError:
            pass
    results = Results(args.json, device=getattr(dev, "description", dev.name), backend=dev.name,
                      smoke=args.smoke, torch=torch_version, dtype="float32", B=1)
    results.write()

    def config(ch):
        return (WaveNetConfig(layers=4, stacks=2, residual_channels=ch, dilation_channels=ch,
                              skip_channels=32, classes=32) if args.smoke else reference_config(ch))
    models = [(f"R=D={ch}", config(ch), T) for ch in args.channels]
    if args.essay:
        models.append(("essay", essay_config(args.smoke), 200 if args.smoke else args.essay_T))
    print(f"{'config':<10}{'training path':<22}{'step ms':>9}{'samples/s':>12}{'TFLOP/s':>9}"
          f"{'vs torch fp32':>15}{'vs torch tf32':>15}")
    nan = float("nan")
    for model, cfg, Tm in models:
        x = window(cfg, Tm)
        batch = Batch(x)
        reps, warm = (2, 1) if args.smoke else (args.repeat, 3)
        rows = {}
        for mode in ("graph", "eager", "graph tf32"):      # tf32: cuBLAS on tensor cores
            tf32 = mode.endswith("tf32")
            if dev.name != "cuda" and tf32:
                continue
            try:
                if dev.name == "cuda":
                    dev.set_tf32(tf32)
                net = WaveNet(cfg, np.float32, backend="gpu")
                net.backend.step_of(net).graphs = mode.startswith("graph")
                p = net.backend.to_device(net.init_params(0))
                rows["wavecore gpu " + mode] = timed(dev, lambda: net.loss_and_grads(p, batch),
                                                     reps, warm)
                if dev.name == "cuda" and mode == "graph":
                    pool = dev.xp.get_default_memory_pool()
                    print(f"  ({model}: CuPy pool holds {pool.total_bytes() / 2**20:,.0f} MiB "
                          "after the steps)")
            except Exception as e:
                failed(results, "train", model, "wavecore gpu " + mode, e)
                rows["wavecore gpu " + mode] = nan
            finally:
                net = p = None
        if dev.name == "cuda":
            dev.set_tf32(False)
            dev.xp.get_default_memory_pool().free_all_blocks()      # room for PyTorch's run
        for tf32 in (False, True):
            name = f"torch cuDNN {'tf32' if tf32 else 'fp32'}"
            try:
                rows[name] = torch_step_time(cfg, x, reps, warm, tf32) if has_torch else nan
            except Exception as e:
                failed(results, "train", model, name, e)
                rows[name] = nan
        if has_torch:
            import torch
            torch.cuda.empty_cache()
        flops = train_flops(cfg, Tm)
        for name, s in rows.items():
            print(f"{model:<10}{name:<22}{s * 1e3:>9.2f}{Tm / s:>12,.0f}{flops / s / 1e12:>9.2f}"
                  f"{rows['torch cuDNN fp32'] / s:>15.2f}{rows['torch cuDNN tf32'] / s:>15.2f}",
                  flush=True)
            if s == s:                                   # not NaN: measured
                results.add("train", model=model, path=name, tf32=name.endswith("tf32"), T=Tm, B=1,
                            layers=cfg.n_layers, R=cfg.residual_channels, S=cfg.skip_channels,
                            step_ms=s * 1e3, samples_per_s=Tm / s, tflops=flops / s / 1e12,
                            vs_torch_fp32=rows["torch cuDNN fp32"] / s,
                            vs_torch_tf32=rows["torch cuDNN tf32"] / s)
    print(f"\n{'config':<10}{'GPU sampler':<22}{'streams':>8}{'samples/s':>14}{'x real time':>12}")
    for model, cfg, _ in models:
        net = WaveNet(cfg, np.float32, backend="gpu")
        params = net.init_params(0)
        n2 = 40 if args.smoke else int(16000 * args.seconds)
        runs = [(streams, None, "auto") for streams in args.streams]
        runs += [(max(args.streams), k, "block") for k in (1, 2, 4, 8)    # the blocking choice
                 if k <= max(args.streams)]
        if dev.clusters:                                                 # one SM per stream, or 8
            few = [k for k in args.streams if k <= 16] or [min(args.streams)]
            runs += [(k, None, kern) for k in few for kern in ("block", "cluster")]
        for streams, per_block, kern in runs:
            what = f"{kern} ns={per_block or 'auto'} x{streams}"
            try:
                sampler = CachedSampler(net, params, backend="gpu", streams_per_block=per_block,
                                        gpu_kernel=kern)
                n2s = max(8, n2 // max(1, streams // 16))           # fewer steps for many streams
                n1s = n2s // 4

                def render(n):
                    sampler.generate(n, streams=streams, temperature=0.9)
                render(8)                                            # compile + warm-up
                t1 = timed(dev, lambda: render(n1s), 1, 0)
                t2 = timed(dev, lambda: render(n2s), 1, 0)
                rate = (n2s - n1s) * streams / (t2 - t1)
                cluster = sampler.core.uses_cluster(streams)
                ns = 1 if cluster else sampler.core.streams_per_block(streams)
            except Exception as e:
                failed(results, "sampler", model, what, e)
                continue
            label = "cluster x8" if cluster else f"block ns={ns}"
            label += " (auto)" if kern == "auto" else ""
            print(f"{model:<10}{label:<22}{streams:>8}{rate:>14,.0f}"
                  f"{rate / streams / 16000:>12.2f}", flush=True)
            results.add("sampler", model=model, kernel="cluster" if cluster else "block",
                        streams_per_block=ns, auto=kern == "auto", streams=streams,
                        layers=cfg.n_layers, R=cfg.residual_channels, S=cfg.skip_channels,
                        steps=n2s - n1s,
                        samples_per_s=rate, x_real_time=rate / streams / 16000)
    print(f"\nfloat32; training T={T}, B=1, forward + backward (graph: one CUDA graph launch per "
          "step after two warm-up steps); sampler temperature 0.9, S=256, 20 layers"
          + (f"; essay: T={models[-1][2]}, 70 layers, S=1024"
             if args.essay and not args.smoke else ""))
    results.data["complete"] = True
    results.write()
    return 1 if results.data["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
