"""Trainer, checkpoints, exact resume, the NaN guard, kills, and the CLI end to end."""
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import cli, spawned

from wavecore import WaveNetConfig
from wavecore.cli.main import main
from wavecore.training import Trainer, TrainingError, TrainSettings
from wavecore.training.checkpoint import CheckpointError, latest, list_checkpoints, load

CFG = WaveNetConfig(layers=4, stacks=1, residual_channels=8, dilation_channels=8,
                    skip_channels=16, sample_rate=8000)


def clips():
    t = np.arange(4000) / 8000
    return [(0.4 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t)).astype(np.float32),
            (0.3 * np.sign(np.sin(2 * np.pi * 110 * t))).astype(np.float32)]


def settings(**kw):
    return TrainSettings(**{**dict(steps=30, batch=2, window=300, lr=3e-3, warmup=5,
                                   checkpoint_every=10, log_every=5, threads=2), **kw})


def test_exact_resume_is_bit_identical(tmp_path):
    straight = Trainer(CFG, clips(), settings(), out_dir=tmp_path / "a")
    straight.train(progress=False)
    part = Trainer(CFG, clips(), settings(), out_dir=tmp_path / "b")
    part.train(12, progress=False)
    del part
    resumed = Trainer.resume(tmp_path / "b", clips())
    assert resumed.step == 12
    resumed.train(progress=False)
    np.testing.assert_array_equal(resumed.params, straight.params)
    np.testing.assert_array_equal(resumed.opt.v, straight.opt.v)
    assert [os.path.basename(p) for p in list_checkpoints(tmp_path / "b")] == \
        ["ckpt-00000012.npz", "ckpt-00000020.npz", "ckpt-00000030.npz"]


def test_resume_refuses_other_clips(tmp_path):
    t = Trainer(CFG, clips(), settings(steps=3), out_dir=tmp_path)
    t.train(progress=False)
    with pytest.raises(CheckpointError, match="clips given differ"):
        Trainer.resume(tmp_path, clips()[::-1])


def test_nan_gradient_never_reaches_the_weights(tmp_path):
    t = Trainer(CFG, clips(), settings(max_bad_steps=2), out_dir=tmp_path)
    t.train(3, progress=False)
    real = t.net.loss_and_grads

    def poisoned(params, x):
        loss, g = real(params, x)
        g[7] = np.nan
        return loss, g
    t.net.loss_and_grads = poisoned
    before, m_before = t.params.copy(), t.opt.m.copy()
    rec = t.train_step()
    assert rec["skipped"] and t.skipped == 1
    np.testing.assert_array_equal(t.params, before)
    np.testing.assert_array_equal(t.opt.m, m_before)
    with pytest.raises(TrainingError, match="consecutive steps had a non-finite"):
        t.train(20, progress=False)
    meta, arrays = load(latest(tmp_path))
    assert np.all(np.isfinite(arrays["params"]))


def test_truncated_and_bitflipped_checkpoints_are_refused(tmp_path):
    t = Trainer(CFG, clips(), settings(steps=2), out_dir=tmp_path)
    t.train(progress=False)
    good = latest(tmp_path)
    data = open(good, "rb").read()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0x10
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    for name in ("trunc.npz", "flip.npz"):
        with pytest.raises(CheckpointError, match=f"{name}.*(truncated|corrupted|checksum)"):
            load(tmp_path / name)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load(tmp_path / "missing.npz")


def test_evaluate_reports_bits_accuracy_and_trace():
    t = Trainer(CFG, clips(), settings())
    m = t.evaluate(t.clips[1])
    assert m.nll.shape == (4000,) and 0 <= m.accuracy <= 1
    assert m.bits == pytest.approx(m.nll.mean())
    assert m.bits > 6                          # untrained: close to log2(256) = 8


def write_clips(d):
    paths = []
    for i, c in enumerate(clips()):
        p = os.path.join(d, f"clip{i}.wav")
        sf.write(p, c, 8000)
        paths.append(p)
    return paths


TINY = ["--layers", "4", "--stacks", "1", "--residual", "8", "--dilation", "8", "--skip", "16",
        "--sample-rate", "8000", "--window", "300", "--batch", "2", "--threads", "2"]


def test_cli_train_info_sample_resume(tmp_path, capsys):
    paths = write_clips(tmp_path)
    out = str(tmp_path / "run")
    assert main(["train", *paths, "--out", out, *TINY, "--steps", "12",
                 "--checkpoint-every", "5"]) == 0
    assert main(["info", latest(out)]) == 0
    text = capsys.readouterr().out
    assert "receptive field: 17 samples" in text and "step: 12" in text and "clip clip0" in text
    assert main(["sample", out, "--seconds", "0.1", "--temperature", "0.6", "--streams", "2",
                 "--out", str(tmp_path / "s.wav")]) == 0
    assert sf.info(tmp_path / "s_1.wav").frames == 800
    assert main(["sample", latest(out), "--samples", "50", "--wav_seed", paths[0],
                 "--out", str(tmp_path / "p.wav")]) == 0
    assert main(["train", *paths, "--out", out, "--steps", "15", "--resume"]) == 0
    assert load(latest(out))[0]["step"] == 15


@pytest.mark.parametrize("argv,match", [
    (["sample", "nope.npz", "--out", "x.wav"], "no such checkpoint"),
    (["train", "missing.wav", "--out", "o"], "missing.wav: no such file"),
    (["info", "--layers", "0"], "--layers: must be >= 1, got 0"),
    (["sample", "x", "--out", "y", "--temperature", "abc"], "--temperature: expected a number"),
])
def test_cli_bad_input_one_line_no_traceback(tmp_path, argv, match):
    rc, _, err = cli(*argv, cwd=tmp_path)
    assert rc != 0
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and re.search(match, err)


