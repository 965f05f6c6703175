"""The Cython CPU path's own parts: single kernels against their references, determinism for a
thread count, the compiled Adam. (The whole step, evaluation, the sampler and memorisation are
checked on every backend in test_backends.py.)"""
import numpy as np
import pytest
from conftest import random_batch

from wavecore import Adam, Batch, WaveNet, WaveNetConfig
from wavecore.engine.backends import cpu_training_available

pytestmark = pytest.mark.skipif(not cpu_training_available(),
                                reason="the Cython training kernels are not built")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gate_kernel_matches_reference(dtype):
    """Covers the float32 rational tanh (fastmath.h) over the whole line, saturation included."""
    from wavecore.engine._cpu.gate import gate
    from wavecore.engine.ops import gate_backward, gate_forward
    rng = np.random.default_rng(0)
    n, D = 1001, 7
    fg = np.concatenate([rng.standard_normal((n, 2 * D)) * 3,
                         np.sign(rng.standard_normal((n, 2 * D)))
                         * np.logspace(-8, 2, n * 2 * D).reshape(n, -1)])
    dz = rng.standard_normal((2 * n, D))
    z, dfg = gate(np.ascontiguousarray(fg, dtype), np.ascontiguousarray(dz, dtype))
    z_ref, cache = gate_forward(fg)
    (dfg_ref,) = gate_backward(dz, cache)
    tol = 4e-7 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(z, z_ref, rtol=tol * 4, atol=tol)
    np.testing.assert_allclose(dfg, dfg_ref, rtol=tol * 8, atol=tol * np.abs(dz).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_ce_kernel_matches_reference(dtype):
    from wavecore.engine._cpu.softmax_ce import softmax_ce_fused
    from wavecore.engine.ops import softmax_ce_backward, softmax_ce_forward
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




@pytest.mark.parametrize("dilations,T,B,gc_ids,threads", [
    ((1, 2, 4, 8), 17, 3, 0, 2),
    ((3, 1, 7, 2, 1), 301, 2, 0, 2),          # head chunks: 301 * 2 rows > 128 per thread
    ((1, 2, 4, 1, 2, 4), 129, 3, 4, 3),       # conditioning, 3 threads
    ((5,), 2, 1, 0, 1),
])
def test_recompute_step_equals_plain_step_float64(dilations, T, B, gc_ids, threads):
    """Recomputing each layer's gate activations in the backward pass (the memory-light step)
    gives the plain step's loss and gradients to 1e-12 in float64, odd shapes; both match the
    NumPy reference."""
    cfg = WaveNetConfig(residual_channels=5, dilation_channels=3, skip_channels=7, classes=11,
                        dilations_override=dilations, gc_ids=gc_ids, gc_channels=3)
    ref = WaveNet(cfg, np.float64, backend="numpy")
    p = ref.init_params(1)
    p += 0.1 * np.random.default_rng(1).standard_normal(p.shape)
    gc = np.array([3, 0, 3][:B]) if gc_ids else None
    batch = Batch(random_batch(cfg, T=T, B=B, seed=2), gc)
    out = {}
    for mode in ("off", "on"):
        net = WaveNet(cfg, np.float64, backend="cpu", threads=threads)
        net.backend.recompute = mode
        loss, grads = net.loss_and_grads(p, batch)
        (ws,) = net.backend._workspaces.values()
        assert ws.recompute == (mode == "on")
        out[mode] = loss, grads.copy(), ws.ts.size
    assert out["on"][2] < out["off"][2] or len(dilations) == 1   # it kept one layer's ts
    assert out["on"][0] == pytest.approx(out["off"][0], rel=1e-12)
    np.testing.assert_allclose(out["on"][1], out["off"][1], rtol=1e-12,
                               atol=1e-12 * np.abs(out["off"][1]).max())
    l_ref, g_ref = ref.loss_and_grads(p, batch)
    assert out["on"][0] == pytest.approx(l_ref, rel=1e-12)
    np.testing.assert_allclose(out["on"][1], g_ref, rtol=1e-10, atol=1e-10 * np.abs(g_ref).max())


def test_recompute_auto_follows_memory(monkeypatch):
    """auto recomputes when keeping everything would take more than a third of the memory
    available; the workspace's size is what wavecore.engine.workspace priced."""
    from wavecore.engine import workspace
    cfg = WaveNetConfig(layers=4, stacks=2, residual_channels=8, dilation_channels=8,
                        skip_channels=16, classes=32)
    net = WaveNet(cfg, np.float32, backend="cpu", threads=2)
    N = cfg.receptive_field + 500
    keep = workspace.step_bytes(cfg, N, 2, np.float32, 2, net.size, False)
    light = workspace.step_bytes(cfg, N, 2, np.float32, 2, net.size, True)
    assert light < keep
    for avail, want in ((10 * keep, False), (2 * keep, True)):
        monkeypatch.setattr(workspace, "available_memory", lambda: avail)
        net.backend._workspaces.clear()
        net.loss_and_grads(net.init_params(0), Batch(random_batch(cfg, T=500, B=2)))
        (ws,) = net.backend._workspaces.values()
        assert ws.recompute is want
        assert ws.nbytes == (light if want else keep)
    net.backend.recompute = "sometimes"
    with pytest.raises(ValueError, match="recompute must be"):
        net.backend.uses_recompute(cfg, N, 2, np.float32, net.size)
