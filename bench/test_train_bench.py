"""pytest-benchmark: one training step on the reference config (and R = D = 64).

    python -m pytest bench/test_train_bench.py --benchmark-enable

extra_info carries trained samples/s (loss-bearing positions / step time, from the
median) and GEMM GFLOP/s. bench/compare_train.py prints the same beside PyTorch.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from common import T_REF, reference_config, train_flops, window  # noqa: E402

from wavecore import WaveNet
from wavecore.engine import precision  # noqa: E402
from wavecore.engine.backends import cpu_training_available  # noqa: E402

PATHS = ["numpy", pytest.param("cpu", marks=pytest.mark.skipif(
    not cpu_training_available(), reason="Cython kernels not built")),
    pytest.param("cpu-bf16", marks=pytest.mark.skipif(
        precision.bf16_path() is None, reason="no AVX512-BF16 on this processor"))]


@pytest.mark.parametrize("channels", [32, 64])
@pytest.mark.parametrize("path", PATHS)
def test_train_step(benchmark, path, channels):
    cfg = reference_config(channels)
    backend, _, prec = path.partition("-")
    net = WaveNet(cfg, np.float32, backend=backend, threads=2, precision=prec or "fp32")
    params = net.init_params(0)
    x = window(cfg)
    benchmark.pedantic(net.loss_and_grads, args=(params, x), rounds=5, warmup_rounds=1)
    if benchmark.stats is not None:
        med = benchmark.stats.stats.median
        benchmark.extra_info["samples_per_s"] = T_REF / med
        benchmark.extra_info["gemm_gflops"] = train_flops(cfg) / med / 1e9
