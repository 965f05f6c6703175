"""Samplers: the draw, seeds, priming, arguments and float32 over long runs. (Cached against
naive on every backend: test_backends.py.)"""
import numpy as np
import pytest

from wavecore import AudioError, WaveNet, WaveNetConfig
from wavecore.engine.backends import cpu_kernel
from wavecore.engine.sampler import CachedSampler, draw

CACHED = ["numpy", pytest.param("cpu", marks=pytest.mark.skipif(
    cpu_kernel("sampler") is None, reason="the compiled sampler is not built"))]


def model(dtype=np.float64, gc_ids=0, scale=3.0, seed=1, **kw):
    cfg = WaveNetConfig(**{**dict(layers=4, stacks=2, residual_channels=5, dilation_channels=6,
                                  skip_channels=7, classes=11, gc_ids=gc_ids, gc_channels=3), **kw})
    net = WaveNet(cfg, dtype, backend="numpy")
    return net, (net.init_params(seed) * scale).astype(dtype)   # sharper: a varied output


@pytest.mark.skipif(cpu_kernel("sampler") is None, reason="the compiled sampler is not built")
def test_float32_kernel_logits_follow_reference_over_thousands_of_steps():
    net, p = model(np.float32, scale=1.0, layers=6, residual_channels=16, dilation_channels=16,
                   skip_channels=32, classes=64)
    kw = dict(streams=2, seed=3, temperature=1.0, return_logits=True)
    fast = CachedSampler(net, p, backend="cpu", threads=2).generate(3000, **kw)
    # the float64 reference, teacher-forced on the history the kernel generated
    net64, p64 = WaveNet(net.config, np.float64, backend="numpy"), p.astype(np.float64)
    silence = np.full((net.config.receptive_field, 2), CachedSampler(net, p).silence)
    x = np.concatenate([silence, fast.classes.T])
    want = net64.logits(p64, x[:-1])[-3000:]        # (3000, 2, A)
    scale = np.abs(want).max()
    np.testing.assert_allclose(fast.logits, want, rtol=0, atol=2e-5 * scale)


@pytest.mark.parametrize("backend", CACHED)
def test_same_seed_same_output_and_streams_independent(backend):
    net, p = model()
    s = CachedSampler(net, p, backend=backend)
    a = s.generate(100, streams=4, seed=9, temperature=1.0).classes
    b = s.generate(100, streams=4, seed=9, temperature=1.0).classes
    np.testing.assert_array_equal(a, b)
    c = s.generate(100, streams=2, seed=9, temperature=1.0).classes   # a stream alone or in a batch
    np.testing.assert_array_equal(a[:2], c)
    assert not np.array_equal(a[0], a[1])
    d = s.generate(100, streams=1, seed=10, temperature=1.0).classes
    assert not np.array_equal(a[0], d[0])


def test_draw_rule():
    lg = np.log(np.array([0.25, 0.25, 0.5]))
    assert [draw(lg, 1.0, u) for u in (0.0, 0.2499, 0.25, 0.4999, 0.5, 0.99)] == [0, 0, 1, 1, 2, 2]
    assert draw(lg, 0.0, 0.0) == 2
    assert draw(np.array([0.0, 1000.0, 0.0]), 1e-3, 0.9) == 1        # stable at tiny T
    cold = [draw(lg, 0.05, u) for u in np.linspace(0.01, 0.999, 50)]
    assert cold.count(2) == 50                       # low temperature -> the mode


def test_primed_state_matches_reading_the_audio(tmp_path):
    """Priming with audio = priming with its μ-law classes; wrong rate or NaN is refused."""
    net, p = model()
    sr = net.config.sample_rate
    prime = (0.3 * np.sin(np.arange(300) / 5)).astype(np.float32)
    s = CachedSampler(net, p, backend="numpy")
    a = s.generate(50, prime=prime, seed=1).classes
    from wavecore import mu_law_encode, save
    b = s.generate(50, prime_classes=mu_law_encode(prime, 11), seed=1).classes
    np.testing.assert_array_equal(a, b)
    save(tmp_path / "p.wav", prime, sr)
    c = s.generate(50, prime=str(tmp_path / "p.wav"), seed=1).classes
    assert (c == a).mean() > 0.5                    # 16-bit rounding may move a class or two
    with pytest.raises(AudioError, match="Hz"):
        s.generate(5, prime=prime, prime_rate=sr * 2)
    with pytest.raises(AudioError, match="non-finite"):
        s.generate(5, prime=np.array([0.0, np.nan], np.float32))


@pytest.mark.parametrize("backend,dtype,precision", [
    ("numpy", np.float64, "fp32"), ("numpy", np.float32, "bf16"),
    pytest.param("cpu", np.float32, "fp32", marks=CACHED[1].marks),
    pytest.param("cpu", np.float32, "bf16", marks=CACHED[1].marks)])
def test_silent_start_is_what_the_silent_steps_leave(backend, dtype, precision):
    """The state after a silence, reached in n_layers steps of the dilation-1 net, is bit for bit
    the state RF - 1 silent steps of the net leave (conditioned streams, uneven dilations); after
    too few silent steps the queues still differ, so the comparison can fail."""
    net, p = model(dtype, gc_ids=3, dilations_override=(1, 3, 2, 7, 1, 5))
    net = WaveNet(net.config, dtype, backend=backend, precision=precision)
    s = CachedSampler(net, p, backend=backend)
    B, cfg = 3, net.config
    gcb = np.ascontiguousarray(np.einsum("bg,lgk->lbk", net.views(p)["gc.embed"][[0, 2, 1]],
                                         net.views(p)["layers.V"]))
    fast = s.silent_start(B, gcb)
    for steps, same in ((cfg.receptive_field - 1, True), (sum(cfg.dilations) - 2, False)):
        slow = s.core.start(B, gcb)
        s.core.advance(slow, forced=np.full((steps, B), s.silence, np.int64))
        assert np.array_equal(fast.queues, slow.queues) is same
        np.testing.assert_array_equal(fast.x_prev, slow.x_prev)
    assert np.ptp(fast.queues) > 0                                    # not all one value


@pytest.mark.parametrize("kw,match", [
    (dict(temperature=-0.5), "temperature"),
    (dict(temperature=float("nan")), "temperature"),
    (dict(n=0), "positive"),
    (dict(gc=1), "no global conditioning"),
    (dict(uniforms=np.full((5, 1), 1.0)), r"\[0, 1\)"),
])
def test_bad_arguments(kw, match):
    net, p = model()
    n = kw.pop("n", 5)
    with pytest.raises(ValueError, match=match):
        CachedSampler(net, p).generate(n, **kw)


def test_generation_save_and_progress(tmp_path):
    net, p = model()
    seen = []
    g = CachedSampler(net, p).generate(seconds=0.01, progress=lambda d, n: seen.append((d, n)))
    assert g.classes.shape == (1, 160) and seen[-1] == (160, 160)
    assert g.audio.dtype == np.float32 and np.abs(g.audio).max() <= 1
    g.save(tmp_path / "g.wav")
    import soundfile as sf
    assert sf.info(tmp_path / "g.wav").frames == 160
