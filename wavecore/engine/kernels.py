"""The compiled CPU kernels (wavecore/engine/_cpu), found by stem: one lookup for every caller, and
None where the Cython extensions are not built (the NumPy reference then runs)."""
from __future__ import annotations

import importlib
import os

# Idle OpenMP threads that spin steal the cores that BLAS and NumPy work between kernel calls
# needs (when BLAS threads and OpenMP took turns on 2 cores, a reference-config step took
# 1.54 s spinning and 0.80 s passive). The training step keeps BLAS single-threaded inside
# its OpenMP blocks, where the two policies measure within 3 %; passive stays the default so
# that nothing spins while Python evaluates, renders or writes. A value the user set wins;
# it must be set before the first kernel loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_kernels: dict = {}


def cpu_kernel(stem: str):
    """The compiled module ``wavecore.engine._cpu.<stem>``, or None when it is not built."""
    if stem not in _kernels:
        try:
            _kernels[stem] = importlib.import_module(f"wavecore.engine._cpu.{stem}")
        except ImportError:
            _kernels[stem] = None
    return _kernels[stem]
