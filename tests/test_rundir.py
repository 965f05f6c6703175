"""An output directory belongs to one run: each case through the real command in a subprocess
(the second of two runs refuses at once, naming the holder; SIGKILL frees the lock; a fresh
run into a used directory refuses, or moves the old run aside; retention keeps other runs'
checkpoints), the flock-less fallback, and a second job under mpiexec."""
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import cli, run, spawned
from test_distributed import MPIEXEC, needs_mpi

from wavecore.training import Trainer, TrainSettings, rundir
from wavecore.training.checkpoint import latest, list_checkpoints, load, run_of

MODEL = ["--layers", "3", "--stacks", "1", "--residual", "8", "--dilation", "8", "--skip", "16",
         "--sample-rate", "8000", "--window", "200", "--threads", "1"]
CLI = [sys.executable, "-m", "wavecore.cli"]


@pytest.fixture
def clip(tmp_path):
    import soundfile as sf

    from wavecore.analysis import clips
    p = str(tmp_path / "chant.wav")
    sf.write(p, clips.get("chant", 8000, 0.5), 8000)
    return p


def _held(out, timeout=60):
    """Wait until a process holds ``out`` (its lock file names it)."""
    path = os.path.join(out, rundir.LOCK)
    t0 = time.time()
    while not (os.path.exists(path) and os.path.getsize(path) > 0):
        assert time.time() - t0 < timeout, f"{out} was never locked"
        time.sleep(0.02)
    return json.load(open(path))


