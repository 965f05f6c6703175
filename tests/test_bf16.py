"""bf16: the reference rounding on constructed values; the kernel's rounding and GEMM against
the float64 reference on odd shapes, with tolerances derived from bf16's significand and the
reduction length; the step against the bf16 reference; training on course (the demo's model,
the memorisation test); the cached sampler; which precision runs where; the record.

The one bf16 kernel path of this build is AVX512-BF16: its tests are skipped, saying so, on a
processor without it. (AMX tiles are not built: see wavecore/engine/precision.py.)"""
import dataclasses
import json

import numpy as np
import pytest
from conftest import memorise_chord, random_batch

from wavecore import Batch, WaveNet, WaveNetConfig
from wavecore.engine import precision
from wavecore.engine.backends import CpuBackend, NumpyBackend
from wavecore.engine.backends.gpu import GpuBackend
from wavecore.engine.kernels import cpu_kernel
from wavecore.engine.ops import bf16
from wavecore.engine.sampler import CachedSampler
from wavecore.training import Trainer
from wavecore.training.checkpoint import load

HAVE = cpu_kernel("bf16") is not None and precision.features()["avx512_bf16"]
needs_bf16 = pytest.mark.skipif(not HAVE, reason="this processor has no AVX512-BF16 (the one "
                                "bf16 kernel path of this build; AMX is not built)")

U = 2.0 ** -8        # bf16's unit roundoff: an 8-bit significand, rounded to nearest
U32 = 2.0 ** -24     # float32's, the accumulation's


def gamma(n, u=U32):
    """Higham's bound on the relative error of n roundings: n u / (1 - n u)."""
    return n * u / (1 - n * u)


# -- the reference's rounding --------------------------------------------------------------------
def test_reference_rounding_on_constructed_values():
    x = np.array([1.0, 1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, -(1 + 2**-8), 2.0**-126,
                  2.0**-127, -(2.0**-130), 3.4028235e38, np.inf, -np.inf, -0.0, 0.0, np.nan],
                 dtype=np.float32)
    want = [1.0, 1.0,                     # a tie: to the even neighbour 1.0
            1 + 2**-6,                    # a tie between 1 + 2^-7 (odd) and 1 + 2^-6 (even)
            1 + 2**-7,                    # just above the tie: up
            -1.0, 2.0**-126,              # the smallest normal is a bf16 value
            0.0, -0.0,                    # subnormals: signed zeros, as VCVTNE2PS2BF16 makes them
            np.inf, np.inf, -np.inf, -0.0, 0.0, np.nan]   # the largest float rounds up to inf
    r = bf16.round_bf16(x)
    np.testing.assert_array_equal(r, np.array(want, np.float32))
    assert np.signbit(r[7]) and np.signbit(r[11]) and not np.signbit(r[6])
    assert bf16.bits(np.float32(np.nan)) & 0x0040                      # a quiet NaN
    v = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
    rv = bf16.round_bf16(v)
    np.testing.assert_array_equal(bf16.round_bf16(rv), rv)            # bf16 values are fixed points
    assert np.all(np.abs(rv - v) <= U * np.abs(v))                     # within half an ulp
    assert np.all(bf16.bits(v) == (rv.view(np.uint32) >> 16))
    assert np.abs(rv - v).max() > 0.25 * U * np.abs(v).max()           # it does round
    assert bf16.round_bf16(v.astype(np.float64)).dtype == np.float64


def test_matmul_rounds_only_inside_the_context():
    a, b = np.float32([[1 + 2**-9]]), np.float32([[1.0]])
    assert bf16.matmul(a, b)[0, 0] == np.float32(1 + 2**-9)
    with bf16.rounding():
        assert bf16.matmul(a, b)[0, 0] == 1.0
        with bf16.rounding(False):
            assert bf16.matmul(a, b)[0, 0] == np.float32(1 + 2**-9)
    assert bf16.matmul(a, b)[0, 0] == np.float32(1 + 2**-9)


