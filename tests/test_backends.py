"""One test body per compute path (the fixtures ``compiled`` and ``backend`` of conftest.py:
the Cython kernels, the GPU kernels on the CPU emulator and on CUDA, and the NumPy reference
where it is not its own reference): the training step and forward-only evaluation against
the reference, the cached sampler against the naive one, and memorisation end to end."""
import numpy as np
import pytest
from conftest import memorise_chord, random_batch

from wavecore import Batch, WaveNet, WaveNetConfig
from wavecore.engine.sampler import CachedSampler, NaiveSampler

ODD = dict(residual_channels=5, dilation_channels=3, skip_channels=7, classes=11)


def pair(backend, cfg, dtype, seed=0, threads=2):
    ref = WaveNet(cfg, dtype, backend="numpy")
    net = WaveNet(cfg, dtype, backend=backend, threads=threads)
    p = ref.init_params(seed)
    p += (0.1 * np.random.default_rng(seed).standard_normal(p.shape)).astype(dtype)
    return ref, net, p


# -- the training step ---------------------------------------------------------------------------
@pytest.mark.parametrize("dilations,T,B,gc_ids", [
    ((1, 2, 4, 8), 17, 3, 0),
    ((1, 2, 4, 8, 16, 32, 64, 128, 256, 512), 9, 2, 0),
    ((3, 1, 7, 2), 5, 1, 0),
    ((1, 2, 4, 1, 2, 4), 11, 3, 4),
])
def test_step_matches_reference_float64(compiled, dilations, T, B, gc_ids):
    """Loss and every gradient block (each block is one kernel's output), odd shapes, B > 1,
    dilations 1..512, conditioning; float64 to ~1e-10 finds algorithm bugs."""
    cfg = WaveNetConfig(**ODD, dilations_override=dilations, gc_ids=gc_ids, gc_channels=3)
    ref, net, p = pair(compiled, cfg, np.float64)
    gc = np.array([3, 0, 3][:B]) if gc_ids else None
    batch = Batch(random_batch(cfg, T=T, B=B), gc)
    l_ref, g_ref = ref.loss_and_grads(p, batch)
    loss, grads = net.loss_and_grads(net.backend.to_device(p), batch)
    assert loss == pytest.approx(l_ref, rel=1e-12)
    got = ref.views(net.backend.to_host(grads))
    for name, want in ref.views(g_ref).items():
        np.testing.assert_allclose(got[name], want, rtol=1e-10,
                                   atol=1e-10 * (np.abs(want).max() + 1e-300), err_msg=name)


@pytest.mark.parametrize("threads", [1, 2])
def test_step_float32_within_tolerance(compiled, threads):
    cfg = WaveNetConfig(layers=5, stacks=2, residual_channels=16, dilation_channels=16,
                        skip_channels=32, classes=64)
    ref, net, p = pair(compiled, cfg, np.float32, threads=threads)
    batch = Batch(random_batch(cfg, T=120, B=2))
    l_ref, g_ref = ref.loss_and_grads(p, batch)
    loss, grads = net.loss_and_grads(net.backend.to_device(p), batch)
    grads = net.backend.to_host(grads)
    assert grads.dtype == np.float32
    assert loss == pytest.approx(l_ref, rel=1e-5)
    for name, want in ref.views(g_ref).items():
        # float32 GEMMs sum in different orders: compare relative to the block's scale
        np.testing.assert_allclose(ref.views(grads)[name], want, rtol=0,
                                   atol=3e-5 * np.abs(want).max(), err_msg=name)


def test_step_reads_targets_apart_from_inputs(compiled):
    """A batch with its targets apart (corrupted inputs, clean targets): loss and gradient as the
    reference's in float64, and different from the loss on the inputs' own next samples."""
    cfg = WaveNetConfig(**ODD, layers=3, stacks=2)
    ref, net, p = pair(compiled, cfg, np.float64, seed=3)
    x = random_batch(cfg, T=23, B=3, seed=5)
    y = np.random.default_rng(6).integers(0, cfg.classes, size=(23, 3))
    l_ref, g_ref = ref.loss_and_grads(p, Batch(x, y=y))
    assert l_ref != pytest.approx(ref.loss_and_grads(p, Batch(x))[0], rel=1e-3)
    loss, grads = net.loss_and_grads(net.backend.to_device(p), Batch(x, y=y))
    assert loss == pytest.approx(l_ref, rel=1e-12)
    np.testing.assert_allclose(net.backend.to_host(grads), g_ref, rtol=1e-10,
                               atol=1e-10 * np.abs(g_ref).max())
    l_same, _ = net.loss_and_grads(net.backend.to_device(p), Batch(x, y=x[cfg.receptive_field:]))
    assert l_same == pytest.approx(ref.loss_and_grads(p, Batch(x))[0], rel=1e-12)
    with pytest.raises(ValueError, match="y must be int targets of shape"):
        net.loss_and_grads(p, Batch(x, y=y[1:]))


