"""The command never silently ignores what it was told: defaults from the settings dataclasses,
zero values refused or meaning what they say, `train --resume` applying or refusing each flag,
unwritable outputs named, legal but useless input named, and SIGTERM saving a checkpoint that
resumes exactly, during `train` and during `study`."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import cli, spawned

from wavecore.analysis import clips as builtin
from wavecore.cli.main import build_parser, main
from wavecore.study import StudySettings, demo_setup
from wavecore.training import Trainer, TrainSettings
from wavecore.training.checkpoint import latest, list_checkpoints, load

MODEL = ["--layers", "3", "--stacks", "1", "--residual", "8", "--dilation", "8", "--skip", "16",
         "--sample-rate", "8000"]


def wavs(d, n=2, seconds=0.5):
    paths = []
    for i, name in enumerate(("chant", "shriek", "breakbeat")[:n]):
        p = os.path.join(d, f"{i}_{name}.wav")
        sf.write(p, builtin.get(name, 8000, seconds), 8000)
        paths.append(p)
    return paths


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_defaults_come_from_the_settings_dataclasses():
    p = build_parser()
    a = p.parse_args(["train", "x.wav", "--out", "o"])
    assert all(getattr(a, k) is None for k in ("steps", "batch", "window", "lr", "layers"))
    text = p._subparsers._group_actions[0].choices["train"].format_help()
    d = TrainSettings()
    assert f"default {d.steps}" in text and f"default {d.lr}" in text
    study_help = p._subparsers._group_actions[0].choices["study"].format_help()
    assert f"default {StudySettings().memorised_accuracy}" in study_help
    assert "default: the demo's" in p._subparsers._group_actions[0].choices["demo"].format_help()
    # the demo's values live in demo_setup only: flags left out keep them
    from wavecore.cli.main import study_settings
    _, _, demo = demo_setup()
    got = study_settings(p.parse_args(["demo"]), demo)
    assert got == demo
    got = study_settings(p.parse_args(["demo", "--batch", "7", "--memorised", "0.5"]), demo)
    assert (got.train.batch == 7 and got.memorised_accuracy == 0.5
            and got.steps_per_stage == demo.steps_per_stage)


@pytest.mark.parametrize("argv,flag", [
    (["sample", "ck", "--out", "x.wav", "--seconds", "0"], "--seconds: must be > 0"),
    (["sample", "ck", "--out", "x.wav", "--samples", "0"], "--samples: must be >= 1"),
    (["study", "a.wav", "--steps-per-stage", "0"], "--steps-per-stage: must be >= 1"),
    (["study", "a.wav", "--memorised", "1.5"], "--memorised: must be <= 1"),
    (["train", "a.wav", "--out", "o", "--batch", "0"], "--batch: must be >= 1"),
    (["demo", "--lr", "0"], "--lr: must be > 0"),
])
def test_zero_and_out_of_range_values_are_errors_naming_the_flag(argv, flag, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and flag in one_line(capsys.readouterr().err)


def test_memorised_zero_means_what_it_says(tmp_path, capsys):
    """Accuracy >= 0 holds at the first check: stage 1 ends after check_every steps."""
    out = str(tmp_path / "st")
    assert main(["study", *wavs(tmp_path, 1), "--out", out, *MODEL, "--memorised", "0",
                 "--steps-per-stage", "500", "--window", "200", "--timeline-every", "0",
                 "--temperatures", "0.7"]) == 0
    (stage,) = json.load(open(os.path.join(out, "metrics.json")))["stages"]
    assert (stage["steps"], stage["ended"]) == (StudySettings().check_every, "memorised")


def test_resume_refuses_model_flags_and_applies_training_flags(tmp_path, capsys):
    paths = wavs(tmp_path)
    out = str(tmp_path / "run")
    assert main(["train", *paths, "--out", out, *MODEL, "--steps", "6", "--window", "200",
                 "--schedule", "cosine"]) == 0
    for flag, value in (("--layers", "5"), ("--skip", "32"), ("--seed", "3"),
                        ("--condition", None)):
        capsys.readouterr()
        assert main(["train", *paths, "--out", out, "--resume", flag,
                     *([value] if value else [])]) == 1
        line = one_line(capsys.readouterr().err)
        assert line.startswith(f"wavecore train: error: {flag}:"), line
    assert load(latest(out))[0]["step"] == 6                    # nothing trained
    capsys.readouterr()
    assert main(["train", *paths, "--out", out, "--resume", "--steps", "10", "--lr", "0.001",
                 "--batch", "3", "--checkpoint-minutes", "5"]) == 0
    text = capsys.readouterr().out
    assert "--lr 0.001 (was 0.002)" in text and "--batch 3 (was 4)" in text
    assert "--steps 10 (was 6): the cosine schedule now ends at step 10" in text
    meta = load(latest(out))[0]
    assert meta["step"] == 10
    assert (meta["settings"]["lr"], meta["settings"]["batch"], meta["settings"]["steps"],
            meta["settings"]["checkpoint_minutes"]) == (0.001, 3, 10, 5.0)
    assert main(["train", *paths, "--out", out, "--resume", "--steps", "8"]) == 1
    assert "--steps 8: the run" in one_line(capsys.readouterr().err)


def test_resume_without_steps_goes_on_to_the_planned_total(tmp_path, capsys):
    paths = wavs(tmp_path)
    out = str(tmp_path / "run")
    t = Trainer(__import__("wavecore").WaveNetConfig(layers=3, stacks=1, residual_channels=8,
                                                     dilation_channels=8, skip_channels=16,
                                                     sample_rate=8000),
                paths, TrainSettings(steps=9, window=200, batch=2), out_dir=out)
    t.train(4, progress=False)                                 # stopped early, e.g. by Ctrl-C
    assert main(["train", *paths, "--out", out, "--resume"]) == 0
    assert "at step 4 of 9" in capsys.readouterr().out
    assert load(latest(out))[0]["step"] == 9


def test_unwritable_outputs_are_named(tmp_path, capsys):
    paths = wavs(tmp_path, 1)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["train", *paths, "--out", str(blocker / "run"), *MODEL, "--steps", "1"]) == 1
    assert f"cannot write {blocker / 'run'}: Not a directory" in one_line(capsys.readouterr().err)
    out = str(tmp_path / "run")
    assert main(["train", *paths, "--out", out, *MODEL, "--steps", "1", "--window", "100"]) == 0
    capsys.readouterr()
    assert main(["sample", out, "--samples", "10", "--out", str(tmp_path / "none" / "x.wav")]) == 1
    line = one_line(capsys.readouterr().err)
    assert line == (f"wavecore sample: error: cannot write {tmp_path / 'none' / 'x.wav'}: "
                    "No such file or directory")
    assert not any(".tmp-" in f for f in os.listdir(tmp_path))


def test_truncated_and_silent_clips_are_named(tmp_path):
    (good,) = wavs(tmp_path, 1)
    data = open(good, "rb").read()
    cut = str(tmp_path / "cut.wav")
    open(cut, "wb").write(data[:len(data) * 3 // 4])
    silent = str(tmp_path / "silent.wav")
    sf.write(silent, np.zeros(4000, np.float32), 8000)
    rc, _, err = cli("train", cut, "--out", tmp_path / "a", *MODEL, "--steps", "1",
                     "--window", "100")
    assert rc == 0
    warning = [ln for ln in err.splitlines() if "warning" in ln]
    held = sf.info(cut).frames                                  # what libsndfile finds
    assert held < 4000
    assert warning == [f"wavecore train: warning: {cut}: truncated: its header says 4000 frames "
                       f"(0.500 s), the file holds {held} ({held / 8000:.3f} s); using those"]
    rc, _, err = cli("train", good, silent, "--out", tmp_path / "b", *MODEL, "--steps", "1")
    assert rc == 1 and f"{silent}: silent throughout" in one_line(err)
    assert not os.path.exists(tmp_path / "b" / "train.jsonl")


def _wait_for(path, timeout=60):
    t0 = time.time()
    while not os.path.exists(path):
        assert time.time() - t0 < timeout, f"{path} never appeared"
        time.sleep(0.02)


def test_sigterm_during_train_saves_the_last_step_and_resumes_exactly(tmp_path):
    paths = wavs(tmp_path)
    args = [*paths, *MODEL, "--window", "400", "--schedule", "constant", "--threads", "2"]
    out = str(tmp_path / "run")
    with spawned([sys.executable, "-m", "wavecore.cli", "train", *args, "--out", out,
                  "--steps", "100000", "--checkpoint-every", "0"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as p:
        _wait_for(os.path.join(out, "train.jsonl"))
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    line = one_line(err)
    assert p.returncode == 143, err
    step = load(latest(out))[0]["step"]
    assert step >= 10 and line == (f"wavecore train: terminated (SIGTERM); progress saved at step "
                                   f"{step} ({latest(out)}); --resume continues")
    logged = [json.loads(x)["step"] for x in open(os.path.join(out, "train.jsonl"))]
    assert step >= logged[-1]                                   # the last completed step
    total = step + 3
    assert cli("train", "--out", out, "--resume", "--steps", total, *paths)[0] == 0
    straight = str(tmp_path / "straight")
    assert cli("train", *args, "--out", straight, "--steps", total)[0] == 0
    a, b = load(latest(out))[1], load(latest(straight))[1]
    for k in ("params", "adam_m", "adam_v"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_sigterm_during_study_saves_inside_the_stage_and_resumes_exactly(tmp_path):
    paths = wavs(tmp_path, 2, seconds=0.25)
    args = [*paths, *MODEL, "--fixed", "--steps-per-stage", "150", "--later-steps", "20",
            "--window", "400", "--timeline-every", "10", "--temperatures", "0.7", "--threads", "2"]
    out = str(tmp_path / "cut")
    with spawned([sys.executable, "-m", "wavecore.cli", "study", *args, "--out", out],
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as p:
        _wait_for(os.path.join(out, "timeline", "0_chant_stage1_T0.7_step30.wav"))
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    ck = latest(os.path.join(out, "checkpoints"))
    meta = load(ck)[0]
    assert 30 <= meta["step"] < 150 and meta["extra"]["stage"]["stage"] == 1   # inside stage 1
    assert one_line(err) == (f"wavecore study: terminated (SIGTERM); progress saved at step "
                             f"{meta['step']} ({ck}); --resume continues")
    rc, text, err = cli("study", *args, "--out", out, "--resume", timeout=300)
    assert rc == 0, err
    assert f"resuming stage 1 at step {meta['step']}" in text
    full = str(tmp_path / "full")
    assert cli("study", *args, "--out", full, timeout=300)[0] == 0
    a, b = (json.load(open(os.path.join(d, "metrics.json"))) for d in (out, full))
    for M in (a, b):
        for s in M["stages"]:
            s.pop("seconds")
            s.pop("time")                    # wall times
    assert a == b
    assert [os.path.basename(c)
            for c in list_checkpoints(os.path.join(out, "checkpoints"))][-2:] == \
        ["ckpt-00000150.npz", "ckpt-00000170.npz"]


def test_info_says_which_gpu_path_is_here(capsys):
    """CuPy and CUDA found (or why not), the device, whether the kernels compile: as JSON, and
    as one line."""
    assert main(["info", "--gpu", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"cupy", "cuda_runtime", "cuda_driver", "device", "kernels",
            "summary"} <= set(info["gpu"])
    assert info["gpu"]["summary"].startswith(("CuPy not importable", "CuPy "))
    assert main(["info", "--gpu"]) == 0
    line = [s for s in capsys.readouterr().out.splitlines() if s.strip().startswith("gpu:")]
    assert line == [f"{'gpu':>22}: {info['gpu']['summary']}"]
