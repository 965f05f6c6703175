"""Data-parallel training under a real ``mpiexec -n 2`` (the [mpi] extra: mpi4py and the MPICH
wheel), each launch a child process group with a timeout and cleanup (conftest.spawned):
equivalence with one process, resume under another rank count, the command end to end,
SIGTERM, a killed rank, a parameter mismatch, and the TCP transport instead of shared memory."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import run, spawned

from wavecore.engine._gpu import device as gdev
from wavecore.engine.backends import cuda_status
from wavecore.training.checkpoint import latest, load

MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
try:
    import mpi4py  # noqa: F401
    _have_mpi = MPIEXEC is not None
except ImportError:
    _have_mpi = False
needs_mpi = pytest.mark.skipif(not _have_mpi,
                               reason="no mpi4py / mpiexec: pip install 'wavecore[mpi]'")

# the forced TCP path: MPICH's OFI netmod, libfabric's tcp provider, no shared memory between
# the ranks of one host (MPIR_CVAR_NOLOCAL): the path between hosts
TCP = {"MPIR_CVAR_CH4_NETMOD": "ofi", "FI_PROVIDER": "tcp", "MPIR_CVAR_NOLOCAL": "1"}

SCRIPT = '''
import sys
import numpy as np
from wavecore import WaveNetConfig
from wavecore.engine import distributed
from wavecore.training import Trainer, TrainSettings
out, dtype, steps, mode, until, backend = sys.argv[1:7]
steps, until = int(steps), int(until)
cfg = WaveNetConfig(layers=4, stacks=1, residual_channels=8, dilation_channels=8, skip_channels=16,
                    sample_rate=8000)
t = np.arange(3000) / 8000
clips = [0.4 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t),
         0.3 * np.sign(np.sin(2 * np.pi * 110 * t))]
settings = TrainSettings(steps=steps, batch=4, window=200, dtype=dtype, threads=1,
                         checkpoint_every=5, keep=10, warmup=3, backend=backend)
if mode == "resume":
    tr = Trainer.resume(out, clips, steps=steps)
else:
    tr = Trainer(cfg, clips, settings, out_dir=out)
cb = None
if mode == "mismatch":
    def cb(tr, rec):
        if tr.step == 7 and distributed.world().rank == 1:
            tr.weights[0] += 1e-3          # rank 1 drifts: the next checkpoint must catch it
tr.train(until, progress=False, callback=cb)
'''


def launch(tmp_path, n, out, dtype, steps, mode="new", env=None, timeout=120, until=None,
           backend="auto"):
    """Train to ``until`` (default: steps, the run's planned total) on n ranks."""
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, str(script), str(out), dtype, str(steps), mode, str(until or steps),
           backend]
    if n > 1:
        cmd = [MPIEXEC, "-n", str(n), *cmd]
    return run(cmd, timeout, env={**os.environ, **(env or {})})


def params(out):
    return load(latest(out))[1]["params"]


@needs_mpi
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_two_ranks_are_one_process(tmp_path, dtype, tol):
    """2 ranks with global batch 4 against 1 process with batch 4, same seed, 20 steps."""
    rc, _, err = launch(tmp_path, 1, tmp_path / "one", dtype, 20)
    assert rc == 0, err
    rc, _, err = launch(tmp_path, 2, tmp_path / "two", dtype, 20)
    assert rc == 0, err
    a, b = params(tmp_path / "one"), params(tmp_path / "two")
    assert a.dtype == np.dtype(dtype)
    np.testing.assert_allclose(b, a, rtol=0, atol=tol * np.abs(a).max())
    assert not np.array_equal(a, load(os.path.join(tmp_path / "one",
                                                   "ckpt-00000005.npz"))[1]["params"])


