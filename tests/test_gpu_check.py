"""bench/gpu_check.py, the one command that checks the GPU path on a GPU machine: its dry run on
the CPU emulator end to end, its one-line exit where there is no GPU, how it picks the tests and
kills a step at its timeout; and ``wavecore.engine.backends.gpu_report`` on this machine."""
import importlib.util
import json
import os
import sys
import time

import pytest
from conftest import run

from wavecore.engine._gpu import device as gdev
from wavecore.engine.backends import gpu_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "bench", "gpu_check.py")


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def env_without_cupy(tmp_path):
    """The environment with a cupy package first on the path that fails to import."""
    fake = tmp_path / "nocupy" / "cupy"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("hidden by test_gpu_check")\n')
    env = {k: v for k, v in os.environ.items() if k != "WAVECORE_GPU"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(fake.parent), env.get("PYTHONPATH")]))
    return env


# -- gpu_report --------------------------------------------------------------------------------
def test_gpu_report_says_what_it_found(monkeypatch):
    monkeypatch.delenv("WAVECORE_GPU", raising=False)
    rep = gpu_report(compile=False)
    assert rep["mode"] == "cuda" and isinstance(rep["summary"], str) and rep["summary"]
    for key in ("cupy", "cuda_runtime", "cuda_driver", "device", "available", "reason", "kernels"):
        assert key in rep, key
    if not rep["available"]:                       # CI: no CuPy, or no device
        assert "CuPy" in rep["reason"] or "CUDA" in rep["reason"]
        assert rep["kernels"]["ok"] is None
    json.dumps(rep)                                # plain data, for summary.json / wavecore info


def test_gpu_report_without_cupy_does_not_raise(monkeypatch):
    monkeypatch.delenv("WAVECORE_GPU", raising=False)
    monkeypatch.setitem(sys.modules, "cupy", None)          # import cupy -> ImportError
    rep = gpu_report()
    assert rep["available"] is False and rep["cupy"]["importable"] is False
    assert rep["reason"].startswith("CuPy is not importable") and rep["device"] is None
    assert rep["summary"].startswith("CuPy not importable")
    import wavecore.engine._gpu.probe as probe

    def broken(*args):
        raise RuntimeError("boom")
    monkeypatch.setattr(probe, "report", broken)
    rep = gpu_report()
    assert rep["available"] is False and "boom" in rep["reason"]


@pytest.mark.skipif(gdev.compiler() is None, reason="no C++ compiler for the GPU emulator")
def test_gpu_report_on_the_emulator_compiles_the_kernels(monkeypatch):
    monkeypatch.setenv("WAVECORE_GPU", "emulate")
    rep = gpu_report()
    assert rep["mode"] == "emulate" and rep["available"]
    assert (rep["kernels"]["ok"] is True
            and rep["kernels"]["kernels"] == len(gdev.signatures(gdev.source())))
    assert "WAVECORE_GPU=emulate" in rep["summary"]


# -- the command's parts ---------------------------------------------------------------------------
def test_the_selection_is_the_cuda_ids_and_in_a_dry_run_their_emulator_twins():
    g = gpu_check()
    b, t = "tests/test_backends.py::", "tests/test_gpu.py::"
    ids = [b + "test_step[gpu-cuda-1]", b + "test_step[gpu-emulate-1]", b + "test_step[cpu-1]",
           b + "test_step[numpy-1]", t + "test_gate[cuda-True-float32]",
           t + "test_gate[emulate-True-float32]",
           t + "test_kernel_sources_compile_with_nvrtc[float]",
           t + "test_results_do_not_depend_on_thread_order[reverse]",    # the emulator alone
           b + "test_memorises_a_chord[gpu-cuda]",
           b + "test_memorises_a_chord[gpu-emulate]",                    # slow there
           "tests/test_model.py::test_cuda_free_thing", g.NCCL_TEST]
    gpu = [b + "test_step[gpu-cuda-1]", t + "test_gate[cuda-True-float32]",
           t + "test_kernel_sources_compile_with_nvrtc[float]",
           b + "test_memorises_a_chord[gpu-cuda]"]
    assert g.select(ids, dry_run=False, gpus=1) == gpu
    assert g.select(ids, dry_run=False, gpus=2) == gpu + [g.NCCL_TEST]
    assert sorted(g.select(ids, dry_run=True, gpus=0)) == sorted(
        gpu + [b + "test_step[gpu-emulate-1]", t + "test_gate[emulate-True-float32]"])
    assert g._junit_key("tests/test_gpu.py::test_gate[cuda-True-float32]") == \
        ("tests.test_gpu", "test_gate[cuda-True-float32]")