def test_sigkill_during_training_and_checkpoint_writes(tmp_path):
    """Kill a training process at several moments (some inside checkpoint writes, which happen
    every step here); every checkpoint left must load and the run must resume."""
    paths = write_clips(tmp_path)
    out = str(tmp_path / "run")
    base = [sys.executable, "-m", "wavecore.cli", "train", *paths, "--out", out]
    first = [*TINY, "--residual", "32", "--dilation", "32", "--skip", "128", "--steps", "100000",
             "--checkpoint-every", "1", "--keep", "2"]
    for delay in (1.5, 2.0, 2.7):
        # a resumed run keeps its model and goes on to its planned total
        with spawned(base + (["--resume"] if latest(out) else first),
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as p:
            t0 = time.time()
            while latest(out) is None and time.time() - t0 < 60:
                time.sleep(0.05)
            time.sleep(delay)
            p.send_signal(signal.SIGKILL)
            p.wait()
        for ck in list_checkpoints(out):
            meta, arrays = load(ck)                   # every visible checkpoint is whole
            assert np.all(np.isfinite(arrays["params"]))
    step = load(latest(out))[0]["step"]
    t = Trainer.resume(out, [p for p in paths])
    assert t.step == step
    t.train(step + 2, progress=False)
    assert t.step == step + 2


def test_ctrl_c_saves_a_checkpoint_and_resume_continues(tmp_path):
    paths = write_clips(tmp_path)
    out = str(tmp_path / "run")
    with spawned([sys.executable, "-m", "wavecore.cli", "train", *paths, "--out", out, *TINY,
                  "--steps", "100000", "--checkpoint-every", "100000"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as p:
        t0 = time.time()
        while not os.path.exists(os.path.join(out, "train.jsonl")) and time.time() - t0 < 60:
            time.sleep(0.05)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "progress saved" in err and "Traceback" not in err
    meta, _ = load(latest(out))
    assert meta["step"] > 10                       # saved at the interrupted step, not step 0
    t = Trainer.resume(out, paths)
    assert t.step == meta["step"]


def test_conditioned_training_and_sampling(tmp_path, capsys):
    paths = write_clips(tmp_path)
    out = str(tmp_path / "gc")
    assert main(["train", *paths, "--out", out, *TINY, "--steps", "6", "--condition"]) == 0
    meta, _ = load(latest(out))
    assert meta["config"]["gc_ids"] == 2
    assert main(["sample", out, "--samples", "40", "--out", str(tmp_path / "g.wav")]) == 1
    assert "--gc" in capsys.readouterr().err
    assert main(["sample", out, "--samples", "40", "--gc", "1",
                 "--out", str(tmp_path / "g.wav")]) == 0
    t = Trainer.resume(out, paths)
    m0, m1 = t.evaluate(t.clips[0]), t.evaluate(t.clips[0], gc=1)
    assert m0.bits != m1.bits                  # the id changes what the model predicts


@pytest.mark.parametrize("where", ["mid-step", "inside the update"])
def test_interrupt_anywhere_in_a_step_resumes_exactly(tmp_path, where):
    """Ctrl-C in the middle of step 8: before the update, the step is dropped (its window
    draw rewound); inside the update, the signal is held until the step is committed. Either
    way the saved run resumes to the parameters of an uninterrupted one."""
    import signal as sig
    straight = Trainer(CFG, clips(), settings(steps=12), out_dir=tmp_path / "a")
    straight.train(progress=False)
    t = Trainer(CFG, clips(), settings(steps=12, checkpoint_every=0), out_dir=tmp_path / "b")
    t.train(7, progress=False)
    if where == "mid-step":
        real = t.net.loss_and_grads

        def interrupted(params, batch):
            real(params, batch)
            raise KeyboardInterrupt
        t.net.loss_and_grads = interrupted
    else:
        real = t.opt.step

        def interrupted(*a, **kw):
            sig.raise_signal(sig.SIGINT)          # arrives while the update runs
            return real(*a, **kw)
        t.opt.step = interrupted
    with pytest.raises(KeyboardInterrupt):
        t.train(progress=False)
    assert load(latest(tmp_path / "b"))[0]["step"] == (7 if where == "mid-step" else 8)
    resumed = Trainer.resume(tmp_path / "b", clips())
    resumed.train(progress=False)
    np.testing.assert_array_equal(resumed.params, straight.params)


def test_checkpoints_by_time_as_well_as_by_steps(tmp_path, monkeypatch):
    """checkpoint_minutes bounds the work a kill can lose: a checkpoint once that much time has
    passed since the last one, whatever checkpoint_every says (a clock that jumps 4 minutes a
    step stands in for slow steps)."""
    import wavecore.training.trainer as train_mod
    clock = [0.0]

    def monotonic():
        clock[0] += 60.0 * 4
        return clock[0]
    monkeypatch.setattr(train_mod.time, "monotonic", monotonic)
    t = Trainer(CFG, clips(), settings(steps=6, checkpoint_every=0, checkpoint_minutes=10, keep=10),
                out_dir=tmp_path)
    t.train(progress=False)
    # saved at the first step after 10 minutes (each step reads the clock once: 4 min a step)
    assert [load(p)[0]["step"] for p in list_checkpoints(tmp_path)] == [3, 6]
    t2 = Trainer(CFG, clips(), settings(steps=4, checkpoint_every=0, checkpoint_minutes=0, keep=10),
                 out_dir=tmp_path / "b")
    t2.train(progress=False)
    assert [load(p)[0]["step"] for p in list_checkpoints(tmp_path / "b")] == [4]   # only at the end
