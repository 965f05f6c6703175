"""The Cython CPU path against the NumPy reference: whole-model loss and every gradient
block (each block is one kernel's output), odd shapes, B > 1, dilations 1..512;
determinism; the compiled Adam; memorisation on the CPU path."""
import numpy as np
import pytest

from conftest import random_batch
from test_memorize import chord
from wavecore import Adam, Batch, WaveNet, WaveNetConfig, mu_law_encode
from wavecore.backend import cpu_training_available

pytestmark = pytest.mark.skipif(not cpu_training_available(),
                                reason="the Cython training kernels are not built")


def compare(cfg, dtype, T, B, gc=None, threads=2, seed=0):
    ref = WaveNet(cfg, dtype, backend="numpy")
    cpu = WaveNet(cfg, dtype, backend="cpu", threads=threads)
    p = ref.init_params(seed)
    p += (0.1 * np.random.default_rng(seed).standard_normal(p.shape)).astype(dtype)
    batch = Batch(random_batch(cfg, T=T, B=B, seed=seed), gc)
    return ref, ref.loss_and_grads(p, batch), cpu.loss_and_grads(p, batch)


ODD = dict(residual_channels=5, dilation_channels=3, skip_channels=7, classes=11)


@pytest.mark.parametrize("dilations,T,B", [
    ((1, 2, 4, 8), 17, 3),
    ((1, 2, 4, 8, 16, 32, 64, 128, 256, 512), 9, 2),
    ((3, 1, 7, 2), 5, 1),
])
def test_cpu_matches_reference_float64(dilations, T, B):
    cfg = WaveNetConfig(**ODD, dilations_override=dilations)
    ref, (l_ref, g_ref), (l_cpu, g_cpu) = compare(cfg, np.float64, T, B)
    assert l_cpu == pytest.approx(l_ref, rel=1e-12)
    for name, want in ref.views(g_ref).items():
        got = ref.views(g_cpu)[name]
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * (np.abs(want).max() + 1e-300),
                                   err_msg=name)


def test_cpu_matches_reference_with_conditioning():
    cfg = WaveNetConfig(**ODD, layers=3, stacks=2, gc_ids=4, gc_channels=3)
    ref, (l_ref, g_ref), (l_cpu, g_cpu) = compare(cfg, np.float64, 11, 3, gc=np.array([3, 0, 3]))
    assert l_cpu == pytest.approx(l_ref, rel=1e-12)
    for name, want in ref.views(g_ref).items():
        np.testing.assert_allclose(ref.views(g_cpu)[name], want, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("threads", [1, 2])
def test_cpu_float32_within_tolerance(threads):
    cfg = WaveNetConfig(layers=6, stacks=2, residual_channels=16, dilation_channels=16,
                        skip_channels=32, classes=64)
    ref, (l_ref, g_ref), (l_cpu, g_cpu) = compare(cfg, np.float32, 200, 2, threads=threads)
    assert g_cpu.dtype == np.float32
    assert l_cpu == pytest.approx(l_ref, rel=1e-5)
    for name, want in ref.views(g_ref).items():
        got = ref.views(g_cpu)[name]
        # float32 GEMMs sum in different orders: compare relative to the block's scale
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-4 * np.abs(want).max(), err_msg=name)


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


def test_cpu_backend_memorises_a_chord():
    sr = 4000
    cfg = WaveNetConfig(layers=6, stacks=1, residual_channels=16, dilation_channels=16,
                        skip_channels=32, sample_rate=sr)
    net = WaveNet(cfg, np.float32, backend="cpu")
    x = mu_law_encode(np.concatenate([np.zeros(cfg.receptive_field, np.float32), chord(sr, 0.4)]))
    x = x[:, None]
    p = net.init_params(0)
    opt = Adam(net.size, lr=1e-2, clip_norm=5.0)
    first, _ = net.loss_and_grads(p, x)
    for _ in range(250):
        _, g = net.loss_and_grads(p, x)
        opt.step(p, g)
    final, _, logits = WaveNet(cfg, np.float32, backend="numpy").loss(p, x)
    assert final < first / 50
    assert (logits.argmax(-1) == x[cfg.receptive_field:]).mean() > 0.95


def test_forward_only_evaluate_matches_reference():
    cfg = WaveNetConfig(**ODD, layers=3, stacks=2)
    ref = WaveNet(cfg, np.float64, backend="numpy")
    cpu = WaveNet(cfg, np.float64, backend="cpu", threads=2)
    p = ref.init_params(2) + 0.1 * np.random.default_rng(2).standard_normal(ref.size)
    x = random_batch(cfg, T=31, B=3, seed=4)
    l_ref, nll_ref, pred_ref = ref.evaluate(p, x)
    l_cpu, nll_cpu, pred_cpu = cpu.evaluate(p, x)
    assert l_cpu == pytest.approx(l_ref, rel=1e-12)
    np.testing.assert_allclose(nll_cpu, nll_ref, rtol=1e-10)
    np.testing.assert_array_equal(pred_cpu, pred_ref)
    loss, grads = cpu.loss_and_grads(p, x)          # the training path still works after it
    assert loss == pytest.approx(l_ref, rel=1e-12) and np.all(np.isfinite(grads))