# -- the kernel against the reference ------------------------------------------------------------
@needs_bf16
@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 31, 32, 33, 100, 1027])
def test_kernel_rounding_is_the_reference_bit_for_bit(n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 10.0 ** rng.integers(-45, 39, n)).astype(np.float32)
    specials = np.float32([0, -0.0, 1e-40, -1e-40, np.inf, -np.inf, np.nan, 3.4028235e38,
                           1 + 2**-8, 1 + 3 * 2**-8])
    x = np.concatenate([specials[:n], x])[:n]
    np.testing.assert_array_equal(cpu_kernel("bf16").round_bits(x), bf16.bits(x))


SHAPES = [(1, 1, 1), (13, 17, 5), (37, 33, 64), (5, 70, 600), (100, 64, 1100), (12, 32, 2),
          (300, 16, 16), (7, 15, 3), (25, 47, 1025), (2, 3, 513)]


@needs_bf16
@pytest.mark.parametrize("M,N,K", SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_against_float64(M, N, K, ta, tb):
    """The kernel's op(A) op(B) + C against float64. Its operands are the reference's bf16
    roundings and products of two bf16 values are exact in fp32, so against the product of the
    rounded operands its only error is the fp32 accumulation of K products and C:
    |err| <= gamma_{K+1} (|Â||B̂| + |C|). Against the unrounded operands, each product also
    carries the operands' rounding, |âb̂ - ab| <= (2u + u²)|a||b| with u = 2^-8."""
    rng = np.random.default_rng(M * 1000 + N * 10 + K)
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    C = rng.standard_normal((M, N)).astype(np.float32)
    opA, opB = (A.T if ta else A).astype(np.float64), (B.T if tb else B).astype(np.float64)
    rA, rB = bf16.round_bf16(opA), bf16.round_bf16(opB)
    for beta in (0, 1):
        got = cpu_kernel("bf16").gemm(A, B, C.copy() if beta else None, ta=ta, tb=tb)
        c = C * beta
        bound = gamma(K + 1) * (np.abs(rA) @ np.abs(rB) + np.abs(c))
        assert np.all(np.abs(got - (rA @ rB + c)) <= bound)
        loose = (2 * U + U * U) * (np.abs(opA) @ np.abs(opB)) + bound * (1 + U) ** 2
        assert np.all(np.abs(got - (opA @ opB + c)) <= loose)


# -- the step --------------------------------------------------------------------------------------
CONFIGS = [
    dict(layers=5, stacks=2, residual_channels=24, dilation_channels=20, skip_channels=40,
         classes=64),
    dict(layers=3, stacks=2, residual_channels=7, dilation_channels=5, skip_channels=9, classes=13),
    dict(layers=4, stacks=1, residual_channels=33, dilation_channels=17, skip_channels=70,
         classes=37, gc_ids=3, gc_channels=4),
]


@needs_bf16
@pytest.mark.parametrize("kw", CONFIGS)
@pytest.mark.parametrize("threads", [1, 3])
def test_step_follows_the_bf16_reference(kw, threads):
    """Rounding is discontinuous: an fp32 activation a float64 one rounds across a bf16 boundary
    from moves an operand by an ulp, so the compiled bf16 step cannot match the float64 bf16
    reference as tightly as a GEMM does. It must match it better than fp32 arithmetic does:
    every block's gradient within half the fp32 step's distance from it (measured here: 0.02 to
    0.34 on the first config, below 0.05 on the others; a GEMM left unrounded gives about 1).
    Then a second step after the weights changed in place reads the new weights (their packing
    is renewed; stale weights would be far off)."""
    cfg = WaveNetConfig(**kw)
    x = random_batch(cfg, 333, 3)
    gc = np.array([0, 2, 1]) if cfg.gc_ids else None
    ref = WaveNet(cfg, np.float64, backend="numpy", precision="bf16")
    fp32 = WaveNet(cfg, np.float64, backend="numpy")
    net = WaveNet(cfg, np.float32, backend="cpu", precision="bf16", threads=threads)
    p = ref.init_params(0).astype(np.float32)
    for _ in range(2):
        p64 = p.astype(np.float64)
        (l0, g0), (l1, g1) = (ref.loss_and_grads(p64, Batch(x, gc)),
                              net.loss_and_grads(p, Batch(x, gc)))
        lf, gf = fp32.loss_and_grads(p64, Batch(x, gc))
        assert abs(l1 - l0) <= 0.5 * abs(lf - l0) + 1e-6 * l0
        for name, (o, s) in ref.offsets.items():
            sl = slice(o, o + int(np.prod(s)))
            assert np.linalg.norm(g1[sl] - g0[sl]) <= 0.5 * np.linalg.norm(gf[sl] - g0[sl]), name
        p *= np.float32(1.5)                                  # in place: the same buffer


@needs_bf16
def test_evaluate_follows_the_bf16_reference():
    cfg = WaveNetConfig(**CONFIGS[0])
    x = random_batch(cfg, 500, 2)
    ref = WaveNet(cfg, np.float64, backend="numpy", precision="bf16")
    net = WaveNet(cfg, np.float32, backend="cpu", precision="bf16")
    p = (ref.init_params(1) * 2).astype(np.float32)
    loss, nll, pred = net.evaluate(p, x)
    rloss, rnll, logits = ref.loss(p.astype(np.float64), x)
    assert abs(loss - rloss) < 1e-3 * rloss
    assert (pred == logits.argmax(-1)).mean() > 0.98


# -- training stays on course ----------------------------------------------------------------------
@needs_bf16
def test_memorises_a_chord_in_bf16():
    memorise_chord("cpu", "bf16")


@needs_bf16
def test_demo_model_300_steps_in_bf16_within_2_percent_of_fp32():
    """The demo's model and settings on song 1, 300 steps from the same seed in each precision:
    the mean training loss of the last 50 steps and the teacher-forced bits per sample after
    them agree within 2 %."""
    from wavecore.study.presets import demo_setup
    cfg, clips, st = demo_setup()
    out = {}
    for prec in ("fp32", "bf16"):
        tr = Trainer(cfg, [clips[0][1]], dataclasses.replace(st.train, precision=prec, steps=300))
        assert tr.net.precision == prec
        losses = [tr.train_step()["loss"] for _ in range(300)]
        out[prec] = np.mean(losses[-50:]), tr.evaluate(tr.clips[0]).bits
    for a, b in zip(out["bf16"], out["fp32"]):
        assert abs(a - b) < 0.02 * b, out


# -- the sampler ---------------------------------------------------------------------------------
def first_split(a, b, la, lb, U, temps):
    """Per stream: the first step where the classes a, b (n, B) differ, after checking that it
    is a legitimate split: the logits la, lb (n, B, A) agree up to there, and there the uniform
    lies within the logits' disagreement of a class boundary of the CDF (softmax(l / T) moves by
    at most 2 max|Δl| / T in total variation). None: the same classes throughout."""
    out = []
    for s in range(a.shape[1]):
        diff = np.flatnonzero(a[:, s] != b[:, s])
        if not len(diff):
            out.append(None)
            continue
        i = diff[0]
        scale = np.abs(lb[:i + 1, s]).max()
        assert np.abs(la[:i + 1, s] - lb[:i + 1, s]).max() <= 1e-5 * scale
        z = lb[i, s].astype(np.float64) / temps[s]
        cdf = np.cumsum(np.exp(z - z.max()))
        gap = np.abs(U[i, s] - cdf / cdf[-1]).min()
        assert gap <= 2 * np.abs(la[i, s] - lb[i, s]).max() / temps[s], (s, i, gap)
        out.append(i)
    return out


@needs_bf16
def test_cached_sampler_in_bf16_gives_the_numpy_samplers_classes():
    """The compiled sampler multiplies by its weights packed in bf16, the activations rounded
    alike (fp32 state); the NumPy sampler of a bf16 net rounds the same operands of the same
    products (wavecore.engine.ops.bf16). With the same uniforms they draw the same classes,
    until (if ever) a uniform falls within float32's disagreement of a class boundary: then
    the histories part, legitimately (first_split checks it). Most streams never part; the fp32
    sampler parts from the bf16 ones at once."""
    cfg = WaveNetConfig(layers=4, stacks=2, residual_channels=19, dilation_channels=13,
                        skip_channels=21, classes=37, gc_ids=2, gc_channels=3)
    fast = WaveNet(cfg, np.float32, backend="cpu", precision="bf16")
    slow = WaveNet(cfg, np.float32, backend="numpy", precision="bf16")
    p = (fast.init_params(1) * 3).astype(np.float32)
    n, temps = 600, [1.0, 0.7, 0.9, 0.6, 1.0, 0.8]
    U = np.random.default_rng(4).random((n, len(temps)))
    kw = dict(streams=len(temps), uniforms=U, temperature=temps, gc=1, return_logits=True)
    a = CachedSampler(fast, p, backend="cpu", threads=2).generate(n, **kw)
    b = CachedSampler(slow, p, backend="numpy").generate(n, **kw)
    splits = first_split(a.classes.T, b.classes.T, a.logits, b.logits, U, temps)
    assert sum(i is None for i in splits) >= len(temps) - 2, splits
    assert all(i is None or i >= 50 for i in splits), splits
    c = CachedSampler(WaveNet(cfg, np.float32, backend="cpu"), p, backend="cpu").generate(n, **kw)
    assert not np.array_equal(a.classes[:, :50], c.classes[:, :50])


# -- which precision runs, and the record ----------------------------------------------------------
def _machine(monkeypatch, avx512, amx=False, vendor="AMD"):
    monkeypatch.setattr(precision, "features",
                        lambda: {"avx512_bf16": avx512, "amx_bf16": amx, "vendor": vendor})


def test_resolve(monkeypatch):
    _machine(monkeypatch, True, vendor="AMD")
    assert CpuBackend().resolve_precision("auto", np.float32) == "bf16"
    assert CpuBackend().resolve_precision("auto", np.float64) == "fp32"
    assert NumpyBackend().resolve_precision("auto", np.float32) == "fp32"
    assert NumpyBackend().resolve_precision("bf16", np.float64) == "bf16"    # the emulation
    assert CpuBackend().resolve_precision("fp32", np.float32) == "fp32"
    _machine(monkeypatch, True, amx=True, vendor="Intel")
    assert CpuBackend().resolve_precision("auto", np.float32) == "fp32"      # half-rate VDPBF16PS
    assert CpuBackend().resolve_precision("bf16", np.float32) == "bf16"
    assert "AMX-BF16 present but not built" in precision.describe() or cpu_kernel("bf16") is None
    _machine(monkeypatch, False, amx=True, vendor="Intel")
    with pytest.raises(precision.PrecisionError, match="no AVX512-BF16.*AMX.*--precision fp32"):
        CpuBackend().resolve_precision("bf16", np.float32)
    assert CpuBackend().resolve_precision("auto", np.float32) == "fp32"
    with pytest.raises(precision.PrecisionError, match="float32 parameters"):
        CpuBackend().resolve_precision("bf16", np.float64)
    with pytest.raises(precision.PrecisionError, match="GPU backend runs fp32"):
        object.__new__(GpuBackend).resolve_precision("bf16", np.float32)
    with pytest.raises(precision.PrecisionError, match="unknown precision 'half'"):
        WaveNet(WaveNetConfig(**CONFIGS[1]), precision="half")


@needs_bf16
def test_checkpoint_records_the_precision_and_resume_keeps_it(tmp_path, monkeypatch):
    cfg = WaveNetConfig(**CONFIGS[1], sample_rate=8000)
    clip = np.sin(np.arange(3000) * 0.05).astype(np.float32) * 0.5
    st = dataclasses.replace(Trainer(cfg, [clip]).settings, precision="auto", steps=3, batch=2,
                             window=200, checkpoint_every=3, backend="cpu")
    Trainer(cfg, [clip], st, out_dir=tmp_path).train(progress=False)
    meta, _ = load(sorted(tmp_path.glob("ckpt-*.npz"))[-1])
    assert meta["precision"] == CpuBackend().resolve_precision("auto", np.float32)
    json.dumps(meta)
    _machine(monkeypatch, True, vendor="Intel")               # auto would be fp32 here now
    t = Trainer.resume(tmp_path, [clip], steps=4)
    assert t.net.precision == meta["precision"]
    if meta["precision"] == "bf16":
        _machine(monkeypatch, False)
        with pytest.raises(precision.PrecisionError, match="no AVX512-BF16"):
            Trainer.resume(tmp_path, [clip], steps=4)
        assert Trainer.resume(tmp_path, [clip], steps=4, precision="fp32").net.precision == "fp32"


def test_the_command_takes_precision_and_says_the_path(tmp_path, capsys, monkeypatch):
    """--precision on train (recorded in the checkpoint) and on study (the plan is timed in it
    and says so); `wavecore info` names the bf16 path; bf16 where it cannot run is one line."""
    from test_cli import MODEL, one_line, wavs

    from wavecore.cli.main import main
    from wavecore.training.checkpoint import latest
    assert main(["info"]) == 0
    assert f"{'bf16 path':>22}: {precision.describe()}" in capsys.readouterr().out.splitlines()
    paths, out = wavs(tmp_path, 1), str(tmp_path / "run")
    assert main(["train", *paths, "--out", out, *MODEL, "--steps", "2", "--window", "200",
                 "--precision", "auto", "--checkpoint-every", "2"]) == 0
    meta, _ = load(latest(out))
    assert meta["precision"] == CpuBackend().resolve_precision("auto", np.float32)
    capsys.readouterr()
    assert main(["study", *paths, "--out", str(tmp_path / "s"), *MODEL, "--plan",
                 "--precision", meta["precision"]]) == 0
    assert f"in {meta['precision']} (" in capsys.readouterr().out
    assert main(["study", *paths, "--out", str(tmp_path / "s"), *MODEL, "--plan"]) == 0
    hint = [s for s in capsys.readouterr().out.splitlines() if s.startswith("bf16      ")]
    assert len(hint) == (meta["precision"] == "bf16")          # fp32 where auto would pick bf16
    _machine(monkeypatch, False, vendor="other")
    assert main(["train", *paths, "--out", str(tmp_path / "r2"), *MODEL, "--steps", "1",
                 "--precision", "bf16"]) == 1
    assert "no AVX512-BF16" in one_line(capsys.readouterr().err)


@needs_bf16
def test_sample_renders_in_the_checkpoints_precision(tmp_path, capsys):
    """`wavecore sample` renders a bf16 run's checkpoint with the bf16 sampler unless told
    otherwise; the same seed in fp32 renders other classes."""
    import soundfile as sf
    from test_cli import MODEL, wavs

    from wavecore.cli.main import main
    paths, out = wavs(tmp_path, 1), str(tmp_path / "run")
    assert main(["train", *paths, "--out", out, *MODEL, "--steps", "20", "--window", "200",
                 "--precision", "bf16", "--checkpoint-every", "20"]) == 0
    renders = {}
    for prec in (None, "bf16", "fp32"):
        wav = str(tmp_path / f"{prec}.wav")
        assert main(["sample", out, "--samples", "400", "--temperature", "0.8", "--out", wav]
                    + ([] if prec is None else ["--precision", prec])) == 0
        renders[prec] = sf.read(wav)[0]
    np.testing.assert_array_equal(renders[None], renders["bf16"])
    assert not np.array_equal(renders["bf16"], renders["fp32"])