def _long(cmd, out, clip, *more):
    """A run that goes on until it is stopped."""
    if cmd == "train":
        args = ["train", clip, "--out", out, *MODEL, "--steps", "1000000",
                "--checkpoint-every", "50", *more]
    else:
        args = ["study", clip, "--out", out, *MODEL, "--fixed", "--steps-per-stage", "1000000",
                "--timeline-every", "0", *more]
    return spawned([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _refused(out, code, err, t):
    line = err.strip()
    assert code == 1 and "\n" not in line, err
    assert t < 10, f"took {t:.1f} s"        # at once: the time is the interpreter's start
    return line


@pytest.mark.parametrize("first,second",
                         [("train", "train"), ("study", "study"), ("train", "resume")])
def test_a_second_run_refuses_while_the_first_holds_the_directory(tmp_path, clip, first, second):
    out = str(tmp_path / "same")
    with _long(first, out, clip) as p:
        holder = _held(out)
        assert holder["pid"] == p.pid and holder["command"] == f"wavecore {first}"
        if first == "train":
            while not latest(out):
                time.sleep(0.02)
        t0 = time.time()
        args = {"train": ["train", clip, "--out", out, *MODEL, "--steps", "20", "--seed", "5"],
                "study": ["study", clip, "--out", out, *MODEL, "--steps-per-stage", "5"],
                "resume": ["train", clip, "--out", out, "--resume"]}[second]
        code, _, err = cli(*args)
        line = _refused(out, code, err, time.time() - t0)
        since = time.strftime("%H:%M", time.localtime(holder["started"]))
        assert line.endswith(f"error: {out} is in use by wavecore {first} (pid {p.pid} on "
                             f"{holder['host']}, since {since}); "
                             "wait for it, or choose another --out"), line
        assert p.poll() is None                                  # the first goes on
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
        assert p.returncode == 143, err
    if first == "train":                                         # its checkpoints and log its own
        runs = {run_of(c) for c in list_checkpoints(out)}
        logged = {json.loads(x)["run"] for x in open(os.path.join(out, "train.jsonl"))}
        assert len(runs) == 1 and runs == logged and None not in runs
        assert all(load(c)[0]["settings"]["seed"] == 0 for c in list_checkpoints(out))
    assert os.path.getsize(os.path.join(out, rundir.LOCK)) == 0    # released, holder cleared


def test_sigkill_frees_the_lock_and_resume_goes_on_exactly(tmp_path, clip):
    out, straight = str(tmp_path / "run"), str(tmp_path / "straight")
    args = [clip, *MODEL, "--schedule", "constant", "--checkpoint-every", "7"]
    with spawned([*CLI, "train", *args, "--out", out, "--steps", "1000000"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as p:
        _held(out)
        while not latest(out) or load(latest(out))[0]["step"] < 14:
            time.sleep(0.02)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    step = load(latest(out))[0]["step"]
    t0 = time.time()
    code, text, err = cli("train", clip, "--out", out, "--resume", "--steps", step + 5)
    assert code == 0, err
    assert text.startswith(f"resuming {os.path.join(out, f'ckpt-{step:08d}.npz')} at step {step}")
    assert cli("train", *args, "--out", straight, "--steps", step + 5)[0] == 0
    a, b = load(latest(out))[1], load(latest(straight))[1]
    for k in ("params", "adam_m", "adam_v"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert time.time() - t0 < 120


def test_a_fresh_run_into_a_used_directory_refuses_or_moves_the_old_run_aside(tmp_path, clip):
    out = str(tmp_path / "same")
    assert cli("train", clip, "--out", out, *MODEL, "--steps", "30",
               "--checkpoint-every", "10")[0] == 0
    old = latest(out)
    code, _, err = cli("train", clip, "--out", out, *MODEL, "--steps", "20")
    line = _refused(out, code, err, 0)
    assert line.endswith(f"{out} holds a run at step 30 on chant (1x3 layers, R=8 D=8 S=16 A=256, "
                         "receptive field 9 samples (1.1 ms at 8000 Hz)); "
                         "continue it with --resume, train into another --out, "
                         "or pass --overwrite to move it aside"), line
    assert latest(out) == old and len(list_checkpoints(out)) == 3          # nothing touched
    code, text, err = cli("train", clip, "--out", out, *MODEL, "--steps", "20", "--overwrite")
    assert code == 0, err
    moved = text.split(" aside, to ")[1].split("\n")[0]
    assert (os.path.dirname(moved) == str(tmp_path)
            and os.path.basename(moved).startswith("same.replaced-"))
    meta, _ = load(latest(moved))                                         # the old run still loads
    assert meta["step"] == 30 and len(list_checkpoints(moved)) == 3
    assert [load(c)[0]["step"] for c in list_checkpoints(out)] == [20]
    assert cli("train", clip, "--out", moved, "--resume", "--steps", "35")[0] == 0   # and resumes
    code, _, err = cli("train", clip, "--out", out, "--resume", "--overwrite")
    assert code == 1 and "--overwrite: --resume continues the run in --out" in err


def test_retention_prunes_only_the_runs_own_checkpoints(tmp_path):
    """An older run's checkpoints in the directory (written by the API, which does not refuse):
    a new run's retention keeps them and every checkpoint of its own it should keep."""
    out = str(tmp_path)
    x = [np.sin(np.arange(2000) / 9.0).astype(np.float32)]
    from wavecore import WaveNetConfig
    cfg = WaveNetConfig(layers=3, stacks=1, residual_channels=8, dilation_channels=8,
                        skip_channels=16, sample_rate=8000)
    old = Trainer(cfg, x, TrainSettings(steps=300, window=100, batch=2, checkpoint_every=50,
                                        keep=3), out_dir=out)
    old.train(progress=False)
    assert [load(c)[0]["step"] for c in list_checkpoints(out)] == [200, 250, 300]
    new = Trainer(cfg, x, TrainSettings(steps=40, window=100, batch=2, checkpoint_every=10,
                                        keep=3), out_dir=out)
    new.train(progress=False)
    steps = sorted((load(c)[0]["step"], run_of(c)) for c in list_checkpoints(out))
    assert steps == sorted([(200, old.run_id), (250, old.run_id), (300, old.run_id),
                            (20, new.run_id), (30, new.run_id), (40, new.run_id)])
    runs = [json.loads(line)["run"] for line in open(os.path.join(out, "train.jsonl"))]
    assert runs == [old.run_id] * 30 + [new.run_id] * 4              # the log splits by run


def test_without_flock_a_pid_file_guards_the_directory(tmp_path, monkeypatch):
    def no_flock(fd, how):
        raise OSError(errno.ENOLCK, "No locks available")
    monkeypatch.setattr(rundir.fcntl, "flock", no_flock)
    with pytest.warns(UserWarning, match="does not support flock; a PID file guards the directory"):
        with rundir.owned(tmp_path, "wavecore train"):
            assert json.load(open(tmp_path / rundir.PID_FILE))["pid"] == os.getpid()
            with pytest.raises(rundir.DirectoryInUse,
                               match=f"is in use by wavecore train \\(pid {os.getpid()}"):
                with rundir.owned(tmp_path, "wavecore study"):
                    pass
    assert not os.path.exists(tmp_path / rundir.PID_FILE)
    # a PID file whose holder died on this host is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, timeout=60).stdout.strip()
    (tmp_path / rundir.PID_FILE).write_text(json.dumps({"pid": int(dead),
                                                        "host": socket.gethostname(),
                                                        "command": "wavecore train", "started": 0}))
    with pytest.warns(UserWarning):
        with rundir.owned(tmp_path, "wavecore train"):
            assert json.load(open(tmp_path / rundir.PID_FILE))["pid"] == os.getpid()


@needs_mpi
def test_a_second_job_under_mpiexec_refuses_and_no_rank_writes(tmp_path, clip):
    out = str(tmp_path / "same")
    with _long("train", out, clip) as p:
        _held(out)
        while not latest(out):
            time.sleep(0.02)
        log = open(os.path.join(out, "train.jsonl")).read()
        code, text, err = run([MPIEXEC, "-n", "2", *CLI, "train", clip, "--out", out, *MODEL,
                               "--steps", "5", "--seed", "9"], 120)
        assert code != 0 and "is in use by wavecore train" in err, err
        assert "model:" not in text
        assert p.poll() is None
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=120)
    lines = open(os.path.join(out, "train.jsonl")).read()
    runs = {json.loads(line)["run"] for line in lines.splitlines()}
    assert lines.startswith(log) and len(runs) == 1                 # one writer: the first job
    assert {run_of(c) for c in list_checkpoints(out)} == runs
