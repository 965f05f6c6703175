"""Training-step throughput: wavecore's CPU kernels in fp32 and bf16 vs the NumPy reference vs
PyTorch (fp32, and bf16 autocast), one run.

    python bench/compare_train.py [--threads 2] [--channels 32 64] [--repeat 5]

Prints, per config: median step time, trained samples/s (loss-bearing positions / step),
GEMM GFLOP/s, peak RSS growth, and the ratios to wavecore's fp32 kernels, to the NumPy
reference and to PyTorch fp32; first the machine and the bf16 path it runs.
"""
import argparse
import os
import resource
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import T_REF, machine, median_time, reference_config, train_flops, window  # noqa: E402

from wavecore import WaveNet
from wavecore.engine import precision  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--T", type=int, default=T_REF)
    args = ap.parse_args()
    try:
        import torch
        torch.set_num_threads(args.threads)
        from torch_twin import TorchWaveNet
    except ImportError:
        torch = None
    print(machine())
    print(f"{'config':<10}{'path':<12}{'step s':>9}{'samples/s':>12}{'GFLOP/s':>9}"
          f"{'peak MiB':>10}{'vs fp32':>9}{'vs numpy':>10}{'vs torch':>10}")
    bf16 = precision.bf16_path() is not None
    for ch in args.channels:
        cfg = reference_config(ch)
        x = window(cfg, args.T)
        flops = train_flops(cfg, args.T)
        rows = {}
        for path, prec in (("cpu", "fp32"), ("cpu", "bf16"), ("numpy", "fp32")):
            if prec == "bf16" and not bf16:
                continue
            net = WaveNet(cfg, np.float32, backend=path, threads=args.threads, precision=prec)
            p = net.init_params(0)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            rows[path if prec == "fp32" else "cpu bf16"] = (
                median_time(lambda: net.loss_and_grads(p, x), args.repeat, warmup=1),
                (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
        if torch is not None:
            model = TorchWaveNet(cfg)
            xt = torch.as_tensor(x.T.copy())

            def step(autocast):
                model.zero_grad(set_to_none=True)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                    loss = model(xt)
                loss.backward()
            rows["torch"] = (median_time(lambda: step(False), args.repeat, warmup=1), float("nan"))
            rows["torch bf16"] = (median_time(lambda: step(True), args.repeat, warmup=1),
                                  float("nan"))
        for path, (t, mem) in rows.items():
            vs_t = rows["torch"][0] / t if "torch" in rows else float("nan")
            print(f"R=D={ch:<6}{path:<12}{t:>9.3f}{args.T / t:>12,.0f}{flops / t / 1e9:>9.1f}"
                  f"{mem:>10.0f}{rows['cpu'][0] / t:>9.2f}{rows['numpy'][0] / t:>10.2f}"
                  f"{vs_t:>10.2f}")
    print(f"threads={args.threads}, T={args.T}, float32 parameters, B=1; bf16 rows: GEMM operands "
          "in bf16, fp32 accumulation (torch bf16: torch.autocast); peak MiB = growth of max RSS "
          "during that path's runs (0 when an earlier path already reached it)")


if __name__ == "__main__":
    main()
