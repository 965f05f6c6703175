"""pytest-benchmark: the cached sampler on the reference config (and R = D = 64).

    python -m pytest bench/test_sampler_bench.py --benchmark-enable

Each round renders 4000 steps per stream after the priming; extra_info carries
samples/s (all streams). bench/compare_sampler.py prints the same beside the naive
sampler and a PyTorch cached loop, with priming excluded.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from common import reference_config  # noqa: E402

from wavecore import WaveNet
from wavecore.engine import precision  # noqa: E402
from wavecore.engine.sampler import CachedSampler  # noqa: E402

STEPS = 4000
PRECISIONS = ["fp32", pytest.param("bf16", marks=pytest.mark.skipif(
    precision.bf16_path() is None, reason="no AVX512-BF16 on this processor"))]


@pytest.mark.parametrize("prec", PRECISIONS)
@pytest.mark.parametrize("channels", [32, 64])
@pytest.mark.parametrize("streams,threads", [(1, 1), (16, 1), (16, 2)])
def test_cached_sampler(benchmark, channels, streams, threads, prec):
    cfg = reference_config(channels)
    net = WaveNet(cfg, np.float32, precision=prec)
    sampler = CachedSampler(net, net.init_params(0), threads=threads)
    benchmark.pedantic(sampler.generate, args=(STEPS,),
                       kwargs=dict(streams=streams, temperature=0.9), rounds=3, warmup_rounds=1)
    if benchmark.stats is not None:
        benchmark.extra_info["samples_per_s_incl_priming"] = (STEPS * streams
                                                              / benchmark.stats.stats.median)