def test_a_step_past_its_timeout_is_killed_with_its_children(tmp_path):
    g = gpu_check()
    log = g.Log(tmp_path / "log")
    child = "import time; time.sleep(60)"
    cmd = [sys.executable, "-c", "import subprocess, sys, time; "
           f"p = subprocess.Popen([sys.executable, '-c', {child!r}]); "
           "print(p.pid, flush=True); time.sleep(60)"]
    t0 = time.monotonic()
    r = g.run_step(log, cmd, 2, dict(os.environ), echo=False)
    assert r["status"] == "timed out" and time.monotonic() - t0 < 20
    pid = int(r["text"].split()[0])                            # the grandchild went with the group
    for _ in range(100):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"process {pid} of the timed-out step is still running")
    assert str(pid) in (tmp_path / "log").read_text()


# -- the command -----------------------------------------------------------------------------------
def test_without_a_gpu_it_says_so_in_one_line(tmp_path):
    t0 = time.monotonic()
    rc, out, err = run([sys.executable, SCRIPT, "--out", str(tmp_path / "out")], 120, cwd=ROOT,
                       env=env_without_cupy(tmp_path))
    took = time.monotonic() - t0
    assert rc == 2, out + err
    assert "Traceback" not in out + err
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith("gpu_check: no GPU: CuPy is not importable (ImportError: hidden by "
                               "test_gpu_check)")
    assert lines[0].endswith("run with --dry-run to check the command on the CPU")
    assert took < 30, f"{took:.1f} s"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["result"] == "no gpu" and summary["exit_code"] == 2
            and summary["line"] == lines[0])
    assert summary["machine"]["gpu"]["cupy"]["importable"] is False


@pytest.mark.skipif(gdev.compiler() is None, reason="no C++ compiler for the GPU emulator")
def test_dry_run_runs_the_emulator_tests_and_the_bench(tmp_path):
    """The whole command on the CPU emulator (about 1.5 minutes on 2 cores)."""
    out = tmp_path / "out"
    rc, text, err = run([sys.executable, SCRIPT, "--dry-run", "--out", str(out)], 330, cwd=ROOT)
    assert rc == 0, text[-3000:] + err[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    last = text.strip().splitlines()[-1]
    assert (last == summary["line"]
            and last.startswith("gpu_check (dry run on the emulator): install skipped"))
    assert " 0 failed" in last and "bench ok" in last and "plan (demo): about " in last
    steps = summary["steps"]
    assert steps["install"]["status"] == "skipped" and steps["install"]["reason"]
    assert steps["tests"]["status"] == steps["bench"]["status"] == steps["plan"]["status"] \
        == "passed"
    assert summary["plan"]["speed"].startswith("measured on gpu")     # the emulated device's
    tests = summary["tests"]
    assert tests["failed"] == [] and tests["not_run"] == []
    assert tests["passed"] and all("::" in i for i in tests["passed"])
    assert any("emulate" in i for i in tests["passed"])
    assert steps["tests"]["passed"] == len(tests["passed"]) > 0
    rates = summary["rates"]
    assert rates["complete"] and not rates["errors"]
    assert {r["model"] for r in rates["train"]} == {"R=D=16", "essay"}
    assert all(r["samples_per_s"] > 0 for r in rates["train"] + rates["sampler"])
    assert {r["kernel"] for r in rates["sampler"]} == {"block", "cluster"}
    assert summary["machine"]["gpu"]["mode"] == "emulate"
    log = (out / "gpu_check.log").read_text()
    assert "== tests" in log and "== bench" in log and "passed" in log
