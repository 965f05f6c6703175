"""The GPU backend against the NumPy reference: every kernel, the whole training step (eager
and as a graph), Adam, the cached sampler, the trainer, the CLI and a whole study. Each test
runs on two devices:

- "emulate": the same kernel sources compiled for the CPU with kernels/emulate.h (needs a C++
  compiler), so index, algebra and missing-barrier bugs show on machines without a GPU;
- "cuda": CuPy on a real GPU, skipped with the reason where there is none (CI has none).

Without any device: the cuBLAS call mapping, and compiling the sources with nvcc / NVRTC where
those are installed.
"""
import shutil

import numpy as np
import pytest
from conftest import random_batch, run

from wavecore import Adam, Batch, WaveNet, WaveNetConfig
from wavecore.engine._gpu import GpuModel, ops
from wavecore.engine._gpu import cublas as gcublas
from wavecore.engine._gpu import device as gdev
from wavecore.engine.backends import BackendError, cpu_training_available, cuda_status, resolve
from wavecore.engine.ops import (
    gate_backward,
    gate_forward,
    input_conv_backward,
    input_conv_forward,
    softmax_ce_backward,
    softmax_ce_forward,
)
from wavecore.engine.sampler import CachedSampler, NaiveSampler
from wavecore.training import Trainer, TrainSettings

_cuda_ok, _cuda_why = cuda_status()
DEVICES = [
    pytest.param("emulate", marks=pytest.mark.skipif(
        gdev.compiler() is None, reason="no C++ compiler for the GPU emulator")),
    pytest.param("cuda", marks=pytest.mark.skipif(not _cuda_ok, reason=f"no GPU: {_cuda_why}")),
]


@pytest.fixture(params=DEVICES)
def dev(request, monkeypatch):
    """The device, also made the one that backend="gpu" uses in this test."""
    monkeypatch.setenv("WAVECORE_GPU", request.param)
    return gdev.get(request.param)


def close(got, want, dtype, err=""):
    """float64: ~1e-10 (algorithm bugs); float32: relative to the values' scale."""
    tol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (np.abs(want).max() + 1e-30),
                               err_msg=err)


DTYPES = [np.float64, np.float32]


