"""Which arithmetic a step's GEMMs run in: "fp32" (the
parameters' own dtype) or "bf16" (operands rounded to bf16, fp32 accumulation; the master
weights, Adam, the gate, the residual stream, the loss and the softmax stay fp32).

The bf16 paths, by what the processor has:

- **AVX512-BF16** (VDPBF16PS, AMD Zen 4 and Intel Cooper Lake / Sapphire Rapids onward): the
  compiled GEMM of wavecore/engine/_cpu/bf16.h. On Zen 4 it issues like an fp32 FMA and does
  twice the work; on Intel cores it runs at half rate, so there it gains nothing over fp32.
- **AMX-BF16 tiles** (Intel Sapphire Rapids onward): not built. This build's kernels were only
  ever run where AMX is absent, and a kernel is not shipped untested; an AMX processor is told
  so by ``describe()`` and runs the AVX512-BF16 path when bf16 is asked for.
- **Neither**: ``bf16`` on the CPU backend is an error. The NumPy backend emulates it
  anywhere, in float32 or float64 (wavecore.engine.ops.bf16: the reference every bf16 kernel
  is compared with).

``auto`` is bf16 where it was measured faster than fp32 (AVX512-BF16 on an AMD processor, the
CPU backend, float32) and fp32 everywhere else. Which precisions a compute path runs, its
backend object says (``Backend.resolve_precision``); this module knows the processor.
"""
from __future__ import annotations

from .kernels import cpu_kernel

PRECISIONS = ("fp32", "bf16", "auto")


class PrecisionError(ValueError):
    """A precision that cannot run here (the message says why, in one line)."""


def features() -> dict:
    """{'avx512_bf16', 'amx_bf16', 'vendor'}: what this processor offers to this build (all
    False where the compiled kernels are not built)."""
    k = cpu_kernel("bf16")
    return k.features() if k is not None else {"avx512_bf16": False, "amx_bf16": False,
                                               "vendor": "unknown"}


def bf16_path() -> str | None:
    """The bf16 kernel path this machine runs ("avx512-bf16"), or None."""
    return "avx512-bf16" if features()["avx512_bf16"] else None


def check(precision: str) -> None:
    """Refuse a precision that is none of PRECISIONS (which of them runs on a path, the path's
    backend object says: ``Backend.resolve_precision``)."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"unknown precision {precision!r}; "
                             f"choose one of {', '.join(PRECISIONS)}")


def bf16_fast() -> bool:
    """Whether this processor's bf16 GEMMs were measured faster than fp32 (AVX512-BF16 on an AMD
    processor: on Intel cores VDPBF16PS runs at half rate)."""
    f = features()
    return bool(f["avx512_bf16"]) and f["vendor"] == "AMD"


def describe() -> str:
    """One line for ``wavecore info``: the bf16 path this machine would run, and what auto picks."""
    f = features()
    if cpu_kernel("bf16") is None:
        return "the compiled kernels are not built; fp32 only (the NumPy backend emulates bf16)"
    amx = "; AMX-BF16 present but not built (untested here)" if f["amx_bf16"] else ""
    if not f["avx512_bf16"]:
        return f"no AVX512-BF16 on this {f['vendor']} processor{amx}; fp32 only (auto = fp32)"
    auto = "bf16" if bf16_fast() else "fp32"
    why = "" if auto == "bf16" else " (VDPBF16PS runs at half rate on Intel cores)"
    return f"AVX512-BF16 kernels on this {f['vendor']} processor{amx}; auto = {auto}{why}"