@needs_mpi
@pytest.mark.skipif(gdev.compiler() is None, reason="no C++ compiler for the GPU emulator")
def test_two_gpu_ranks_are_one_gpu_process_on_the_emulator(tmp_path):
    """backend="gpu" under mpiexec: the gradient summed on the device buffer (NCCL on CUDA, MPI
    on the emulator, whose device memory is the host's), float64, 10 steps."""
    env = {"WAVECORE_GPU": "emulate"}
    rc, _, err = launch(tmp_path, 1, tmp_path / "one", "float64", 10, backend="gpu", env=env)
    assert rc == 0, err
    rc, _, err = launch(tmp_path, 2, tmp_path / "two", "float64", 10, backend="gpu", env=env)
    assert rc == 0, err
    a, b = params(tmp_path / "one"), params(tmp_path / "two")
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-12 * np.abs(a).max())


def _gpus() -> int:
    if not cuda_status()[0]:
        return 0
    import cupy
    return cupy.cuda.runtime.getDeviceCount()


@pytest.mark.skipif(not _have_mpi or _gpus() < 2, reason="NCCL needs mpiexec and two CUDA GPUs")
def test_two_gpu_ranks_through_nccl(tmp_path):
    """One GPU per rank by its local rank; the gradient summed by NCCL's allReduce."""
    rc, _, err = launch(tmp_path, 1, tmp_path / "one", "float64", 10, backend="gpu")
    assert rc == 0, err
    rc, _, err = launch(tmp_path, 2, tmp_path / "two", "float64", 10, backend="gpu")
    assert rc == 0, err
    a, b = params(tmp_path / "one"), params(tmp_path / "two")
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-12 * np.abs(a).max())


@needs_mpi
def test_resume_under_another_rank_count_continues_the_same_run(tmp_path):
    assert launch(tmp_path, 1, tmp_path / "straight", "float64", 20)[0] == 0
    rc, _, err = launch(tmp_path, 2, tmp_path / "mixed", "float64", 20, until=10)
    assert rc == 0, err
    assert load(latest(tmp_path / "mixed"))[0]["step"] == 10
    rc, _, err = launch(tmp_path, 1, tmp_path / "mixed", "float64", 20, mode="resume")
    assert rc == 0, err
    np.testing.assert_allclose(params(tmp_path / "mixed"), params(tmp_path / "straight"), rtol=0,
                               atol=1e-12 * np.abs(params(tmp_path / "straight")).max())


@needs_mpi
def test_tcp_transport_gives_the_same_run(tmp_path):
    """FI_PROVIDER=tcp over MPICH's OFI netmod, shared memory off (MPIR_CVAR_NOLOCAL=1)."""
    assert launch(tmp_path, 1, tmp_path / "one", "float64", 10)[0] == 0
    rc, text, err = launch(tmp_path, 2, tmp_path / "tcp", "float64", 10,
                           env={**TCP, "MPIR_CVAR_DEBUG_SUMMARY": "1"})
    assert rc == 0, err
    assert "provider: tcp" in text                   # libfabric's tcp provider was the one chosen
    np.testing.assert_allclose(params(tmp_path / "tcp"), params(tmp_path / "one"), rtol=0,
                               atol=1e-12 * np.abs(params(tmp_path / "one")).max())


@needs_mpi
def test_a_parameter_mismatch_stops_the_job_naming_the_rank(tmp_path):
    rc, _, err = launch(tmp_path, 2, tmp_path / "bad", "float64", 20, mode="mismatch")
    assert rc != 0
    assert "checkpoint at step 10: the parameters of rank(s) 1 differ from rank 0's" in err
    assert load(latest(tmp_path / "bad"))[0]["step"] == 5          # the last good one stays


def wavs(d):
    import soundfile as sf

    from wavecore.analysis import clips
    paths = []
    for name in ("chant", "shriek"):
        p = os.path.join(d, f"{name}.wav")
        sf.write(p, clips.get(name, 8000, 0.5), 8000)
        paths.append(p)
    return paths


CLI = [sys.executable, "-m", "wavecore.cli"]
MODEL = ["--layers", "4", "--stacks", "1", "--residual", "32", "--dilation", "32", "--skip", "64",
         "--sample-rate", "8000", "--window", "1000", "--batch", "4", "--schedule", "constant"]


