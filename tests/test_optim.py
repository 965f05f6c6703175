import numpy as np
import pytest

from wavecore import Adam


def textbook_adam(p, grads_seq, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads_seq, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return p


def test_adam_matches_textbook():
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(50)
    gs = [rng.standard_normal(50) * 10 ** rng.uniform(-6, 1) for _ in range(30)]
    opt = Adam(50, lr=0.01, dtype=np.float64)
    p = p0.copy()
    for g in gs:
        opt.step(p, g)
    np.testing.assert_allclose(p, textbook_adam(p0, gs, 0.01), rtol=1e-12, atol=1e-14)
    assert opt.step_count == 30


def test_clipping_scales_to_the_norm():
    g = np.full(4, 3.0)                       # norm 6
    a, b = Adam(4, lr=0.1, clip_norm=1.5, dtype=np.float64), Adam(4, lr=0.1, dtype=np.float64)
    pa, pb = np.zeros(4), np.zeros(4)
    assert a.step(pa, g) == pytest.approx(6.0)
    b.step(pb, g / 4)                         # what clipping should have fed
    np.testing.assert_allclose(pa, pb)
    np.testing.assert_allclose(a.m, b.m)


def test_bad_settings():
    with pytest.raises(ValueError):
        Adam(3, lr=0)
    with pytest.raises(ValueError):
        Adam(3, clip_norm=-1)