# -- the kernels one by one ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shared", [True, False])
def test_input_conv(dev, dtype, shared):
    rng = np.random.default_rng(0)
    M, B, A, R = 400, 3, 13, 5                       # > 512 rows: several blocks
    x = rng.integers(0, A, size=(M, B))
    x[:100] = 4                                        # a repeated class (silence) collides
    E, b = rng.standard_normal((2, A, R)).astype(dtype), rng.standard_normal(R).astype(dtype)
    h_ref, cache = input_conv_forward(x, E, b)
    xd = dev.xp.array(x)
    h = dev.xp.empty(((M - 1) * B, R), dtype)
    ops.input_conv_forward(dev, xd, dev.xp.array(E), dev.xp.array(b), h)
    close(dev.to_host(h), h_ref.reshape(-1, R), dtype)
    dh = rng.standard_normal(h_ref.shape).astype(dtype)
    dE_ref, _ = input_conv_backward(dh, cache)
    dE = dev.xp.empty_like(dev.xp.array(E))
    ops.input_conv_backward(dev, xd, dev.xp.array(dh.reshape(-1, R)), dE, shared=shared)
    close(dev.to_host(dE), dE_ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gc", [False, True])
def test_gate(dev, dtype, gc):
    rng = np.random.default_rng(1)
    Tout, B, D, T = 9, 3, 5, 4
    fg0 = rng.standard_normal((Tout, B, 2 * D)).astype(dtype) * 2
    c = rng.standard_normal(2 * D).astype(dtype)
    gcb = rng.standard_normal((B, 2 * D)).astype(dtype) if gc else None
    pre = fg0 + c + (gcb if gc else 0)
    z_ref, cache = gate_forward(pre)
    xp = dev.xp
    fg = xp.array(fg0.reshape(-1, 2 * D))
    z = xp.empty((Tout * B, D), dtype)
    zcat = xp.zeros((T * B, 3 * D), dtype)             # this layer's columns: the middle block
    ops.gate_forward(dev, fg, xp.array(c), None if gcb is None else xp.array(gcb), z,
                     zcat[:, D:], B, (Tout - T) * B)
    close(dev.to_host(z), z_ref.reshape(-1, D), dtype)
    close(dev.to_host(fg), pre.reshape(-1, 2 * D), dtype)
    zc = dev.to_host(zcat)
    close(zc[:, D:2 * D], z_ref[-T:].reshape(-1, D), dtype)
    assert not zc[:, :D].any() and not zc[:, 2 * D:].any()
    dz = rng.standard_normal((Tout, B, D)).astype(dtype)
    dzcat = rng.standard_normal((T * B, 3 * D)).astype(dtype)
    dz_total = dz.copy()
    dz_total[-T:] += dzcat[:, D:2 * D].reshape(T, B, D)
    (dfg_ref,) = gate_backward(dz_total, cache)
    ops.gate_backward(dev, fg, xp.array(dz.reshape(-1, D)), xp.array(dzcat)[:, D:], (Tout - T) * B)
    close(dev.to_host(fg), dfg_ref.reshape(-1, 2 * D), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,A", [(37, 11), (5, 256), (70, 33)])
def test_softmax_ce(dev, dtype, N, A):
    rng = np.random.default_rng(2)
    lg = (rng.standard_normal((N, A)) * 3).astype(dtype)
    b = rng.standard_normal(A).astype(dtype)
    t = rng.integers(0, A, size=N)
    lg[0, :] = 1.0                                     # a tie: the lowest index wins
    b[:] = 0 if N == 5 else b
    loss_ref, cache = softmax_ce_forward((lg + b)[:, None], t[:, None])
    (dl_ref,) = softmax_ce_backward(1.0, cache)
    xp = dev.xp
    l, nll, pred = xp.array(lg), xp.empty(N, dtype), xp.empty(N, np.int64)
    ops.softmax_ce(dev, l, xp.array(b), xp.array(t), nll, pred=pred)
    close(dev.to_host(nll), cache[2][:, 0], dtype)
    close(dev.to_host(l), dl_ref[:, 0], dtype)
    np.testing.assert_array_equal(dev.to_host(pred), np.argmax(lg + b, axis=1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_and_norm_match_reference(dev, dtype):
    rng = np.random.default_rng(3)
    n = 1001
    p0 = rng.standard_normal(n).astype(dtype)
    ref = Adam(n, lr=1e-2, clip_norm=0.5, dtype=dtype, backend="numpy")
    gpu = Adam(n, lr=1e-2, clip_norm=0.5, dtype=dtype, backend="gpu")
    p_ref, p_gpu = p0.copy(), dev.xp.array(p0)
    for k in range(5):
        g = (rng.standard_normal(n) * (k + 1)).astype(dtype)
        n_ref = ref.step(p_ref, g)
        n_gpu = gpu.step(p_gpu, dev.xp.array(g))
        assert n_gpu == pytest.approx(n_ref, rel=1e-12 if dtype == np.float64 else 1e-6)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(dev.to_host(p_gpu), p_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(gpu.state()["v"], ref.state()["v"], rtol=tol, atol=1e-30)


def test_kernel_arguments_are_checked(dev):
    k = dev.kernel("relu_backward", np.float64)
    with pytest.raises(TypeError, match="needs a float64 array"):
        k(1, 32, dev.xp.zeros(3, np.float32), dev.xp.zeros(3), 3)
    with pytest.raises(TypeError, match="takes 3 arguments"):
        k(1, 32, dev.xp.zeros(3))


# -- the whole step ----------------------------------------------------------------------------
ODD = dict(residual_channels=5, dilation_channels=3, skip_channels=7, classes=11)


@pytest.mark.parametrize("gc_ids", [0, 3])
def test_graph_replays_follow_new_inputs(dev, gc_ids):
    """Step 1 runs eagerly, step 2 is captured (a CUDA graph; the emulator records the work),
    later steps replay it. Each step gets new parameters, a new window and new ids, so work
    done outside the device API (and so missing from the graph) would show."""
    cfg = WaveNetConfig(**ODD, dilations_override=(1, 2, 4, 1), gc_ids=gc_ids, gc_channels=2)
    ref = WaveNet(cfg, np.float64, backend="numpy")
    gm = GpuModel(ref, dev)
    rng = np.random.default_rng(5)
    for step in range(4):
        p = ref.init_params(step) * (1 + 0.3 * step)
        x = random_batch(cfg, T=9, B=2, seed=10 + step)
        gc = rng.integers(0, gc_ids, size=2) if gc_ids else None
        l_ref, g_ref = ref.loss_and_grads(p, Batch(x, gc))
        loss, grads, _, _ = gm.loss_and_grads(dev.xp.array(p), x, gc)
        assert loss == pytest.approx(l_ref, rel=1e-12), step
        close(dev.to_host(grads), g_ref, np.float64, f"step {step}")
        loss, _, nll, pred = gm.loss_and_grads(dev.xp.array(p), x, gc, backward=False)
        _, nll_ref, lg = ref.loss(p, Batch(x, gc))
        close(dev.to_host(nll), nll_ref, np.float64)
        np.testing.assert_array_equal(dev.to_host(pred), lg.argmax(-1))
    # with and without backward
    assert gm.graphs and all(len(ws.graph) == 2 for ws in gm._ws.values())


def test_wavenet_gpu_backend_and_evaluate(dev):
    cfg = WaveNetConfig(**ODD, dilations_override=(1, 2, 4))
    ref, gpu = WaveNet(cfg, np.float64, backend="numpy"), WaveNet(cfg, np.float64, backend="gpu")
    p = ref.init_params(4) * 3
    x = random_batch(cfg, T=13, B=2, seed=4)
    l_ref, g_ref = ref.loss_and_grads(p, Batch(x))
    l_gpu, g_gpu = gpu.loss_and_grads(p, Batch(x))           # host in, host out
    assert isinstance(g_gpu, np.ndarray) and l_gpu == pytest.approx(l_ref, rel=1e-12)
    close(g_gpu, g_ref, np.float64)
    loss, nll, pred = ref.evaluate(p, Batch(x))
    loss2, nll2, pred2 = gpu.evaluate(p, Batch(x))
    assert loss2 == pytest.approx(loss, rel=1e-12)
    close(nll2, nll, np.float64)
    np.testing.assert_array_equal(pred2, pred)


# -- the sampler -------------------------------------------------------------------------------
def sampler_model(gc_ids=0):
    cfg = WaveNetConfig(layers=4, stacks=2, residual_channels=5, dilation_channels=6,
                        skip_channels=7, classes=11, gc_ids=gc_ids, gc_channels=3)
    net = WaveNet(cfg, np.float64, backend="numpy")
    return net, net.init_params(1) * 3.0


@pytest.mark.parametrize("streams,per_block", [(5, 2), (5, 8)])
@pytest.mark.parametrize("primed", [False, True])
def test_sampler_streams_per_block_equals_naive(dev, streams, per_block, primed):
    """Blocks serving several streams (the default, one stream a block here, is in
    test_backends.py)."""
    net, p = sampler_model()
    rng = np.random.default_rng(7)
    U = rng.random((60, streams))
    temps = [1.0, 0.7, 0.0, 0.9, 0.6][:streams]
    kw = dict(streams=streams, uniforms=U, temperature=temps if streams > 1 else 0.9)
    if primed:
        kw["prime_classes"] = [rng.integers(0, 11, size=k) for k in (40, 3, 0, 1, 17)][:streams]
        if streams == 1:
            kw["prime_classes"] = kw["prime_classes"][0]
    want = NaiveSampler(net, p).generate(60, return_logits=True, **kw)
    s = CachedSampler(net, p, backend="gpu", streams_per_block=per_block)
    s.chunk = 25                                       # several launches carry the state on
    got = s.generate(60, return_logits=True, **kw)
    assert len(np.unique(want.classes)) > 3
    np.testing.assert_array_equal(got.classes, want.classes)
    close(got.logits, want.logits, np.float64)


@pytest.mark.parametrize("streams", [1, 3])
def test_cluster_sampler_equals_naive(dev, streams):
    """sampler_cluster: 8 blocks per stream exchanging z, y, o and the logits through
    distributed shared memory, one cluster barrier per layer."""
    if not dev.clusters:
        pytest.skip("this GPU has no thread-block clusters (compute capability < 9.0)")
    net, p = sampler_model(gc_ids=3)
    rng = np.random.default_rng(11)
    kw = dict(streams=streams, uniforms=rng.random((30, streams)),
              temperature=[0.9, 0.0, 0.6][:streams],
              prime_classes=[rng.integers(0, 11, size=k) for k in (12, 0, 5)][:streams],
              gc=[2, 0, 1][:streams])
    want = NaiveSampler(net, p).generate(30, return_logits=True, **kw)
    s = CachedSampler(net, p, backend="gpu", gpu_kernel="cluster")
    s.chunk = 11
    got = s.generate(30, return_logits=True, **kw)
    assert s.core.uses_cluster(streams)
    np.testing.assert_array_equal(got.classes, want.classes)
    close(got.logits, want.logits, np.float64)


def test_sampler_float32_with_conditioning(dev):
    net, p = sampler_model(gc_ids=3)
    net32 = WaveNet(net.config, np.float32, backend="numpy")
    p32 = p.astype(np.float32)
    a = CachedSampler(net32, p32, backend="numpy").generate(40, streams=2, gc=[1, 2], seed=3,
                                                             return_logits=True)
    b = CachedSampler(net32, p32, backend="gpu").generate(40, streams=2, gc=[1, 2], seed=3,
                                                           return_logits=True)
    np.testing.assert_allclose(b.logits, a.logits, rtol=1e-4, atol=1e-4 * np.abs(a.logits).max())


# -- the trainer ---------------------------------------------------------------------------------
def test_trainer_on_gpu_follows_reference_and_resumes(dev, tmp_path):
    cfg = WaveNetConfig(layers=3, stacks=2, residual_channels=4, dilation_channels=4,
                        skip_channels=8, classes=16)
    clip = (0.5 * np.sin(np.arange(600) * 0.05)).astype(np.float32)
    kw = dict(steps=12, batch=2, window=64, dtype="float64", warmup=3, checkpoint_every=5)
    ref = Trainer(cfg, [clip], TrainSettings(backend="numpy", **kw), out_dir=tmp_path / "ref")
    ref.train(progress=False)
    gpu = Trainer(cfg, [clip], TrainSettings(backend="gpu", **kw), out_dir=tmp_path / "gpu")
    gpu.train(7, progress=False)
    del gpu
    gpu = Trainer.resume(tmp_path / "gpu", [clip])                   # checkpoint at step 7
    gpu.train(progress=False)
    np.testing.assert_allclose(gpu.params, ref.params, rtol=1e-9, atol=1e-12)
    assert gpu.evaluate(clip).bits == pytest.approx(ref.evaluate(clip).bits, rel=1e-9)


# -- without a GPU -------------------------------------------------------------------------------
@pytest.mark.skipif(_cuda_ok, reason="a GPU is present")
def test_gpu_backend_says_why_it_cannot_run(monkeypatch):
    monkeypatch.delenv("WAVECORE_GPU", raising=False)
    with pytest.raises(BackendError, match="backend='gpu' is unavailable: (CuPy|.*CUDA)"):
        resolve("gpu")
    with pytest.raises(BackendError, match="unavailable"):
        WaveNet(WaveNetConfig(**ODD, dilations_override=(1, 2)), backend="gpu")


def _nvrtc():
    """CuPy's NVRTC program class where CuPy and libnvrtc load (no GPU needed), else None."""
    try:
        from cupy.cuda import compiler
        compiler._NVRTCProgram("extern \"C\" __global__ void k() {}", "probe.cu").compile(
            ("--gpu-architecture=compute_80",))
        return compiler._NVRTCProgram
    except Exception:
        return None


@pytest.mark.skipif(_nvrtc() is None, reason="CuPy with a loadable NVRTC is not installed")
@pytest.mark.parametrize("real", ["float", "double"])
def test_kernel_sources_compile_with_nvrtc(real):
    """What CudaDevice compiles, compiled the same way (NVRTC), without needing a GPU."""
    src = gdev.source()
    for arch in ("compute_80", "compute_90"):             # without and with the cluster kernel
        ptx, _ = _nvrtc()(src, "kernels.cu").compile(("-std=c++17", f"-DWC_REAL={real}",
                                                       f"--gpu-architecture={arch}"))
        ptx = ptx.decode() if isinstance(ptx, bytes) else ptx
        for name in gdev.signatures(src):
            assert f".entry {name}(" in ptx, (arch, name)
    assert "barrier.cluster" in ptx


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
@pytest.mark.parametrize("real", ["float", "double"])
def test_kernel_sources_compile_with_nvcc(tmp_path, real):
    src = tmp_path / "kernels.cu"
    src.write_text(gdev.source())
    rc, _, err = run(["nvcc", "--ptx", f"-DWC_REAL={real}", "-std=c++17", str(src),
                      "-o", str(tmp_path / "k.ptx")], timeout=600)
    assert rc == 0, err
    ptx = (tmp_path / "k.ptx").read_text()
    for name in gdev.signatures(gdev.source()):
        assert f".entry {name}(" in ptx, name
    # Hopper: the cluster kernel's PTX (barrier.cluster, mapa) through ptxas
    rc, _, err = run(["nvcc", "--cubin", "-arch=sm_90", f"-DWC_REAL={real}", "-std=c++17", str(src),
                      "-o", str(tmp_path / "k.cubin")], timeout=600)
    assert rc == 0, err


def test_cli_trains_and_samples_on_gpu(dev, tmp_path, capsys):
    import soundfile as sf

    from wavecore.cli.main import main
    from wavecore.training.checkpoint import latest
    clip = tmp_path / "c.wav"
    sf.write(clip, (0.4 * np.sin(np.arange(2000) * 0.07)).astype(np.float32), 8000)
    out = str(tmp_path / "run")
    tiny = ["--layers", "3", "--stacks", "1", "--residual", "4", "--dilation", "4", "--skip", "8",
            "--sample-rate", "8000", "--window", "100", "--batch", "2"]
    assert main(["train", str(clip), "--out", out, *tiny, "--steps", "4", "--backend", "gpu"]) == 0
    assert "backend gpu" in capsys.readouterr().out
    assert main(["sample", latest(out), "--samples", "30", "--backend", "gpu", "--streams", "2",
                 "--out", str(tmp_path / "g.wav")]) == 0
    assert sf.info(tmp_path / "g_1.wav").frames == 30


@pytest.mark.skipif(gdev.compiler() is None, reason="no C++ compiler for the GPU emulator")
@pytest.mark.parametrize("order", ["reverse", "shuffle"])
def test_results_do_not_depend_on_thread_order(order, monkeypatch):
    """On the emulator a block's threads run between barriers in turn; in another order a
    missing barrier (a thread reading what another has not written yet) changes results."""
    monkeypatch.setenv("WAVECORE_GPU", "emulate")
    dev = gdev.get("emulate")
    net, p = sampler_model(gc_ids=3)
    kw = dict(streams=5, gc=[2, 0, 2, 1, 1], seed=4, temperature=0.8, return_logits=True,
              prime_classes=np.arange(9) % 11)
    cfg = WaveNetConfig(**ODD, dilations_override=(1, 2, 4), gc_ids=2, gc_channels=2)
    ref = WaveNet(cfg, np.float64, backend="numpy")
    x, q = random_batch(cfg, T=40, B=2, seed=3), ref.init_params(3)

    def run():
        g = CachedSampler(net, p, backend="gpu").generate(30, **kw)
        gc = CachedSampler(net, p, backend="gpu", gpu_kernel="cluster").generate(
            12, **{**kw, "streams": 2, "gc": [0, 2]})
        loss, grads, _, _ = GpuModel(ref, dev, graphs=False).loss_and_grads(q, x, np.array([1, 0]))
        return g, gc, loss, grads
    g0, c0, l0, gr0 = run()
    try:
        dev.set_order(order, seed=1)
        g1, c1, l1, gr1 = run()
    finally:
        dev.set_order("forward")
    for a, b in ((g1, g0), (c1, c0)):
        np.testing.assert_array_equal(a.classes, b.classes)
        np.testing.assert_array_equal(a.logits, b.logits)
    assert l1 == l0
    close(gr1, gr0, np.float64)                  # atomics may add in another order


def test_study_on_gpu_equals_study_on_numpy(dev, tmp_path):
    """The learn-and-forget study end to end (training, evaluation, renders, checkpoints; replay
    with in-order windows, EWC, the within-stage curves) on backend="gpu" gives the numbers of
    the NumPy reference (float64)."""
    from wavecore.analysis import clips
    from wavecore.study import Study, StudySettings
    cfg = WaveNetConfig(layers=3, stacks=1, residual_channels=4, dilation_channels=4,
                        skip_channels=8, classes=32, sample_rate=8000)
    two = [("chant", clips.get("chant", 8000, 0.1)), ("shriek", clips.get("shriek", 8000, 0.1))]
    metrics = {}
    for backend in ("numpy", "gpu"):
        train = TrainSettings(steps=10 ** 6, batch=2, window=200, lr=3e-3, schedule="constant",
                              warmup=3, checkpoint_every=0, dtype="float64", backend=backend,
                              order="in-order")
        st = StudySettings(steps_per_stage=8, check_every=4, timeline_every=0,
                           timeline_seconds=0.02, unprimed_seconds=0.03, prime=0.01,
                           render_seconds=0.09, train=train, curriculum="replay", replay=0.3,
                           ewc=5.0, ewc_positions=8, eval_every=3, eval_positions=64)
        out = tmp_path / backend
        metrics[backend] = Study(cfg, two, st, out_dir=str(out)).run(progress=False,
                                                                     log=lambda *a: None)
    a, b = metrics["numpy"], metrics["gpu"]
    np.testing.assert_allclose(b.bits, a.bits, rtol=1e-9)
    assert b.accuracy == a.accuracy
    np.testing.assert_allclose([p[2] for p in b.monitor], [p[2] for p in a.monitor], rtol=1e-9)
    assert [s["fisher_mean"] for s in b.curriculum.ewc.stages] == \
        pytest.approx([s["fisher_mean"] for s in a.curriculum.ewc.stages], rel=1e-9)
    assert [r.path for r in b.renders] == [r.path for r in a.renders]
    for r in a.renders:
        assert ((tmp_path / "gpu" / r.path).read_bytes()
                == (tmp_path / "numpy" / r.path).read_bytes())


@pytest.mark.skipif(not cpu_training_available(),
                    reason="the Cython training kernels are not built")
def test_float32_training_follows_the_cpu_path(dev):
    """float32 on the GPU and on the compiled CPU path: the same losses step by step, to
    float32 accuracy (GEMMs sum in different orders)."""
    cfg = WaveNetConfig(layers=4, stacks=2, residual_channels=8, dilation_channels=8,
                        skip_channels=16, classes=64)
    clip = (0.5 * np.sin(np.arange(3000) * 0.031)
            * np.sin(np.arange(3000) * 0.002)).astype(np.float32)
    logs = {}
    for backend in ("cpu", "gpu"):
        t = Trainer(cfg, [clip], TrainSettings(steps=15, batch=2, window=256, backend=backend,
                                               warmup=3, log_every=1))
        logs[backend] = [r["loss"] for r in t.train(progress=False)] + [t.evaluate(clip).bits]
    np.testing.assert_allclose(logs["gpu"], logs["cpu"], rtol=2e-4)


# A stand-in for libcublas with the real library's C signatures (cublas_api.h): column-major
# GEMMs that read raw pointers, check leading dimensions as cuBLAS does, and record the handle's
# stream, pointer mode and workspace. Loaded through the same ctypes binding as the real one.
FAKE_CUBLAS = r"""
#include <stddef.h>
typedef struct { void* stream; int mode, math; void* ws; size_t ws_bytes; } H;
static H h0;
int cublasCreate_v2(void** h) { h0.mode = -1; *h = &h0; return 0; }
int cublasSetStream_v2(H* h, void* s) { h->stream = s; h->ws = 0; return 0; }   /* resets it */
int cublasSetPointerMode_v2(H* h, int m) { h->mode = m; return 0; }
int cublasSetMathMode(H* h, int m) { h->math = m; return 0; }
int fake_math(void) { return h0.math; }
int cublasSetWorkspace_v2(H* h, void* p, size_t n) { h->ws = p; h->ws_bytes = n; return 0; }
const char* cublasGetStatusString(int s) { return s == 7 ? "CUBLAS_STATUS_INVALID_VALUE" : "?"; }
void* fake_stream(void) { return h0.stream; }
size_t fake_workspace(void) { return h0.ws ? h0.ws_bytes : 0; }
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define GEMM(NAME, T) \
int NAME(H* h, int ta, int tb, int m, int n, int k, const T* al, const T* A, int lda, \
         const T* B, int ldb, const T* be, T* C, int ldc) { \
  if (h->mode != 0 || !h->ws || lda < MAX(1, ta ? k : m) || ldb < MAX(1, tb ? n : k) \
      || ldc < MAX(1, m)) return 7; \
  for (int j = 0; j < n; j++) for (int i = 0; i < m; i++) { \
    double s = 0; \
    for (int p = 0; p < k; p++) \
      s += (double)(ta ? A[p + (size_t)i * lda] : A[i + (size_t)p * lda]) \
         * (double)(tb ? B[j + (size_t)p * ldb] : B[p + (size_t)j * ldb]); \
    T* c = &C[i + (size_t)j * ldc]; \
    *c = (T)(*al * s + (*be == 0 ? 0 : *be * *c));  /* beta 0: C is not read */ \
  } \
  return 0; }
GEMM(cublasSgemm_v2, float)
GEMM(cublasDgemm_v2, double)
"""


@pytest.fixture
def fake_cublas(tmp_path):
    import ctypes
    src = tmp_path / "fake_cublas.c"
    src.write_text(FAKE_CUBLAS)
    lib = tmp_path / "libfakecublas.so"
    rc, _, err = run([gdev.compiler(), "-x", "c", "-O1", "-fPIC", "-shared", str(src),
                      "-o", str(lib)], timeout=120)
    assert rc == 0, err
    return ctypes.CDLL(str(lib))


@pytest.mark.skipif(gdev.compiler() is None, reason="no C compiler for the stand-in cuBLAS")
def test_cuda_gemm_maps_row_major_onto_column_major_cublas(fake_cublas):
    """CudaDevice._gemm and the ctypes cuBLAS binding without a GPU: the stand-in library
    computes column-major GEMMs from raw pointers like cuBLAS, so the transposes, leading
    dimensions and one-row views the step uses, and the C signatures, are checked against NumPy."""
    import ctypes
    import types

    class Dev(np.ndarray):                                # an array with cupy's .data.ptr
        @property
        def data(self):
            return types.SimpleNamespace(ptr=self.ctypes.data)

    workspace = np.empty(1024, np.uint8)
    dev = object.__new__(gdev.CudaDevice)
    dev._blas = gcublas.Cublas(fake_cublas, workspace.ctypes.data, workspace.nbytes)
    stream = types.SimpleNamespace(ptr=0x5EED)
    dev.xp = types.SimpleNamespace(cuda=types.SimpleNamespace(get_current_stream=lambda: stream))
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        big = rng.standard_normal((40, 30)).astype(dtype)
        for ta in (False, True):
            for tb in (False, True):
                for beta in (0.0, 1.0):
                    m, n, k = 7, 5, 9
                    A = big[3:3 + (k if ta else m), 2:2 + (m if ta else k)]   # row views, ld = 30
                    Bm = big[10:10 + (n if tb else k), :(k if tb else n)]
                    C0 = rng.standard_normal((m, 12)).astype(dtype)[:, 4:4 + n]
                    want = (A.T if ta else A) @ (Bm.T if tb else Bm) + beta * C0
                    Cv = np.full((m, 12), np.nan if beta == 0 else 0, dtype)
                    Cv[:, 4:4 + n] = C0 if beta else np.nan     # beta 0: C's old values unread
                    out = Cv[:, 4:4 + n]                   # a column block: ld 12, like zcat
                    dev._gemm(A.view(Dev), Bm.view(Dev), out.view(Dev), ta, tb, beta)
                    tol = 1e-12 if dtype == np.float64 else 1e-5
                    np.testing.assert_allclose(out, want, rtol=tol, atol=tol,
                                               err_msg=f"{ta} {tb} {beta}")
                    rest = np.concatenate([Cv[:, :4], Cv[:, 4 + n:]], axis=1)
                    assert (np.isnan(rest) if beta == 0 else rest == 0).all()
        ones = np.ones(25, dtype)[None, :]                 # a one-row view (stride 0): colsum
        X = rng.standard_normal((25, 6)).astype(dtype)
        s = np.zeros(6, dtype)
        dev._gemm(ones.view(Dev), X.view(Dev), s.reshape(1, -1).view(Dev), False, False, 0.0)
        np.testing.assert_allclose(s, X.sum(axis=0), rtol=1e-5)
    # issued on the current stream, with our workspace set after the stream (which resets it)
    fake_cublas.fake_stream.restype = fake_cublas.fake_workspace.restype = ctypes.c_size_t
    assert fake_cublas.fake_stream() == 0x5EED and fake_cublas.fake_workspace() == workspace.nbytes
    dev.set_tf32(True)                                    # CUBLAS_TF32_TENSOR_OP_MATH
    assert fake_cublas.fake_math() == 3
    dev.set_tf32(False)
    assert fake_cublas.fake_math() == 0
    with pytest.raises(RuntimeError, match="cuBLAS status 7: CUBLAS_STATUS_INVALID_VALUE"):
        dev._blas.gemm(np.float32, False, False, 4, 4, 4, 1.0, 0, 2, 0, 4, 0.0, 0, 4)  # lda < m


@pytest.mark.skipif(gcublas.find() is None, reason="no libcublas on this machine")
def test_the_installed_cublas_has_the_functions_bound():
    import ctypes
    gcublas.bind(ctypes.CDLL(gcublas.find()))            # AttributeError names a missing one


def test_tf32_mode_exists_on_every_device(dev):
    """set_tf32 is part of the device interface (the emulator records the mode, computes in
    float32, and keeps graphs per mode like CUDA)."""
    net = WaveNet(WaveNetConfig(**ODD, layers=2, stacks=1), np.float32, backend="gpu")
    p = net.backend.to_device(net.init_params(0))
    x = random_batch(net.config, T=5, B=2)
    want, _ = net.loss_and_grads(p, Batch(x))
    try:
        net.backend.set_tf32(True)
        for _ in range(3):                                  # eager, captured, replayed
            got, _ = net.loss_and_grads(p, Batch(x))
        assert got == pytest.approx(want, rel=1e-3)
        assert ({mode for ws in net.backend.step_of(net)._ws.values() for mode in ws.graph}
                == {(True, True)})
    finally:
        net.backend.set_tf32(False)