@needs_mpi
def test_mpiexec_wavecore_train_end_to_end(tmp_path):
    out = str(tmp_path / "run")
    rc, text, err = run([MPIEXEC, "-n", "2", *CLI, "train", *wavs(tmp_path), "--out", out, *MODEL,
                         "--steps", "12", "--checkpoint-every", "5"], 120)
    assert rc == 0, err
    assert text.count("model: ") == 1 and text.count("checkpoint ") == 1      # rank 0 alone prints
    steps = [load(os.path.join(out, f))[0]["step"] for f in sorted(os.listdir(out))
             if f.endswith(".npz")]
    assert steps == [5, 10, 12]
    assert len(open(os.path.join(out, "train.jsonl")).readlines()) == 2      # one writer


def _ranks(marker):
    """PIDs of the python processes whose command line holds ``marker`` (the ranks)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if any(marker.encode() in c for c in cmd) and b"python" in os.path.basename(cmd[0]):
            pids.append(int(pid))
    return pids


@needs_mpi
def test_sigterm_stops_every_rank_at_one_step_and_saves(tmp_path):
    paths = wavs(tmp_path)
    out = str(tmp_path / "run")
    with spawned([MPIEXEC, "-n", "2", *CLI, "train", *paths, "--out", out, *MODEL,
                  "--steps", "100000"],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        t0 = time.time()
        while not os.path.exists(os.path.join(out, "train.jsonl")):
            assert time.time() - t0 < 60
            time.sleep(0.05)
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)                   # what a scheduler sends to the job
        _, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    meta = load(latest(out))[0]
    assert f"wavecore train: terminated (SIGTERM); progress saved at step {meta['step']}" in err
    assert err.count("terminated (SIGTERM)") == 1 and "Traceback" not in err
    rc, _, err = run([*CLI, "train", *paths, "--out", out, "--resume",
                      "--steps", str(meta["step"] + 2)], 120)
    assert rc == 0, err                                 # one process goes on from it


@needs_mpi
def test_a_killed_rank_ends_the_job_in_bounded_time(tmp_path):
    paths = wavs(tmp_path)
    out = str(tmp_path / "run")
    with spawned([MPIEXEC, "-n", "2", *CLI, "train", *paths, "--out", out, *MODEL,
                  "--steps", "100000", "--checkpoint-every", "20"],
                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as p:
        t0 = time.time()
        while latest(out) is None:
            assert time.time() - t0 < 60
            time.sleep(0.05)
        ranks = _ranks(out)
        assert len(ranks) == 2, ranks
        os.kill(ranks[1], signal.SIGKILL)               # an OOM kill, say
        t_kill = time.time()
        said, _ = p.communicate(timeout=60)
        took = time.time() - t_kill
    assert p.returncode != 0 and took < 60, (p.returncode, took)
    print(f"the job ended {took:.2f} s after the kill, status {p.returncode}")
    assert "BAD TERMINATION" in said and "Killed (signal 9)" in said, said      # Hydra names it
    step = load(latest(out))[0]["step"]                 # the last checkpoint is whole
    rc, _, err = run([*CLI, "train", *paths, "--out", out, "--resume", "--steps", str(step + 2)],
                     120)
    assert rc == 0, err


def test_a_single_process_never_imports_mpi4py(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "OMPI_", "PMIX_", "MV2_"))}
    code = ("import sys, numpy as np\n"
            "from wavecore import WaveNetConfig\n"
            "from wavecore.training import Trainer, TrainSettings\n"
            "t = Trainer(WaveNetConfig(layers=2, stacks=1, residual_channels=4,"
            " dilation_channels=4, skip_channels=8), [np.sin(np.arange(800) / 5.0)],"
            " TrainSettings(steps=2, window=100),"
            f" out_dir={str(tmp_path)!r})\n"
            "t.train(progress=False)\n"
            "assert t.world.size == 1 and 'mpi4py' not in sys.modules, sorted(sys.modules)\n")
    rc, _, err = run([sys.executable, "-c", code], 120, env=env)
    assert rc == 0, err


@needs_mpi
def test_mpiexec_wavecore_study_end_to_end(tmp_path):
    """Training data-parallel, the scoring and the renders split across the 2 ranks and
    gathered, rank 0 alone writing: the same study as one process, up to float32 summation."""
    paths = wavs(tmp_path)
    args = [*paths, "--layers", "3", "--stacks", "1", "--residual", "8", "--dilation", "8",
            "--skip", "16", "--sample-rate", "8000", "--steps-per-stage", "20",
            "--later-steps", "10", "--window", "300", "--timeline-every", "10",
            "--temperatures", "0.7", "0.6"]
    rc, text, err = run([MPIEXEC, "-n", "2", *CLI, "study", *args, "--out", str(tmp_path / "two")],
                        300)
    assert rc == 0, err
    assert text.count("report: ") == 1 and text.count("stage 2/2") == 1
    rc, _, err = run([*CLI, "study", *args, "--out", str(tmp_path / "one")], 300)
    assert rc == 0, err
    a, b = (json.load(open(tmp_path / d / "metrics.json")) for d in ("two", "one"))
    assert [s["steps"] for s in a["stages"]] == [s["steps"] for s in b["stages"]] == [20, 10]
    np.testing.assert_allclose(a["bits"], b["bits"], rtol=1e-4)
    np.testing.assert_allclose(a["accuracy"], b["accuracy"], atol=0.01)
    assert [r["path"] for r in a["renders"] + a["unprimed"] + a["timeline"]] == \
        [r["path"] for r in b["renders"] + b["unprimed"] + b["timeline"]]
    for r in a["renders"] + a["unprimed"] + a["timeline"]:
        assert os.path.exists(tmp_path / "two" / r["path"]), r["path"]
    assert os.path.exists(tmp_path / "two" / "report.html")


@needs_mpi
def test_sigterm_during_an_mpi_study_and_resume_as_one_process(tmp_path):
    paths = wavs(tmp_path)
    args = [*paths, "--layers", "3", "--stacks", "1", "--residual", "8", "--dilation", "8",
            "--skip", "16", "--sample-rate", "8000", "--fixed",
            "--steps-per-stage", "400", "--later-steps", "5", "--window", "300",
            "--timeline-every", "10", "--temperatures", "0.7"]
    out = str(tmp_path / "st")
    with spawned([MPIEXEC, "-n", "2", *CLI, "study", *args, "--out", out],
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as p:
        t0 = time.time()
        while not os.path.exists(os.path.join(out, "timeline", "chant_stage1_T0.7_step30.wav")):
            assert time.time() - t0 < 60
            time.sleep(0.02)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    meta = load(latest(os.path.join(out, "checkpoints")))[0]
    assert 30 <= meta["step"] < 400 and meta["extra"]["stage"]["stage"] == 1
    assert err.count("terminated (SIGTERM); progress saved at step") == 1
    rc, text, err = run([*CLI, "study", *args, "--out", out, "--resume"], 300)
    assert rc == 0, err
    assert f"resuming stage 1 at step {meta['step']}" in text
    steps = [s["steps"] for s in json.load(open(os.path.join(out, "metrics.json")))["stages"]]
    assert steps == [400, 5]


@needs_mpi
def test_mpiexec_plan_times_the_data_parallel_step(tmp_path):
    """Under mpiexec the plan's timed steps are the ranks' data-parallel steps; rank 0 says it."""
    paths = wavs(tmp_path)
    args = [*paths, "--layers", "3", "--stacks", "1", "--residual", "8", "--dilation", "8",
            "--skip", "16", "--sample-rate", "8000", "--window", "300", "--plan"]
    rc, text, err = run([MPIEXEC, "-n", "2", *CLI, "study", *args, "--out", str(tmp_path / "p")],
                        120)
    assert rc == 0, err
    assert text.count("model     ") == 1 and "2 MPI ranks" in text
    assert not os.path.exists(tmp_path / "p" / "study.json")
