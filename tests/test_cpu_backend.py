"""The Cython CPU path's own parts: single kernels against their references, determinism for a
thread count, the compiled Adam. (The whole step, evaluation, the sampler and memorisation are
checked on every backend in test_backends.py.)"""
import numpy as np
import pytest
from conftest import random_batch

from wavecore import Adam, WaveNet, WaveNetConfig
from wavecore.backend import cpu_training_available

pytestmark = pytest.mark.skipif(not cpu_training_available(),
                                reason="the Cython training kernels are not built")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gate_kernel_matches_reference(dtype):
    """Covers the float32 rational tanh (fastmath.h) over the whole line, saturation included."""
    from wavecore._cpu.gate import gate

    from wavecore.ops import gate_backward, gate_forward
    rng = np.random.default_rng(0)
    n, D = 1001, 7
    fg = np.concatenate([rng.standard_normal((n, 2 * D)) * 3,
                         np.sign(rng.standard_normal((n, 2 * D))) * np.logspace(-8, 2, n * 2 * D).reshape(n, -1)])
    dz = rng.standard_normal((2 * n, D))
    z, dfg = gate(np.ascontiguousarray(fg, dtype), np.ascontiguousarray(dz, dtype))
    z_ref, cache = gate_forward(fg)
    (dfg_ref,) = gate_backward(dz, cache)
    tol = 4e-7 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(z, z_ref, rtol=tol * 4, atol=tol)
    np.testing.assert_allclose(dfg, dfg_ref, rtol=tol * 8, atol=tol * np.abs(dz).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_ce_kernel_matches_reference(dtype):
    from wavecore._cpu.softmax_ce import softmax_ce_fused

    from wavecore.ops import softmax_ce_backward, softmax_ce_forward
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((37, 1, 13)) * 5
    logits[0, 0, 3] = 200.0                                  # extreme logit: no overflow, nll huge
    t = rng.integers(0, 13, size=(37, 1))
    nll, d = softmax_ce_fused(np.ascontiguousarray(logits[:, 0], dtype), t[:, 0].astype(np.int64))
    loss, cache = softmax_ce_forward(logits, t)
    (d_ref,) = softmax_ce_backward(1.0, cache)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(nll, cache[2][:, 0], rtol=tol, atol=tol)
    np.testing.assert_allclose(d, d_ref[:, 0], rtol=tol, atol=tol / 37)


def test_bit_identical_after_steps_same_threads():
    cfg = WaveNetConfig(layers=5, stacks=2, residual_channels=8, dilation_channels=8,
                        skip_channels=16, classes=32)
    x = random_batch(cfg, T=300, B=2, seed=3)
    finals = []
    for _ in range(2):
        net = WaveNet(cfg, np.float32, backend="cpu", threads=2)
        p = net.init_params(5)
        opt = Adam(net.size, lr=3e-3, clip_norm=1.0, threads=2)
        for _ in range(5):
            _, g = net.loss_and_grads(p, x)
            opt.step(p, g)
        finals.append(p.copy())
    np.testing.assert_array_equal(finals[0], finals[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_adam_matches_numpy_adam(dtype):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(1001).astype(dtype)
    a = Adam(1001, lr=0.01, clip_norm=0.5, dtype=dtype, backend="cpu")
    b = Adam(1001, lr=0.01, clip_norm=0.5, dtype=dtype, backend="numpy")
    assert a.backend.name == "cpu" and b.backend.name == "numpy"
    pa, pb = p0.copy(), p0.copy()
    for _ in range(20):
        g = rng.standard_normal(1001).astype(dtype)
        assert a.step(pa, g) == pytest.approx(b.step(pb, g), rel=1e-6)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(pa, pb, rtol=tol, atol=tol)


