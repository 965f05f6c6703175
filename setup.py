"""Builds the Cython kernels under wavecore/engine/_cpu/ (metadata lives in pyproject.toml).

-O3 and OpenMP; no -ffast-math (the kernels are compared with the float64
reference and must keep IEEE semantics) and no -march=native (wheels must run
on any x86-64 / aarch64 machine; _cpu/simd.h adds an AVX2 clone picked at load
time). -fno-trapping-math changes no value: it only lets GCC turn branch-free
selects (x < c ? x : c) into vector code, which it otherwise refuses for fear
of raising floating-point exception flags nobody reads.
"""
import glob
import os
import runpy
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

if sys.platform == "win32":
    compile_args, link_args = ["/O2", "/openmp"], []
elif sys.platform == "darwin":          # Apple clang: OpenMP only with libomp; build serial
    compile_args, link_args = ["-O3"], []
else:
    compile_args, link_args = ["-O3", "-fno-trapping-math", "-fopenmp"], ["-fopenmp"]

# the parameter layout's C constants, generated from wavecore/engine/layout.py (named there once)
_layout = runpy.run_path(os.path.join("wavecore", "engine", "layout.py"))
_header = os.path.join("wavecore", "engine", "_cpu", "layout.h")
if not os.path.exists(_header) or open(_header, encoding="utf-8").read() != _layout["c_header"]():
    with open(_header, "w", encoding="utf-8") as f:
        f.write(_layout["c_header"]())

extensions = [
    Extension(
        f"wavecore.engine._cpu.{os.path.splitext(os.path.basename(src))[0]}",
        [src],
        include_dirs=[np.get_include(), os.path.join("wavecore", "engine", "_cpu")],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for src in sorted(glob.glob(os.path.join("wavecore", "engine", "_cpu", "*.pyx")))
]

setup(ext_modules=cythonize(extensions, language_level=3,
                            compiler_directives={"boundscheck": False, "wraparound": False,
                                                 "cdivision": True, "initializedcheck": False}))
