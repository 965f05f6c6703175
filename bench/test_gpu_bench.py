"""pytest-benchmark: the GPU training step and the GPU cached sampler (skipped without a GPU).

    python -m pytest bench/test_gpu_bench.py --benchmark-enable

bench/compare_gpu.py prints the same beside PyTorch (cuDNN) on the same GPU, timed with CUDA
events; these rounds are wall-clock, each ending in a device synchronisation.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from common import T_REF, reference_config, train_flops, window  # noqa: E402

from wavecore import Batch, WaveNet  # noqa: E402
from wavecore.engine.backends import cuda_status  # noqa: E402
from wavecore.engine.sampler import CachedSampler  # noqa: E402

_ok, _why = cuda_status()
pytestmark = pytest.mark.skipif(not _ok, reason=f"no GPU: {_why}")


@pytest.mark.parametrize("channels", [32, 64])
def test_gpu_train_step(benchmark, channels):
    cfg = reference_config(channels)
    net = WaveNet(cfg, np.float32, backend="gpu")
    p = net.backend.to_device(net.init_params(0))
    batch = Batch(window(cfg))
    benchmark.pedantic(net.loss_and_grads, args=(p, batch), rounds=10, warmup_rounds=3)
    if benchmark.stats is not None:
        med = benchmark.stats.stats.median
        benchmark.extra_info["samples_per_s"] = T_REF / med
        benchmark.extra_info["gemm_tflops"] = train_flops(cfg) / med / 1e12


@pytest.mark.parametrize("channels", [32, 64])
@pytest.mark.parametrize("streams", [1, 16, 256])
def test_gpu_sampler(benchmark, channels, streams):
    cfg = reference_config(channels)
    net = WaveNet(cfg, np.float32, backend="gpu")
    sampler = CachedSampler(net, net.init_params(0), backend="gpu")
    steps = 4000 if streams < 256 else 1000
    benchmark.pedantic(sampler.generate, args=(steps,),
                       kwargs=dict(streams=streams, temperature=0.9), rounds=3, warmup_rounds=1)
    if benchmark.stats is not None:
        benchmark.extra_info["samples_per_s_incl_priming"] = (steps * streams
                                                              / benchmark.stats.stats.median)
