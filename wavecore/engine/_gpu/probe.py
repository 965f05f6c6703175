"""What the GPU path finds on this machine, as a dict (``wavecore.engine.backends.gpu_report``):
which CuPy (its version, or why it is not importable), the CUDA runtime, driver and NVRTC
versions, the device, and whether the GPU kernels compile and load. With
``WAVECORE_GPU=emulate`` it says so and compiles the kernels for the CPU emulator instead. Every
part is tried on its own and a failure is written into the dict, so the report never raises.
"""
from __future__ import annotations

import os

import numpy as np

from . import device as gdev


def _why(e: BaseException) -> str:
    """An exception as one line."""
    return " ".join(f"{type(e).__name__}: {e}".split())[:500]


def _version(v: int) -> str:
    """CUDA's integer version (13000) as 13.0."""
    return f"{v // 1000}.{v % 1000 // 10}"


def _cuda(report: dict) -> bool:
    """CuPy, the CUDA versions and the device into ``report``; True where a device is usable."""
    try:
        import cupy  # the gpu extra: only when the GPU is asked about
    except Exception as e:                       # ImportError, or a broken CUDA install
        report["cupy"] = {"importable": False, "error": _why(e)}
        return False
    report["cupy"] = {"importable": True, "version": getattr(cupy, "__version__", "?")}
    rt = cupy.cuda.runtime
    for key, get in (("cuda_runtime", rt.runtimeGetVersion), ("cuda_driver", rt.driverGetVersion)):
        try:
            report[key] = _version(int(get()))
        except Exception as e:
            report[key] = None
            report.setdefault("errors", {})[key] = _why(e)
    try:
        from cupy.cuda import nvrtc  # CuPy's NVRTC binding, with CuPy
        report["nvrtc"] = "{:d}.{:d}".format(*nvrtc.getVersion())
    except Exception as e:
        report["nvrtc"] = None
        report.setdefault("errors", {})["nvrtc"] = _why(e)
    try:
        report["devices"] = int(rt.getDeviceCount())
    except Exception as e:
        report["devices"] = 0
        report.setdefault("errors", {})["devices"] = _why(e)
        return False
    if report["devices"] < 1:
        return False
    try:
        dev = cupy.cuda.Device()
        props = rt.getDeviceProperties(dev.id)
        name = props["name"]
        report["device"] = name.decode() if isinstance(name, bytes) else str(name)
        cc = str(dev.compute_capability)
        report["compute_capability"] = f"{cc[:-1]}.{cc[-1]}"
        report["memory_gib"] = round(int(props["totalGlobalMem"]) / 2**30, 1)
        report["multiprocessors"] = int(props["multiProcessorCount"])
    except Exception as e:
        report.setdefault("errors", {})["device"] = _why(e)
        return False
    return True


def _kernels(kind: str) -> dict:
    """Compile every kernel of kernels/*.cu for float32 and float64 on the device ``kind``
    ("cuda": NVRTC, then each function loaded onto the device; "emulate": the host C++ compiler),
    through the same device object backend="gpu" uses."""
    names = list(gdev.signatures(gdev.source()))
    out = {"how": ("NVRTC through cupy.RawModule, each function loaded on the device"
                   if kind == "cuda"
                   else f"the CPU emulator (host C++ compiler {gdev.compiler()})"),
           "kernels": len(names), "dtypes": ["float32", "float64"]}
    try:
        dev = gdev.get(kind)
        for dtype in (np.float32, np.float64):
            for name in names:
                dev.kernel(name, dtype)
        out["ok"] = True
    except Exception as e:
        out["ok"] = False
        out["error"] = _why(e)
    return out


def report(status, compile: bool = True) -> dict:
    """The report (see the module's docstring). status: wavecore.engine.backends.gpu_status (called
    here: whether backend="gpu" can run, and why); compile=False leaves the kernels out."""
    emulate = os.environ.get("WAVECORE_GPU", "") == "emulate"
    rep: dict = {"mode": "emulate" if emulate else "cuda", "cupy": None, "cuda_runtime": None,
                 "cuda_driver": None, "nvrtc": None, "devices": 0, "device": None}
    try:
        rep["available"], rep["reason"] = status()
    except Exception as e:
        rep["available"], rep["reason"] = False, f"the GPU status failed ({_why(e)})"
    try:
        found = _cuda(rep)
    except Exception as e:
        found = False
        rep.setdefault("errors", {})["cuda"] = _why(e)
    if emulate:
        rep["cuda_available"] = found           # a CUDA device besides the emulator
    if not compile:
        rep["kernels"] = {"ok": None, "skipped": "not asked for (compile=False)"}
    elif rep["available"]:
        rep["kernels"] = _kernels("emulate" if emulate else "cuda")
    else:
        rep["kernels"] = {"ok": None, "skipped": rep["reason"]}
    rep["summary"] = summary(rep)
    return rep


def summary(rep: dict) -> str:
    """The report in one line."""
    cupy = rep.get("cupy") or {}
    parts = [f"CuPy {cupy['version']}" if cupy.get("importable") else
             f"CuPy not importable ({cupy.get('error', '?')})"]
    if cupy.get("importable"):
        parts.append(f"CUDA runtime {rep.get('cuda_runtime')}, driver {rep.get('cuda_driver')}, "
                     f"NVRTC {rep.get('nvrtc')}")
        if rep.get("device"):
            parts.append(f"{rep['devices']} device(s), using {rep['device']} "
                         f"(compute capability {rep.get('compute_capability')}, "
                         f"{rep.get('memory_gib')} GiB)")
        else:
            parts.append("no usable CUDA device")
    if rep.get("mode") == "emulate":
        parts.append("WAVECORE_GPU=emulate: backend='gpu' runs on the CPU emulator")
    k = rep.get("kernels", {})
    if k.get("ok"):
        how = "emulator" if rep.get("mode") == "emulate" else "NVRTC"
        parts.append(f"the {k['kernels']} GPU kernels compile ({how}, float32 and float64)")
    elif k.get("ok") is False:
        parts.append(f"the GPU kernels do not compile: {k.get('error')}")
    elif not rep.get("available") and cupy.get("importable"):
        parts.append(f"backend='gpu' unavailable: {rep.get('reason')}")
    return "; ".join(parts)
