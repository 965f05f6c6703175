"""Sampler throughput: CachedSampler (compiled loop, fp32 and bf16) vs NaiveSampler vs a
PyTorch cached loop.

    python bench/compare_sampler.py [--channels 32 64] [--seconds 1.0]

Steady-state samples/s is measured as (n2 - n1) / (t2 - t1) over two render lengths, so
a call's fixed costs (its start from the silent state, the first touches) are left out;
"first render" includes them. "vs fp32" is a bf16 row against the fp32 row of the same streams
and threads. All rows of a config come from one run on one machine (named first).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, reference_config  # noqa: E402
from common import median_time as clock  # noqa: E402

from wavecore import WaveNet
from wavecore.engine import precision  # noqa: E402
from wavecore.engine.sampler import CachedSampler, NaiveSampler  # noqa: E402


def steady_rate(render, n1, n2, streams):
    render(64)                                              # warm-up
    t1, t2 = clock(lambda: render(n1)), clock(lambda: render(n2))
    return (n2 - n1) * streams / (t2 - t1), n2 * streams / t2


def start_from_silence(net, params, streams):
    """(RF - 1, seconds to step through RF - 1 silent samples, seconds of
    CachedSampler.silent_start): two ways to one state, checked equal."""
    s = CachedSampler(net, params)
    n = net.config.receptive_field - 1
    silence = np.full((n, streams), s.silence, np.int64)

    def stepped():
        st = s.core.start(streams, None)
        s.core.advance(st, forced=silence)
        return st
    if not np.array_equal(stepped().queues, s.silent_start(streams, None).queues):
        raise SystemExit("silent_start differs from the stepped silence")
    return n, clock(stepped), clock(lambda: s.silent_start(streams, None))


def shared_prime(net, params, streams):
    """(prime steps, seconds to prime every stream, seconds of CachedSampler.primed, which
    primes streams that share a prime once and copies the state): checked equal."""
    s, RF = CachedSampler(net, params), net.config.receptive_field
    hist = np.full((2 * RF, streams), s.silence, np.int64)         # hist: (RF + prime, streams)
    hist[RF:] = (np.arange(RF) * 7 % net.config.classes)[:, None]

    def each():
        st = s.silent_start(streams, None)
        s.core.advance(st, forced=hist[RF - 1:-1])
        return st
    if not np.array_equal(each().queues, s.primed(hist, None, None).queues):
        raise SystemExit("primed differs from priming every stream")
    return RF, clock(each), clock(lambda: s.primed(hist, None, None))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--seconds", type=float, default=1.0, help="render length at 16 kHz")
    ap.add_argument("--naive-steps", type=int, default=8)
    ap.add_argument("--torch-steps", type=int, default=300)
    args = ap.parse_args()
    try:
        import torch
        from torch_twin import TorchWaveNet, torch_cached_generate
    except ImportError:
        torch = None
    n2 = int(16000 * args.seconds)
    n1 = n2 // 4
    print(machine())
    print(f"{'config':<10}{'sampler':<24}{'streams':>8}{'threads':>8}{'samples/s':>12}"
          f"{'first render':>14}{'vs naive':>10}{'vs torch':>10}{'vs fp32':>9}")
    precs = ("fp32", "bf16") if precision.bf16_path() else ("fp32",)
    starts = []
    for ch in args.channels:
        cfg = reference_config(ch)
        net = WaveNet(cfg, np.float32)
        params = net.init_params(0)
        naive = NaiveSampler(net, params)
        t = clock(lambda: naive.generate(args.naive_steps), repeat=1)
        naive_rate = args.naive_steps / t
        torch_rate = float("nan")
        if torch is not None:
            torch.set_num_threads(1)
            model = TorchWaveNet(cfg)
            torch_cached_generate(model, 16)
            ts = clock(lambda: torch_cached_generate(model, args.torch_steps), repeat=1)
            torch_rate = args.torch_steps / ts
        nan = float("nan")
        rows = [("naive (reference)", 1, 1, naive_rate, nan, nan)]
        if torch is not None:
            rows.append(("torch cached loop", 1, 1, torch_rate, nan, nan))
        for streams, threads in ((1, 1), (16, 1), (16, 2), (64, 2)):
            fp32 = nan
            for prec in precs:
                s = CachedSampler(WaveNet(cfg, np.float32, precision=prec), params, threads=threads)
                per = max(1, streams // 4)              # fewer steps for many streams
                rate, first = steady_rate(lambda n: s.generate(n, streams=streams, temperature=0.9),
                                          n1 // per, n2 // per, streams)
                fp32 = rate if prec == "fp32" else fp32
                rows.append((f"cached ({s.backend}{', bf16' if prec == 'bf16' else ''})", streams,
                             threads, rate, first, rate / fp32))
        for name, streams, threads, rate, first, vs in rows:
            print(f"R=D={ch:<6}{name:<24}{streams:>8}{threads:>8}{rate:>12,.0f}"
                  f"{first:>14,.0f}{rate / naive_rate:>10,.0f}{rate / torch_rate:>10.1f}{vs:>9.2f}")
        starts.append((ch, *start_from_silence(net, params, 16), *shared_prime(net, params, 16)))
    for ch, n, stepped, silent, p, each, once in starts:
        print(f"R=D={ch}: the start from silence, 16 streams: {n:,} silent steps "
              f"{stepped * 1e3:.1f} ms, silent_start {silent * 1e3:.2f} ms "
              f"({stepped / silent:.0f}x, the same state); one prime of {p:,} samples shared "
              f"by 16 streams: each primed {each * 1e3:.1f} ms, primed once {once * 1e3:.1f} ms "
              f"({each / once:.1f}x, the same state)")
    print("float32 parameters (bf16 rows: weights packed in bf16, products in bf16 with fp32 "
          "accumulation, state fp32), S=256, 256 classes, 2x10 layers; torch rows: "
          "torch.set_num_threads(1)")


if __name__ == "__main__":
    main()
