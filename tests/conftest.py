"""Shared fixtures: the tiny config, random batches, the compute paths every backend-generic test
runs on, a chord to memorise, and child processes that hold wherever the tests are started."""
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from wavecore import Adam, WaveNet, WaveNetConfig, mu_law_encode
from wavecore.engine._gpu import device as gdev
from wavecore.engine.backends import cpu_training_available, cuda_status

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


def bench_script(name):
    """bench/NAME.py imported as a module (registered, so its dataclasses find it)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCH, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def tiny_config():
    """2 stacks x 3 layers, a few channels: the gradient-check config."""
    return WaveNetConfig(layers=3, stacks=2, residual_channels=3, dilation_channels=4,
                         skip_channels=5, classes=7, sample_rate=8000)


def random_batch(cfg, T, B, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, cfg.classes, size=(cfg.receptive_field + T, B))


def chord(sr, seconds):
    t = np.arange(int(sr * seconds)) / sr
    env = np.minimum(1.0, t / 0.02) * np.exp(-3.0 * t)             # attack, decay
    notes = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.00))
    return (0.3 * env * notes).astype(np.float32)


def memorise_chord(backend, precision="fp32"):
    """Train a tiny WaveNet with Adam on the backend in the precision on a short chord, and
    assert that it is memorised: in 60 steps the loss falls a hundredfold and teacher-forced
    accuracy (the NumPy reference's, in the same precision) passes 0.99."""
    sr = 4000
    cfg = WaveNetConfig(layers=6, stacks=1, residual_channels=16, dilation_channels=16,
                        skip_channels=32, sample_rate=sr)
    net = WaveNet(cfg, np.float32, backend=backend, precision=precision)
    # silence before the clip so its first samples carry loss too
    x = mu_law_encode(np.concatenate([np.zeros(cfg.receptive_field, np.float32),
                                      chord(sr, 0.15)]))[:, None]
    p = net.backend.to_device(net.init_params(0))
    opt = Adam(net.size, lr=2e-2, clip_norm=5.0, backend=net.backend)
    first, _ = net.loss_and_grads(p, x)
    for _ in range(60):
        _, g = net.loss_and_grads(p, x)
        opt.step(p, g)
    ref = WaveNet(cfg, np.float32, backend="numpy", precision=net.precision)
    final, nll, logits = ref.loss(net.backend.to_host(p), x)
    assert final < first / 100
    assert (logits.argmax(-1) == x[cfg.receptive_field:]).mean() > 0.99
    assert nll.shape == (len(x) - cfg.receptive_field, 1)


# -- the run -------------------------------------------------------------------------------------
def pytest_xdist_auto_num_workers(config):
    """-n auto: one test process per core, at most 4 (the compiled paths use the cores too)."""
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1))


# -- the compute paths -------------------------------------------------------------------------
_cuda_ok, _cuda_why = cuda_status()
_CPU = pytest.param("cpu", marks=pytest.mark.skipif(not cpu_training_available(),
                                                    reason="the Cython kernels are not built"))
_EMULATE = pytest.param("gpu-emulate", marks=pytest.mark.skipif(
    gdev.compiler() is None, reason="no C++ compiler for the GPU emulator"))
_CUDA = pytest.param("gpu-cuda", marks=pytest.mark.skipif(not _cuda_ok,
                                                          reason=f"no GPU: {_cuda_why}"))


def _use(name, monkeypatch):
    """The backend name a WaveNet takes for a fixture's path (the GPU device chosen by the
    environment variable backend="gpu" reads)."""
    if name.startswith("gpu"):
        monkeypatch.setenv("WAVECORE_GPU", "emulate" if name == "gpu-emulate" else "cuda")
        return "gpu"
    return name


@pytest.fixture(params=[_CPU, _EMULATE, _CUDA])
def compiled(request, monkeypatch):
    """Each compiled path: the Cython kernels, the GPU kernels on the emulator, on CUDA."""
    return _use(request.param, monkeypatch)


@pytest.fixture(params=["numpy", _CPU, _EMULATE, _CUDA])
def backend(request, monkeypatch):
    """Every path, the NumPy reference included."""
    return _use(request.param, monkeypatch)


# -- processes -----------------------------------------------------------------------------------
@pytest.fixture(autouse=True, scope="session")
def python_sigint_handler():
    """A test run started in the background from a non-interactive shell (``nohup pytest &``)
    inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler; the tests
    of Ctrl-C handling need it, so it is set explicitly here."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _child_signals():
    # set explicitly, not inherited: a background job's parent may ignore SIGINT
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)


@contextlib.contextmanager
def spawned(cmd, **kw):
    """Popen in a process group of its own with default signal dispositions; on leaving the
    block (passed, failed or timed out) the group is killed: the process and its children."""
    p = subprocess.Popen(cmd, preexec_fn=_child_signals, start_new_session=True, **kw)
    try:
        yield p
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        for f in (p.stdout, p.stderr):
            if f:
                f.close()


def run(cmd, timeout, **kw):
    """subprocess.run through ``spawned``: (returncode, stdout, stderr) as text."""
    with spawned(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw) as p:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err


def cli(*args, timeout=120, **kw):
    """The ``wavecore`` command in a child process."""
    return run([sys.executable, "-m", "wavecore.cli", *map(str, args)], timeout, **kw)


# -- pages in a real browser ----------------------------------------------------------------------
def browser():
    """Chromium's path, or None."""
    import shutil
    for b in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(b):
            return shutil.which(b)
    return None


_PROBE = """<script>window.addEventListener('load', () => {
  const bad = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
                                  .map(i => i.getAttribute('src'));
  document.body.setAttribute('data-broken', JSON.stringify(bad));
  document.body.setAttribute('data-images', String(document.images.length));
  const audio = [...document.querySelectorAll('audio')];
  document.body.setAttribute('data-audio', JSON.stringify(audio.map(a => a.duration || 0)));
});</script>"""


def open_in_browser(page, profile_dir):
    """Load ``page`` in headless Chromium, from a copy beside it (so its relative links hold)
    that records which images failed to load: (DOM after load, number of images, broken srcs).
    The players' durations as loaded (0 where none did) are in the DOM's data-audio."""
    import json
    import re
    probe = os.path.join(os.path.dirname(page), ".probe-" + os.path.basename(page))
    with open(page, encoding="utf-8") as f:
        text = f.read()
    with open(probe, "w", encoding="utf-8") as f:
        f.write(text.replace("</body>", _PROBE + "</body>"))
    try:
        _, dom, _ = run([browser(), "--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--no-first-run", "--virtual-time-budget=15000",
                         f"--user-data-dir={profile_dir}", "--dump-dom", "file://" + probe],
                        timeout=120)
    finally:
        os.unlink(probe)
    broken = re.search(r'data-broken="([^"]*)"', dom)
    images = re.search(r'data-images="(\d+)"', dom)
    assert broken and images, "the page did not finish loading in the browser"
    return dom, int(images.group(1)), json.loads(broken.group(1).replace("&quot;", '"'))