def test_forward_only_evaluate_matches_reference(compiled):
    cfg = WaveNetConfig(**ODD, layers=3, stacks=2)
    ref, net, p = pair(compiled, cfg, np.float64, seed=2)
    x = random_batch(cfg, T=31, B=3, seed=4)
    l_ref, nll_ref, pred_ref = ref.evaluate(p, x)
    loss, nll, pred = net.evaluate(net.backend.to_device(p), x)
    assert loss == pytest.approx(l_ref, rel=1e-12)
    np.testing.assert_allclose(nll, nll_ref, rtol=1e-10)
    np.testing.assert_array_equal(pred, pred_ref)
    loss, grads = net.loss_and_grads(net.backend.to_device(p), x)   # training still works after it
    assert loss == pytest.approx(l_ref, rel=1e-12)
    assert np.all(np.isfinite(net.backend.to_host(grads)))


# -- the cached sampler --------------------------------------------------------------------------
def sampler_model(dtype=np.float64, gc_ids=0):
    cfg = WaveNetConfig(layers=4, stacks=2, residual_channels=5, dilation_channels=6,
                        skip_channels=7, classes=11, gc_ids=gc_ids, gc_channels=3)
    net = WaveNet(cfg, dtype, backend="numpy")
    return net, (net.init_params(1) * 3.0).astype(dtype)       # sharper: a varied output


@pytest.mark.parametrize("primed", [False, True])
@pytest.mark.parametrize("streams", [1, 3])
def test_cached_equals_naive(backend, primed, streams):
    """The same class indices as the naive sampler, fed the same uniforms; the logits to
    ~1e-10; chunks of steps carry the state on."""
    net, p = sampler_model()
    rng = np.random.default_rng(7)
    U = rng.random((150, streams))
    kw = dict(streams=streams, uniforms=U,
              temperature=[1.0, 0.7, 0.0][:streams] if streams > 1 else 0.9)
    if primed:
        kw["prime_classes"] = [rng.integers(0, 11, size=k) for k in (40, 3, 0)][:streams]
        if streams == 1:
            kw["prime_classes"] = kw["prime_classes"][0]
    want = NaiveSampler(net, p).generate(150, return_logits=True, **kw)
    s = CachedSampler(net, p, backend=backend)
    s.chunk = 60
    got = s.generate(150, return_logits=True, **kw)
    assert want.classes.shape == (streams, 150)
    assert len(np.unique(want.classes)) > 3                    # not a degenerate constant output
    np.testing.assert_array_equal(got.classes, want.classes)
    np.testing.assert_allclose(got.logits, want.logits, rtol=1e-10,
                               atol=1e-10 * np.abs(want.logits).max())


def test_cached_equals_naive_with_conditioning(backend):
    net, p = sampler_model(gc_ids=3)
    kw = dict(streams=3, gc=[2, 0, 2], seed=4, temperature=0.8)
    a = NaiveSampler(net, p).generate(80, **kw).classes
    b = CachedSampler(net, p, backend=backend).generate(80, **kw).classes
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], a[1])
    with pytest.raises(ValueError, match="unknown conditioning id"):
        CachedSampler(net, p, backend=backend).generate(5, gc=3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_streams_sharing_a_prime_are_primed_once(backend, dtype):
    """Streams with the same prime and conditioning id are primed once and the state copied:
    the forced steps run for each distinct (prime, id) only, and every stream's classes are
    those it gives alone, its logits bit for bit on the compiled paths (NumPy's matrix products
    round by batch size, so there to 1e-12)."""
    net, p = sampler_model(dtype, gc_ids=3)
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 11, size=40), rng.integers(0, 11, size=25)
    kw = dict(prime_classes=[a, a, b, a, b], gc=[1, 1, 1, 2, 1],
              temperature=[1.0, 0.7, 0.9, 1.0, 0.0], seed=[5, 6, 7, 8, 9])
    s = CachedSampler(net, p, backend=backend)
    widths, advance = [], s.core.advance

    def spy(st, forced=None, **more):
        if forced is not None:
            widths.append(forced.shape[1])
        return advance(st, forced=forced, **more)
    s.core.advance = spy
    got = s.generate(60, return_logits=True, **kw)
    assert widths == [3]                                  # (a, 1), (b, 1), (a, 2)
    assert not np.array_equal(got.classes[0], got.classes[1])
    alone = CachedSampler(net, p, backend=backend)
    for k in range(5):
        one = alone.generate(60, return_logits=True, **{n: [v[k]] for n, v in kw.items()})
        np.testing.assert_array_equal(got.classes[k], one.classes[0])
        if backend == "numpy":
            np.testing.assert_allclose(got.logits[:, k], one.logits[:, 0], rtol=1e-12)
        else:
            np.testing.assert_array_equal(got.logits[:, k], one.logits[:, 0])


# -- end to end ----------------------------------------------------------------------------------
def test_memorises_a_chord(backend):
    """A tiny WaveNet trained with Adam on the backend memorises a short chord
    (conftest.memorise_chord)."""
    memorise_chord(backend)
