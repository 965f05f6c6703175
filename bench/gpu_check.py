"""Check the whole GPU path on a GPU machine in one command: build, test, measure, report.

    python bench/gpu_check.py --out DIR [--budget 480] [--no-install]
    python bench/gpu_check.py --out DIR --dry-run     # the same steps on the CPU emulator (CI)

Run from anywhere (it works in the repository it lives in); it needs no network. Steps, each in
a child process of its own, in a process group of its own, with its own timeout out of the
budget (on a timeout the whole group is killed and the next step runs):

- probe: the machine and what the GPU path finds (``wavecore.engine.backends.gpu_report``: CuPy, the
  CUDA runtime and driver, the device, whether the kernels compile). Without CuPy or a CUDA
  device the command stops here with one line saying why and exit code 2.
- install: ``pip install --no-build-isolation --no-deps --no-index -e .`` (the Cython kernels
  built with what the machine has; nothing from a registry). Skipped with --no-install, and by
  default with --dry-run.
- tests: pytest over every test id parametrised on CUDA (the ``cuda`` / ``gpu-cuda`` params of
  tests/test_gpu.py, tests/test_backends.py and any other file), the device-independent checks
  of tests/test_gpu.py (NVRTC, nvcc, the cuBLAS binding), and the NCCL test where there are two
  GPUs. The emulator's ids are left to CI. --dry-run adds the emulator twin of every CUDA id
  (``emulate`` / ``gpu-emulate``), without the few end-to-end ones that take a minute on the
  emulator, so the test step really runs tests there while the CUDA ids skip.
- bench: bench/compare_gpu.py, short: training at R = D = 32 and 64 and on the essay model
  beside PyTorch (cuDNN, float32 and TF32), the sampler at 1, 16 and 256 streams and the block
  kernel against the cluster kernel; --dry-run: its --smoke sizes on the emulator.
- plan: ``wavecore study --preset essay --plan --backend gpu`` on the three built-in full songs
  at 16 kHz: what the essay's own recipe costs on this GPU, priced by the plan's timed steps
  (its speed and time lines go into summary.json); --dry-run: ``--preset demo`` on the emulator,
  one temperature and seed, windows of 1 x 500.

DIR gets gpu_check.log (everything every step printed), summary.json (the machine, each step's
status and wall time, the tests passed / failed / skipped by name, every measured rate; written
after each step), junit.xml and bench.json. The last line printed says what passed and what
failed. Exit code: 0 all passed, 1 a step failed or timed out, 2 no GPU (or the probe failed),
130 / 143 interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPU_TESTS = "tests/test_gpu.py"
# tests/test_gpu.py's tests that are not parametrised on a device but only run the emulator
EMULATOR_ONLY = ("test_results_do_not_depend_on_thread_order",)
NCCL_TEST = "tests/test_distributed.py::test_two_gpu_ranks_through_nccl"
# emulator twins left out of --dry-run: 10-50 s each on 2 cores (the whole suite runs them in CI)
DRY_RUN_SLOW = ("test_memorises_a_chord", "test_study_on_gpu_equals_study_on_numpy",
                "test_float32_training_follows_the_cpu_path")
# the budget's shares of the steps after the probe; a step may use what earlier ones left
SHARES = {"install": 0.28, "tests": 0.34, "bench": 0.28, "plan": 0.10}
MARK = "GPU_CHECK_REPORT "
BENCH_GPU = ["--channels", "32", "64", "--essay", "--repeat", "5", "--seconds", "0.25"]
BENCH_DRY = ["--smoke", "--channels", "16", "--streams", "1", "2", "--essay"]


class Stop(Exception):
    """SIGTERM arrived."""


def _on_sigterm(signum, frame):
    raise Stop()


def _child_signals():
    """In the child before exec: default dispositions, whatever this process inherited (a
    background job's parent may ignore SIGINT)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)


def _kill_group(p) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


class Log:
    """What this command prints: to stdout and to DIR/gpu_check.log."""

    def __init__(self, path):
        self.f = open(path, "w", encoding="utf-8", errors="replace")
        self.lock = threading.Lock()

    def __call__(self, line: str = "", echo: bool = True, keep: bool = True) -> None:
        """keep: into the log file; echo: onto stdout."""
        with self.lock:
            if keep:
                self.f.write(line + "\n")
                self.f.flush()
            if echo:
                try:
                    sys.stdout.write(line + "\n")
                    sys.stdout.flush()
                except (BrokenPipeError, ValueError):
                    pass


def run_step(log, cmd, timeout, env, echo=True, shown=None) -> dict:
    """Run cmd in a process group of its own, its stdout and stderr (merged) into the log line
    by line; on a timeout or an exception here the whole group is killed. -> rc, status
    ("passed" / "failed" / "timed out"), wall time, the text it printed. shown: the command
    as stdout shows it (the log has it whole)."""
    text = f"$ {' '.join(cmd)}    (timeout {duration(timeout)})"
    log(text, echo=False)
    if echo:
        log(text if shown is None else f"$ {shown}    (timeout {duration(timeout)})", keep=False)
    t0 = time.monotonic()
    lines: list[str] = []
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, preexec_fn=_child_signals,
                         start_new_session=True)

    def pump():
        for raw in iter(p.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            log(line, echo)
    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        p.wait(timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(p)                  # also whatever it left running: the group goes
        p.wait()
        reader.join(timeout=5)          # EOF unless a process that left the group holds the pipe
        p.stdout.close()
    wall = time.monotonic() - t0
    status = "timed out" if timed_out else "passed" if p.returncode == 0 else "failed"
    log(f"[{status}: exit code {p.returncode}, {duration(wall)}]", echo)
    return {"status": status, "rc": p.returncode, "wall_s": round(wall, 1),
            "timeout_s": round(timeout), "command": cmd, "text": "\n".join(lines)}


# -- the test selection ----------------------------------------------------------------------------
def device_of(nodeid: str) -> str | None:
    """The GPU device a test id's parameters name: "cuda", "emulate" or None (conftest.py's
    gpu-cuda / gpu-emulate, tests/test_gpu.py's cuda / emulate)."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    params = nodeid[nodeid.index("[") + 1:-1].split("-")
    return "cuda" if "cuda" in params else "emulate" if "emulate" in params else None


def function_of(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


def select(ids: list[str], dry_run: bool, gpus: int) -> list[str]:
    """The ids the test step runs (see the module's docstring), in collection order."""
    chosen = []
    for i in ids:
        dev, fn = device_of(i), function_of(i)
        if dev == "cuda":
            chosen.append(i)
        elif dev is None and i.startswith(GPU_TESTS + "::") and fn not in EMULATOR_ONLY:
            chosen.append(i)                     # NVRTC / nvcc / cuBLAS binding, no device param
        elif dev == "emulate" and dry_run and fn not in DRY_RUN_SLOW:
            chosen.append(i)
    if gpus >= 2 and not dry_run and NCCL_TEST in ids:
        chosen.append(NCCL_TEST)
    return chosen


def _junit_key(nodeid: str) -> tuple[str, str]:
    """(classname, name) as pytest's junit XML writes a test id."""
    parts = nodeid.split("::")
    path = parts[0][:-3] if parts[0].endswith(".py") else parts[0]
    return ".".join([path.replace("/", ".")] + parts[1:-1]), parts[-1]


def junit_results(path: str, ids: list[str]) -> dict | None:
    """{id: (outcome, message)} from pytest's junit XML, or None when it is missing or broken."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    by_key = {_junit_key(i): i for i in ids}
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    out: dict = {}
    for case in root.iter("testcase"):
        key = (case.get("classname", ""), case.get("name", ""))
        nodeid = by_key.get(key) or f"{key[0].replace('.', '/')}.py::{key[1]}"
        outcome, msg = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, msg = "failed", child.get("message", "")
            elif child.tag == "skipped" and outcome != "failed":
                outcome, msg = "skipped", child.get("message", "")
        old = out.get(nodeid)
        if old is None or rank[outcome] > rank[old[0]]:
            out[nodeid] = (outcome, " ".join(msg.split())[:300])
    return out


_VERBOSE = re.compile(r"^(\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b(.*)")


def verbose_results(text: str) -> dict:
    """{id: (outcome, message)} from pytest -v's lines (when no junit XML was written: a run
    killed at its timeout)."""
    out: dict = {}
    for line in text.splitlines():
        m = _VERBOSE.match(line)
        if m:
            word = m.group(2)
            outcome = ("failed" if word in ("FAILED", "ERROR") else
                       "skipped" if word in ("SKIPPED", "XFAIL") else "passed")
            if out.get(m.group(1), ("passed",))[0] != "failed":
                out[m.group(1)] = (outcome, m.group(3).strip(" ()")[:300])
    return out


# -- the steps -----------------------------------------------------------------------------------
class Check:
    def __init__(self, args):
        self.args = args
        self.out = os.path.abspath(args.out)
        os.makedirs(self.out, exist_ok=True)
        self.log = Log(os.path.join(self.out, "gpu_check.log"))
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.budget - 10          # to end a killed step and report
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        if args.dry_run:
            self.env["WAVECORE_GPU"] = "emulate"
        else:
            self.env.pop("WAVECORE_GPU", None)      # the real device, whatever the caller set
        self.install = (not args.dry_run) if args.install is None else args.install
        self.current = None                                 # the step running now
        self.summary = {
            "command": [sys.executable, *sys.argv],
            "mode": "dry run on the CPU emulator (WAVECORE_GPU=emulate)" if args.dry_run else "gpu",
            "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "budget_s": args.budget,
            "machine": {"hostname": socket.gethostname(), "python": sys.version.split()[0],
                        "python_executable": sys.executable, "platform": platform.platform(),
                        "cpus": os.cpu_count()},
            "steps": {},
            "tests": {"passed": [], "failed": [], "skipped": []},
            "rates": {},
        }

    # bookkeeping
    def write(self):
        self.summary["wall_s"] = round(time.monotonic() - self.t0, 1)
        path = os.path.join(self.out, "summary.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(self.summary, f, indent=1)
        os.replace(path + ".tmp", path)

    def timeout(self, step: str, cap: float | None = None) -> float:
        """A step's timeout: what is left of the budget less the shares kept for the steps
        still to come (a step of no share, the probe, just what is left), at most cap."""
        left = self.deadline - time.monotonic()
        if step in SHARES:
            later = list(SHARES)[list(SHARES).index(step) + 1:]
            left -= sum(SHARES[s] * self.args.budget for s in later)
        return max(1.0, min(left, cap) if cap else left)

    def step(self, name: str, **fields) -> dict:
        rec = self.summary["steps"].setdefault(name, {})
        rec.update(fields)
        self.write()
        return rec

    # the steps
    def probe(self) -> dict:
        """Into the log only: a machine without a GPU gets one line on stdout, from run()."""
        self.current = "probe"
        self.log("== probe: the machine and the GPU path", echo=False)
        code = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
                "from wavecore.engine.backends import gpu_report; "
                f"print({MARK!r} + json.dumps(gpu_report()))")
        r = run_step(self.log, [sys.executable, "-c", code, ROOT],
                     self.timeout("probe", cap=min(120, 0.25 * self.args.budget)), self.env,
                     echo=False)
        report = None
        for line in r["text"].splitlines():
            if line.startswith(MARK):
                try:
                    report = json.loads(line[len(MARK):])
                except ValueError:
                    pass
        m = self.summary["machine"]
        if report is not None:
            self.log(f"GPU: {report.get('summary')}", echo=False)
            m.update(gpu_name=report.get("device"), gpus=report.get("devices"),
                     cupy=(report.get("cupy") or {}).get("version"),
                     cuda_runtime=report.get("cuda_runtime"),
                     cuda_driver=report.get("cuda_driver"), nvrtc=report.get("nvrtc"))
        m["gpu"] = report
        if shutil.which("nvidia-smi") and not self.args.dry_run:
            s = run_step(self.log, ["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                    "--format=csv,noheader"], 30, self.env, echo=False)
            self.summary["machine"]["nvidia_smi"] = s["text"].strip().splitlines()
        status = "passed" if report is not None and r["status"] == "passed" else (
            "timed out" if r["status"] == "timed out" else "failed")
        kernels = (report or {}).get("kernels") or {}
        if status == "passed" and kernels.get("ok") is False:
            status = "failed"                  # a device, but the kernels do not compile or load
            self.log(f"the GPU kernels do not compile: {kernels.get('error')}", echo=False)
        self.step("probe", status=status, wall_s=r["wall_s"], rc=r["rc"])
        return report

    def do_install(self):
        self.current = "install"
        if not self.install:
            why = ("--no-install" if self.args.install is False else
                   "--dry-run uses the environment's wavecore (--install builds it)")
            self.log(f"== install: skipped ({why})")
            return self.step("install", status="skipped", reason=why, wall_s=0.0)
        self.log("== install: wavecore built in place with what the machine has")
        cmd = [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
               "--no-index", "--disable-pip-version-check", "-e", "."]
        cfg = os.path.join(self.out, "build_ext.cfg")        # the extensions compiled in parallel
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(f"[build_ext]\nparallel = {max(1, min(os.cpu_count() or 1, 8))}\n")
        r = run_step(self.log, cmd, self.timeout("install"), {**self.env, "DIST_EXTRA_CONFIG": cfg})
        return self.step("install", status=r["status"], rc=r["rc"], wall_s=r["wall_s"],
                         timeout_s=r["timeout_s"], command=cmd)

    def tests(self, gpus: int):
        self.current = "tests"
        self.log("== tests: every CUDA-parametrised test" +
                 (" and its emulator twin (WAVECORE_GPU=emulate)" if self.args.dry_run else ""))
        t0 = time.monotonic()
        pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts="]
        c = run_step(self.log, [*pytest, "--collect-only", "-q", "--continue-on-collection-errors",
                                "tests"], self.timeout("tests", cap=120), self.env, echo=False)
        ids = [line.strip() for line in c["text"].splitlines()
               if "::" in line and " " not in line.strip()]
        if c["status"] == "timed out" or not ids:
            self.log(f"collecting the tests {c['status']} (exit code {c['rc']}); "
                     f"{len(ids)} ids found; see {self.out}/gpu_check.log")
            return self.step("tests",
                             status="timed out" if c["status"] == "timed out" else "failed",
                             reason="collecting the tests failed",
                             wall_s=round(time.monotonic() - t0, 1))
        if c["rc"] not in (0,):
            self.log(f"collecting: exit code {c['rc']} "
                     "(some test files did not import; see the log)")
        chosen = select(ids, self.args.dry_run, gpus)
        self.log(f"{len(chosen)} of {len(ids)} tests selected")
        junit = os.path.join(self.out, "junit.xml")
        if os.path.exists(junit):
            os.unlink(junit)
        cmd = [*pytest, "-v", "-ra", "--tb=short", f"--junitxml={junit}"]
        r = run_step(self.log, cmd + chosen, self.timeout("tests"), self.env,
                     shown=" ".join(cmd + [f"<the {len(chosen)} ids>"]))
        results = junit_results(junit, chosen)
        if results is None:                     # killed before pytest wrote it: its -v lines
            results = verbose_results(r["text"])
        by = {k: sorted(i for i, (o, _) in results.items() if o == k)
              for k in ("passed", "failed", "skipped")}
        not_run = [i for i in chosen if i not in results]
        self.summary["tests"] = {
            **by,
            "not_run": not_run,
            "failures": {i: m for i, (o, m) in results.items() if o == "failed"},
            "skip_reasons": {i: m for i, (o, m) in results.items() if o == "skipped"},
            "selected": len(chosen), "collected": len(ids),
            "deselected_emulator_ids": sum(device_of(i) == "emulate" and i not in chosen
                                           for i in ids),
        }
        status = r["status"]
        ran = len(by["passed"]) + len(by["failed"])
        if status == "passed" and ran == 0:
            status, why = "failed", "no test ran: every selected test skipped"
            self.log(f"tests: {why}")
        elif status == "failed" and not by["failed"] and r["rc"] != 1:
            why = f"pytest ended with exit code {r['rc']}"
        else:
            why = None
        return self.step("tests", status=status, rc=r["rc"], wall_s=round(time.monotonic() - t0, 1),
                         timeout_s=r["timeout_s"], passed=len(by["passed"]),
                         failed=len(by["failed"]), skipped=len(by["skipped"]), not_run=len(not_run),
                         **({"reason": why} if why else {}))

    def bench(self):
        self.current = "bench"
        self.log("== bench: bench/compare_gpu.py"
                 + (" --smoke on the emulator" if self.args.dry_run else ""))
        path = os.path.join(self.out, "bench.json")
        if os.path.exists(path):
            os.unlink(path)
        cmd = [sys.executable, os.path.join("bench", "compare_gpu.py"),
               *(BENCH_DRY if self.args.dry_run else BENCH_GPU), "--json", path]
        r = run_step(self.log, cmd, self.timeout("bench"), self.env)
        rates = None
        try:
            with open(path, encoding="utf-8") as f:
                rates = json.load(f)
        except (OSError, ValueError):
            pass
        self.summary["rates"] = rates or {}
        self.summary["machine"]["torch"] = (rates or {}).get("torch")
        n = len(rates["train"]) + len(rates["sampler"]) if rates else 0
        status = r["status"]
        if status == "passed" and (not rates or not rates.get("complete") or not n):
            status = "failed"
        return self.step("bench", status=status, rc=r["rc"], wall_s=r["wall_s"],
                         timeout_s=r["timeout_s"], rates=n,
                         errors=len(rates["errors"]) if rates else None)

    def plan(self):
        """The essay preset's plan on the GPU (the demo's on the emulator), from the built-in
        full songs written at 16 kHz into DIR/plan_songs."""
        self.current = "plan"
        preset = "demo" if self.args.dry_run else "essay"
        fewer = ["--temperatures", "0.7", "--render-seeds", "1", "--trajectory", "0",
                 "--timeline-every", "0", "--window", "500", "--batch", "1"] \
            if self.args.dry_run else []                                  # the emulator is slow
        self.log(f"== plan: wavecore study --preset {preset} --plan --backend gpu")
        songs = os.path.join(self.out, "plan_songs")
        code = ("import os, sys; import soundfile as sf; "
                "from wavecore.analysis import clips; from wavecore.cli.main import main; "
                "d = sys.argv[1]; os.makedirs(d, exist_ok=True); paths = []\n"
                "for n in clips.FULL_SONGS:\n"
                "    paths.append(os.path.join(d, n + '.wav')); "
                "sf.write(paths[-1], clips.get(n, 16000), 16000)\n"
                "sys.exit(main(['study', *paths, '--preset', sys.argv[2], '--plan', "
                "'--backend', 'gpu', *sys.argv[3:]]))")
        r = run_step(self.log, [sys.executable, "-c", code, songs, preset, *fewer],
                     self.timeout("plan"), self.env)
        said = {}                                   # the plan's lines: "speed     measured ..."
        for line in r["text"].splitlines():
            head, _, rest = line.partition(" ")
            if head in ("speed", "time", "trained") and rest.strip():
                said[head] = rest.strip()
        self.summary["plan"] = {"preset": preset, **said}
        status = r["status"]
        if status == "passed" and not ("time" in said and "on gpu" in said.get("speed", "")):
            status = "failed"
        return self.step("plan", status=status, rc=r["rc"], wall_s=r["wall_s"],
                         timeout_s=r["timeout_s"], preset=preset)

    # the whole command
    def line(self) -> str:
        st = self.summary["steps"]
        parts = []
        probe = st.get("probe", {}).get("status", "not run")
        if probe != "passed":
            parts.append(f"probe {probe}")
        ins = st.get("install", {}).get("status", "not run")
        parts.append(f"install {'ok' if ins == 'passed' else ins}")
        t = st.get("tests")
        if t and "passed" in t:
            notes = [] if t["status"] in ("passed", "failed") and not t.get("reason") else \
                [t.get("reason") or t["status"]]
            notes += [f"{t['not_run']} not run"] if t.get("not_run") else []
            tail = f" ({'; '.join(notes)})" if notes else ""
            parts.append(f"tests {t['passed']} passed {t['failed']} failed "
                         f"{t['skipped']} skipped{tail}")
        else:
            parts.append(f"tests {t['status'] if t else 'not run'}")
        b = st.get("bench")
        if b:
            word = "ok" if b["status"] == "passed" else b["status"]
            parts.append(f"bench {word}"
                         + (f" ({b['rates']} rates)" if "rates" in b and word != "ok" else ""))
        else:
            parts.append("bench not run")
        p = st.get("plan")
        if p and p["status"] == "passed":
            plan = self.summary.get("plan", {})
            parts.append(f"plan ({plan.get('preset')}): {plan.get('time', '').split(':')[0]}")
        else:
            parts.append(f"plan {p['status'] if p else 'not run'}")
        mode = " (dry run on the emulator)" if self.args.dry_run else ""
        return f"gpu_check{mode}: {', '.join(parts)}; {duration(time.monotonic() - self.t0)}"

    def finish(self, line: str, code: int, quiet: bool = False) -> int:
        """The report written, and the last line printed (quiet: no line before it)."""
        self.summary.update(line=line, exit_code=code)
        self.write()
        self.log(f"summary: {os.path.join(self.out, 'summary.json')}, log: "
                 f"{os.path.join(self.out, 'gpu_check.log')}", echo=not quiet)
        self.log(line)
        return code

    def run(self) -> int:
        a = self.args
        head = f"gpu_check: {self.summary['mode']}, budget {duration(a.budget)}, out {self.out}"
        self.log(head, echo=False)
        report = self.probe()
        if not a.dry_run and not (report and report.get("available")):
            if report is None:
                probe = self.summary["steps"]["probe"]
                why = (f"the GPU probe {probe['status']} (exit code {probe['rc']}; see "
                       f"{os.path.join(self.out, 'gpu_check.log')})")
            else:
                why = " ".join(str(report.get("reason")).split())
            self.summary["result"] = "no gpu"
            return self.finish(f"gpu_check: no GPU: {why}; run with --dry-run to check the command "
                               "on the CPU", 2, quiet=True)
        self.log(head, keep=False)
        self.log(f"GPU: {report.get('summary') if report else 'the probe failed (see the log)'}",
                 keep=False)
        self.do_install()
        self.tests(gpus=int((report or {}).get("devices") or 0))
        self.bench()
        self.plan()
        ok = all(s.get("status") in ("passed", "skipped") for s in self.summary["steps"].values())
        self.summary["result"] = "passed" if ok else "failed"
        return self.finish(self.line(), 0 if ok else 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True,
                    help="where the log, summary.json, junit.xml, bench.json go")
    ap.add_argument("--dry-run", action="store_true",
                    help="the same steps on the CPU emulator (WAVECORE_GPU=emulate), --smoke sizes")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds for the whole command (default 480; 270 with --dry-run)")
    ap.add_argument("--install", action=argparse.BooleanOptionalAction, default=None,
                    help="build wavecore in place first (default: yes, except with --dry-run)")
    args = ap.parse_args(argv)
    if args.budget is None:
        args.budget = 270.0 if args.dry_run else 480.0
    if args.budget < 30:
        ap.error("--budget must be at least 30 seconds")
    signal.signal(signal.SIGINT, signal.default_int_handler)     # set, not inherited
    signal.signal(signal.SIGTERM, _on_sigterm)
    check = Check(args)
    try:
        return check.run()
    except (KeyboardInterrupt, Stop) as e:
        code = 143 if isinstance(e, Stop) else 130
        check.summary["result"] = "interrupted"
        if check.current and check.current not in check.summary["steps"]:
            check.summary["steps"][check.current] = {"status": "interrupted"}
        return check.finish(f"gpu_check: interrupted ({'SIGTERM' if code == 143 else 'SIGINT'}); "
                            f"{check.line().split(': ', 1)[1]}", code)


if __name__ == "__main__":
    sys.exit(main())
