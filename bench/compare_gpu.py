"""GPU throughput: the wavecore training step beside PyTorch (cuDNN) on the same GPU, and the
GPU cached sampler for 1, 16 and 256 streams, all in one run.

    python bench/compare_gpu.py [--channels 32 64] [--repeat 20] [--seconds 1.0]
    WAVECORE_GPU=emulate python bench/compare_gpu.py --smoke     # the script itself, no GPU

Training: the reference config (2 x 10 layers, S = 256, 256 classes), one window of
T = 16000 loss-bearing samples (B = 1), float32, forward + backward (no optimizer step) on
both sides; PyTorch runs the same network (bench/torch_twin.py) with cudnn.benchmark on.
Times come from CUDA events around `repeat` steps after warm-up steps (compilation, cuDNN
autotuning and allocation stay outside), with the device synchronised before reading them.
Sampler: steady-state samples/s (all streams) = (n2 - n1) * streams / (t2 - t1) over two
render lengths, so priming and launch setup cancel out.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import T_REF, reference_config, train_flops, window  # noqa: E402

from wavecore import Batch, WaveNet, WaveNetConfig  # noqa: E402
from wavecore._gpu import device as gdev  # noqa: E402
from wavecore.sampler import CachedSampler  # noqa: E402


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=1.0, help="sampler render length at 16 kHz")
    ap.add_argument("--streams", type=int, nargs="+", default=[1, 16, 256])
    ap.add_argument("--smoke", action="store_true", help="a tiny config, a few steps: checks the script")
    args = ap.parse_args()
    dev = gdev.get()
    T = 200 if args.smoke else T_REF
    print(f"device: {getattr(dev, 'description', dev.name)}")
    has_torch = False
    if dev.name == "cuda":
        try:
            import torch
            has_torch = torch.cuda.is_available()
        except ImportError:
            pass
    print(f"{'config':<10}{'training path':<22}{'step ms':>9}{'samples/s':>12}{'TFLOP/s':>9}"
          f"{'vs torch fp32':>15}{'vs torch tf32':>15}")
    for ch in args.channels:
        cfg = (WaveNetConfig(layers=4, stacks=2, residual_channels=ch, dilation_channels=ch,
                             skip_channels=32, classes=32) if args.smoke else reference_config(ch))
        x = window(cfg, T)
        batch = Batch(x)
        reps, warm = (2, 1) if args.smoke else (args.repeat, 3)
        rows = {}
        for mode in ("graph", "eager", "graph tf32"):      # tf32: cuBLAS on tensor cores
            tf32 = mode.endswith("tf32")
            if dev.name != "cuda" and tf32:
                continue
            if dev.name == "cuda":
                dev.set_tf32(tf32)
            net = WaveNet(cfg, np.float32, backend="gpu")
            net.backend.step_of(net).graphs = mode.startswith("graph")
            p = net.backend.to_device(net.init_params(0))
            rows["wavecore gpu " + mode] = timed(dev, lambda: net.loss_and_grads(p, batch), reps, warm)
            if dev.name == "cuda" and mode == "graph":
                pool = dev.xp.get_default_memory_pool()
                print(f"  (R=D={ch}: CuPy pool holds {pool.total_bytes() / 2**20:,.0f} MiB after the steps)")
        nan = float("nan")
        if dev.name == "cuda":
            dev.set_tf32(False)
        rows["torch cuDNN fp32"] = torch_step_time(cfg, x, reps, warm, False) if has_torch else nan
        rows["torch cuDNN tf32"] = torch_step_time(cfg, x, reps, warm, True) if has_torch else nan
        flops = train_flops(cfg, T)
        for name, s in rows.items():
            print(f"R=D={ch:<6}{name:<22}{s * 1e3:>9.2f}{T / s:>12,.0f}{flops / s / 1e12:>9.2f}"
                  f"{rows['torch cuDNN fp32'] / s:>15.2f}{rows['torch cuDNN tf32'] / s:>15.2f}")
    print(f"\n{'config':<10}{'GPU sampler':<22}{'streams':>8}{'samples/s':>14}{'x real time':>12}")
    for ch in args.channels:
        cfg = (WaveNetConfig(layers=4, stacks=2, residual_channels=ch, dilation_channels=ch,
                             skip_channels=32, classes=32) if args.smoke else reference_config(ch))
        net = WaveNet(cfg, np.float32, backend="gpu")
        params = net.init_params(0)
        n2 = 40 if args.smoke else int(16000 * args.seconds)
        runs = [(streams, None, "auto") for streams in args.streams]
        runs += [(max(args.streams), k, "block") for k in (1, 2, 4, 8)]   # the blocking choice
        if dev.clusters:                                                 # one SM per stream, or 8
            runs += [(k, None, kern) for k in (1, 16) for kern in ("block", "cluster")]
        for streams, per_block, kern in runs:
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
            if sampler.core.uses_cluster(streams):
                label = "cluster x8"
            else:
                label = f"block ns={sampler.core.streams_per_block(streams)}"
            label += " (auto)" if kern == "auto" else ""
            print(f"R=D={ch:<6}{label:<22}{streams:>8}{rate:>14,.0f}{rate / streams / 16000:>12.2f}")
    print(f"\nfloat32; training T={T}, B=1, forward + backward (graph: one CUDA graph launch per "
          "step after two warm-up steps); sampler temperature 0.9, S=256, 20 layers")


if __name__ == "__main__":
    main()
