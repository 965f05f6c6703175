"""The whole reference model: gradient check, causality, shapes, flat buffer."""
import numpy as np
import pytest
from conftest import random_batch

from wavecore import Batch, WaveNet, WaveNetConfig
from wavecore.engine.backends import cpu_training_available
from wavecore.testing import GradientCheckError, check_model_gradients

BACKENDS = ["numpy", pytest.param("cpu", marks=pytest.mark.skipif(
    not cpu_training_available(), reason="the Cython training kernels are not built"))]


def generic_params(net, seed):
    """Initial weights plus noise on everything, biases included: zero biases put ReLU
    pre-activations exactly on the kink, where a finite difference is meaningless."""
    p = net.init_params(seed=seed)
    return p + 0.1 * np.random.default_rng(seed).standard_normal(p.shape)


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_gradient_check(tiny_config, backend):
    net = WaveNet(tiny_config, dtype=np.float64, backend=backend)
    params = generic_params(net, 3)
    checked = check_model_gradients(net, params, random_batch(tiny_config, T=9, B=2))
    assert set(checked) == {n for n, s in net.layout if np.prod(s)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_gradient_check_with_global_conditioning(tiny_config, backend):
    cfg = WaveNetConfig(**{**tiny_config.to_dict(), "gc_ids": 3, "gc_channels": 2})
    net = WaveNet(cfg, dtype=np.float64, backend=backend)
    params = generic_params(net, 4)
    batch = Batch(random_batch(cfg, T=6, B=3), gc=np.array([2, 0, 2]))
    checked = check_model_gradients(net, params, batch)
    assert "gc.embed" in checked and "layers.V" in checked


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_gradient_check_with_targets_apart(tiny_config, backend):
    """Corrupted inputs, clean targets: the gradient of the loss on y, not on x[RF:]."""
    net = WaveNet(tiny_config, dtype=np.float64, backend=backend)
    params = generic_params(net, 5)
    x = random_batch(tiny_config, T=7, B=2, seed=1)
    y = np.random.default_rng(2).integers(0, tiny_config.classes, size=(7, 2))
    check_model_gradients(net, params, Batch(x, y=y))


def test_model_gradient_check_fails_on_wrong_gradient(tiny_config):
    net = WaveNet(tiny_config, dtype=np.float64, backend="numpy")
    params = generic_params(net, 3)
    batch = random_batch(tiny_config, T=5, B=2)
    grads = net.loss_and_grads(params, batch)[1]
    o, _ = net.offsets["layers.c"]
    grads[o + 1] *= 1.01
    with pytest.raises(GradientCheckError, match="layers.c"):
        check_model_gradients(net, params, batch, grads=grads)


def test_logits_are_causal_and_match_loss(tiny_config):
    net = WaveNet(tiny_config, dtype=np.float64)
    params = net.init_params(seed=0)
    RF, T = tiny_config.receptive_field, 8
    x = random_batch(tiny_config, T=T, B=2)
    logits = net.logits(params, x)                         # (T + 1, B, A)
    assert logits.shape == (T + 1, 2, tiny_config.classes)
    loss, nll, lg = net.loss(params, x)
    np.testing.assert_allclose(lg, logits[:-1], rtol=1e-12)
    np.testing.assert_allclose(loss, nll.mean())
    # changing sample k changes only outputs at positions >= k, and only within RF
    k = RF + 3
    x2 = x.copy()
    x2[k] = (x2[k] + 1) % tiny_config.classes
    l2 = net.logits(params, x2)
    i = k - (RF - 1)                                       # first output row that reads x[k]
    np.testing.assert_array_equal(l2[:i], logits[:i])
    assert np.abs(l2[i] - logits[i]).max() > 0
    # one output row depends on exactly RF samples
    x3 = x.copy()
    x3[0] = (x3[0] + 1) % tiny_config.classes
    l3 = net.logits(params, x3)
    assert np.abs(l3[0] - logits[0]).max() > 0
    np.testing.assert_array_equal(l3[1:], logits[1:])


def test_float32_follows_float64(tiny_config):
    n32, n64 = WaveNet(tiny_config, np.float32, "numpy"), WaveNet(tiny_config, np.float64, "numpy")
    p64 = n64.init_params(seed=1)
    x = random_batch(tiny_config, T=20, B=3)
    l32, g32 = n32.loss_and_grads(p64.astype(np.float32), x)
    l64, g64 = n64.loss_and_grads(p64, x)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(l32, l64, rtol=1e-5)
    np.testing.assert_allclose(g32, g64, atol=1e-5 * np.abs(g64).max())


def test_views_share_memory_and_seeded_init(tiny_config):
    net = WaveNet(tiny_config)
    p = net.init_params(seed=7)
    np.testing.assert_array_equal(p, net.init_params(seed=7))
    assert not np.array_equal(p, net.init_params(seed=8))
    v = net.views(p)
    v["out.b2"][0] = 42.0
    assert 42.0 in p
    assert sum(a.size for a in v.values()) == net.size == p.size
    assert v["layers.W"].shape == (tiny_config.n_layers, 6, 8)
    assert v["layers.Wr"].shape[0] == tiny_config.n_layers - 1


def test_bad_batches_are_refused(tiny_config):
    net = WaveNet(tiny_config)
    p = net.init_params()
    RF = tiny_config.receptive_field
    with pytest.raises(ValueError, match="at least"):
        net.loss_and_grads(p, np.zeros((RF, 1), dtype=np.int64))
    with pytest.raises(ValueError, match="classes must lie"):
        net.loss_and_grads(p, np.full((RF + 2, 1), tiny_config.classes))
    with pytest.raises(ValueError, match="no global conditioning"):
        net.loss_and_grads(p, Batch(np.zeros((RF + 2, 1), dtype=np.int64), gc=np.array([0])))
    with pytest.raises(ValueError, match="shape"):
        net.loss_and_grads(p[:-1], np.zeros((RF + 2, 1), dtype=np.int64))
