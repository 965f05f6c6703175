"""Data-parallel training: 1 process x T threads against P ranks (mpiexec) x T/P threads, one run.

    python bench/compare_distributed.py [--ranks 2] [--threads 2] [--steps 6] [--essay]

Each row trains the same global batch (--batch windows of --window loss samples) on built-in
clips; trained samples/s is the global batch's loss samples over the median step. The
allreduce row times the step's in-place Allreduce of the flat gradient alone (the same buffer,
the same ranks), so its share of the step is measured, not inferred. The projection for N
hosts assumes a ring allreduce (each rank moves 2(N-1)/N of the buffer) at the measured
bandwidth: a projection, labelled as one.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

WORKER = r'''
import json, sys, time
import numpy as np
from wavecore import WaveNetConfig
from wavecore.analysis import clips
from wavecore.engine import distributed
from wavecore.training import Trainer, TrainSettings
a = json.loads(sys.argv[1])
cfg = WaveNetConfig(**a["config"])
songs = [clips.get(n, cfg.sample_rate, a["seconds"]) for n in clips.DEMO]
t = Trainer(cfg, songs, TrainSettings(steps=10**6, batch=a["batch"], window=a["window"],
                                      threads=a["threads"], checkpoint_every=0,
                                      checkpoint_minutes=0))
w = t.world
for _ in range(2):
    t.train_step()
times = []
for _ in range(a["steps"]):
    w.barrier()
    t0 = time.perf_counter()
    t.train_step()
    times.append(time.perf_counter() - t0)
buf = np.zeros(t.net.size, t.net.dtype)
ar = []
for _ in range(a["steps"]):
    w.barrier()
    t0 = time.perf_counter()
    t.net.backend.allreduce_(w, buf)
    ar.append(time.perf_counter() - t0)
if w.rank == 0:
    print(json.dumps({"step": float(np.median(times)), "allreduce": float(np.median(ar)),
                      "bytes": buf.nbytes, "size": w.size}))
'''


def run(cmd, args, threads):
    spec = {"config": args.config, "batch": args.batch, "window": args.window, "threads": threads,
            "steps": args.steps, "seconds": args.seconds}
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "worker.py")
        open(script, "w").write(WORKER)
        out = subprocess.run([*cmd, sys.executable, script, json.dumps(spec)], capture_output=True,
                             text=True, timeout=3600)
    if out.returncode:
        sys.exit(f"worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="threads of the one process")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=2, help="global batch (windows per step)")
    ap.add_argument("--window", type=int, default=16000)
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each built-in clip")
    ap.add_argument("--essay", action="store_true", help="the essay's model (70 layers, S = 1024)")
    args = ap.parse_args()
    if args.essay:
        dil = [1, 1] + [2 ** i for i in range(1, 13)]
        args.config = dict(dilations_override=dil * 5, skip_channels=1024, residual_channels=32,
                           dilation_channels=32)
        args.seconds = max(args.seconds, 6.0)
    else:
        args.config = dict(layers=10, stacks=2, residual_channels=32, dilation_channels=32,
                           skip_channels=256)
    mpiexec = (shutil.which("mpiexec", path=os.path.dirname(sys.executable))
               or shutil.which("mpiexec"))
    if mpiexec is None:
        sys.exit("no mpiexec: pip install 'wavecore[mpi]'")
    one = run([], args, args.threads)
    many = run([mpiexec, "-n", str(args.ranks)], args, max(1, args.threads // args.ranks))
    T = args.batch * args.window
    print(f"{'layout':<28}{'step s':>9}{'samples/s':>12}{'allreduce ms':>14}{'share':>8}"
          f"{'vs 1 proc':>11}")
    print(f"{f'1 process x {args.threads} threads':<28}{one['step']:>9.3f}{T / one['step']:>12,.0f}"
          f"{'-':>14}{'-':>8}{1:>11.2f}")
    label = f"{args.ranks} ranks x {max(1, args.threads // args.ranks)} thread(s)"
    print(f"{label:<28}{many['step']:>9.3f}{T / many['step']:>12,.0f}"
          f"{many['allreduce'] * 1e3:>14.2f}"
          f"{many['allreduce'] / many['step']:>8.1%}{one['step'] / many['step']:>11.2f}")
    P = many["size"]
    bw = 2 * (P - 1) / P * many["bytes"] / many["allreduce"]          # bytes/s each rank moved
    print(f"\nmeasured allreduce bandwidth: {bw / 1e9:.2f} GB/s per rank "
          f"({many['bytes'] / 1e6:.1f} MB buffer)")
    print("PROJECTION (not measured): N hosts, one rank each, at this step time and at the "
          "bandwidth measured here (one host; a network between hosts is slower)")
    for n in (2, 4, 8, 16):
        ar = 2 * (n - 1) / n * many["bytes"] / bw
        step = one["step"] + ar
        print(f"  N = {n:>2}: allreduce {ar * 1e3:7.2f} ms, {n * T / step:>12,.0f} samples/s "
              f"(global batch {n * args.batch})")


if __name__ == "__main__":
    main()
