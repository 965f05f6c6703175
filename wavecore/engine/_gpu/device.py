"""Where the GPU code runs: CuPy on a CUDA device, or the CPU emulator.

Both compile the same sources (``kernels/common.cuh`` + every ``kernels/*.cu``), once per
element type, and launch kernels through one interface: ``dev.kernel(name, dtype)(grid, block,
*args, shared_mem=0)``, with each argument checked against the kernel's C signature (an array
of the wrong dtype is a bug the emulator and the GPU both refuse). ``dev.gemm`` is cuBLAS on
the GPU and NumPy in the emulator; ``dev.xp`` is cupy or numpy.

The emulator (``CPUEmulator``) compiles the sources with the host C++ compiler and
``kernels/emulate.h`` (threads of a block are fibers; see that header). It exists so that every
kernel and the whole GPU training step and sampler are checked against the NumPy reference on
machines without a GPU; it is slow and never a production path. ``WAVECORE_GPU=emulate`` makes
``backend="gpu"`` use it.
"""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .. import distributed, layout
from .cublas import Cublas

KERNELS = Path(__file__).parent / "kernels"
STEMS = ("input_conv", "gate", "residual_skip", "output_head", "softmax_ce", "optim", "sampler")
_SIGNATURE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+'
                        r'(?:(?:__\w+__|WC_[A-Z_]+)(?:\([^)]*\))?\s*)*'   # attributes
                        r'([a-z]\w*)\s*\(([^)]*)\)')
_SCALARS = {"int": np.int32, "long long": np.int64, "float": np.float32, "double": np.float64}


def source() -> str:
    """The whole kernel source: the parameter layout's constants (generated from
    wavecore/engine/layout.py), the shared prelude, then every stem's file."""
    names = ["common.cuh"] + [f"{s}.cu" for s in STEMS]
    # #line: compiler messages name the kernel file and line, not the concatenation
    return layout.c_header() + "\n".join(
        f'#line 1 "wavecore/engine/_gpu/kernels/{n}"\n' + (KERNELS / n).read_text() for n in names)


def signatures(src: str) -> dict[str, list[tuple[str, bool]]]:
    """kernel name -> [(base type, is_pointer)] for each parameter, parsed from the source."""
    out = {}
    for name, params in _SIGNATURE.findall(src):
        args = []
        for p in params.split(","):
            p = " ".join(p.replace("__restrict__", " ").replace("const", " ").split())
            ptr = "*" in p
            base = p.split("*")[0].strip() if ptr else p.rsplit(" ", 1)[0]
            args.append((base, ptr))
        out[name] = args
    return out


def _ctype(base: str, dtype) -> np.dtype:
    """The NumPy dtype of a kernel parameter's C type (``real`` is the module's dtype)."""
    if base == "real":
        return np.dtype(dtype)
    if base not in _SCALARS:
        raise TypeError(f"kernel parameter type {base!r} has no NumPy dtype here")
    return np.dtype(_SCALARS[base])


def _ld(x) -> int:
    """The leading dimension cuBLAS gets for a row-major 2-D operand (its row stride); a one-row
    view may report any stride. Raises for layouts cuBLAS cannot read."""
    it = x.itemsize
    if x.ndim != 2 or x.strides[1] != it or (x.shape[0] > 1 and x.strides[0] < x.shape[1] * it):
        raise ValueError(f"gemm needs 2-D row-major operands with unit column stride, got "
                         f"shape {x.shape} strides {x.strides}")
    return x.strides[0] // it if x.shape[0] > 1 else max(1, x.shape[1])


class Kernel:
    """One compiled entry point; checks and converts arguments, then launches."""

    def __init__(self, device, name, params, dtype, launch):
        self.device, self.name, self._launch = device, name, launch
        self.params = [(_ctype(base, dtype), ptr) for base, ptr in params]   # (dtype, is pointer)

    def __call__(self, grid, block, *args, shared_mem: int = 0, cluster: int = 1):
        """Launch; ``cluster``: the kernel's __cluster_dims__ (blocks per cluster along x)."""
        if len(args) != len(self.params):
            raise TypeError(f"{self.name} takes {len(self.params)} arguments, got {len(args)}")
        conv = []
        for i, ((want, ptr), a) in enumerate(zip(self.params, args)):
            if ptr:
                if not isinstance(a, self.device.xp.ndarray) or a.dtype != want:
                    raise TypeError(f"{self.name} argument {i}: needs a {want} array, got "
                                    f"{type(a).__name__} {getattr(a, 'dtype', '')}")
                conv.append(a)
            else:
                conv.append(want.type(a))
        grid = tuple(grid) if isinstance(grid, tuple) else (int(grid),)
        block = tuple(block) if isinstance(block, tuple) else (int(block),)
        if grid[0] % cluster:
            raise ValueError(f"{self.name}: grid {grid} is not a whole number of "
                             f"{cluster}-block clusters")
        self.device._run(lambda: self._launch(grid, block, conv, int(shared_mem), int(cluster)))


class Graph:
    """A captured sequence of device work, replayed by ``launch()``: a CUDA graph on the GPU,
    the recorded operations on the emulator."""

    def __init__(self, device):
        self.device, self.ops, self.cuda_graph = device, [], None

    def launch(self) -> None:
        if self.cuda_graph is not None:
            self.device._launch_graph(self.cuda_graph)
        else:
            for op in self.ops:
                op()


class Device:
    """Shared parts of the two devices."""
    name = "?"
    xp = np
    sm_count = 1
    max_shared = 1 << 30              # dynamic shared memory a block may have, bytes
    clusters = True                   # thread-block clusters (the emulator has them)
    tf32 = False                      # float32 GEMMs on TF32 tensor cores (CUDA only)

    def __init__(self):
        self._src = source()
        self._sigs = signatures(self._src)
        self._kernels: dict = {}
        self._dummies: dict = {}
        self._tape = None                 # the emulator's recording, while capturing

    def _run(self, op) -> None:
        """Run one device operation now, or record it while the emulator captures a graph."""
        if self._tape is not None:
            self._tape.append(op)
        else:
            op()

    @contextlib.contextmanager
    def capture(self):
        """Record the device work issued inside the block (kernels, gemm, fill, copy) into a
        Graph instead of running it. Work done any other way (xp operations, host code) is
        not recorded; on the emulator a replay then visibly misses it, which the tests check."""
        g = Graph(self)
        self._tape = g.ops
        try:
            yield g
        finally:
            self._tape = None

    def on_capture_stream(self):
        """Run the block's device work on the stream graphs are captured on (for the warm-up
        before a capture: libraries such as cuBLAS set up per-stream state on first use)."""
        return contextlib.nullcontext()

    def set_tf32(self, on: bool) -> None:
        """TF32 GEMMs (see CudaDevice.set_tf32); the emulator records the mode, so graphs are
        still kept per mode, and computes in full float32."""
        self.tf32 = bool(on)

    def upload(self, dst, host) -> None:
        """dst[...] = host (a NumPy array), into an existing device buffer: no allocation."""
        dst[...] = host

    def allreduce_(self, world, buf) -> None:
        """Sum a buffer over the ranks in place: the emulator's arrays live on the host, so
        through MPI (CUDA uses NCCL)."""
        world.allreduce_(buf)

    def fill(self, a, value) -> None:
        """a[...] = value, as device work."""
        self._run(lambda: self._fill(a, value))

    def copy(self, dst, src) -> None:
        """dst[...] = src (device to device, broadcasting), as device work."""
        def op():
            dst[...] = src
        self._run(op)

    def _fill(self, a, value):
        a[...] = value

    def gemm(self, a, b, out, ta=False, tb=False, beta=0.0):
        """out = op(a) @ op(b) + beta * out on row-major 2-D views; op(x) = x.T when tx."""
        for x in (a, b, out):
            _ld(x)                       # the layouts cuBLAS accepts, checked on both devices
        self._run(lambda: self._gemm(a, b, out, ta, tb, beta))
        return out

    def kernel(self, name: str, dtype) -> Kernel:
        key = (name, np.dtype(dtype))
        if key not in self._kernels:
            self._kernels[key] = Kernel(self, name, self._sigs[name], key[1],
                                        self._compile(name, key[1]))
        return self._kernels[key]

    def dummy(self, dtype):
        """A one-element array for a pointer argument the kernel does not read."""
        dtype = np.dtype(dtype)
        if dtype not in self._dummies:
            self._dummies[dtype] = self.xp.zeros(1, dtype)
        return self._dummies[dtype]

    def grid(self, n: int, block: int = 256) -> int:
        """Blocks for a grid-stride loop over n items."""
        return max(1, min(-(-int(n) // block), self.sm_count * 16))

    def to_host(self, a) -> np.ndarray:
        """A host array of its own (on the emulator device memory is host memory: a copy, so
        the two devices agree that a later kernel does not change it)."""
        return np.array(a)

    def synchronize(self) -> None:
        pass


class CudaDevice(Device):
    """CuPy on the current CUDA device; kernels compiled by NVRTC (cached by CuPy)."""
    name = "cuda"

    def __init__(self):
        import cupy  # CuPy only when the GPU is asked for

        super().__init__()
        self.xp = cupy
        if distributed.launched_size() > 1:        # one GPU per rank, chosen by its local rank
            n = cupy.cuda.runtime.getDeviceCount()
            cupy.cuda.Device(distributed.world().local_rank % n).use()
        dev = cupy.cuda.Device()
        self.sm_count = int(dev.attributes["MultiProcessorCount"])
        self.max_shared = int(dev.attributes.get("MaxSharedMemoryPerBlockOptin", 48 * 1024))
        self.clusters = int(dev.compute_capability) >= 90
        self.description = cupy.cuda.runtime.getDeviceProperties(dev.id)["name"].decode()
        self._modules: dict = {}
        self._capture_stream = None
        self._blas = None
        self._nccl = None                               # the NCCL communicator, made on first use
        self.tf32 = os.environ.get("WAVECORE_TF32", "") == "1"

    def _compile(self, name, dtype):
        import cupy  # CuPy only when the GPU is asked for
        if dtype not in self._modules:
            real = "double" if dtype == np.float64 else "float"
            self._modules[dtype] = cupy.RawModule(code=self._src, options=(
                "-std=c++17", f"-DWC_REAL={real}"))
        fn = self._modules[dtype].get_function(name)
        opted = [48 * 1024]                                     # shared memory without opting in

        def launch(grid, block, args, shared_mem, cluster):     # cluster: fixed in the source
            if shared_mem > opted[0]:
                fn.max_dynamic_shared_size_bytes = opted[0] = shared_mem
            fn(grid, block, tuple(args), shared_mem=shared_mem)
        return launch

    def set_tf32(self, on: bool) -> None:
        """float32 GEMMs on TF32 tensor cores (faster, ~1e-3 relative error per product) or
        strict float32 (the default; WAVECORE_TF32=1 makes TF32 the default). Training steps
        are captured into graphs per mode."""
        self.tf32 = bool(on)
        if self._blas is not None:
            self._blas.set_tf32(self.tf32)

    def _fill(self, a, value):
        a.fill(value)

    def upload(self, dst, host) -> None:
        dst.set(np.ascontiguousarray(host, dtype=dst.dtype))

    def _stream(self):
        import cupy  # CuPy only when the GPU is asked for
        if self._capture_stream is None:
            self._capture_stream = cupy.cuda.Stream(non_blocking=True)
            self._events = [cupy.cuda.Event(disable_timing=True) for _ in range(2)]
        return self._capture_stream

    @contextlib.contextmanager
    def on_capture_stream(self):
        import cupy  # CuPy only when the GPU is asked for
        cur, stream = cupy.cuda.get_current_stream(), self._stream()
        stream.wait_event(cur.record(self._events[0]))
        with stream:
            yield
        cur.wait_event(stream.record(self._events[1]))

    @contextlib.contextmanager
    def capture(self):
        """Stream capture into a CUDA graph, on a stream of this device's own."""
        g = Graph(self)
        stream = self._stream()
        with stream:
            stream.begin_capture()
            try:
                yield g
            finally:
                g.cuda_graph = stream.end_capture()

    def _launch_graph(self, graph) -> None:
        """Replay on the capture stream, ordered after and before the current stream's work."""
        import cupy  # CuPy only when the GPU is asked for
        cur, stream = cupy.cuda.get_current_stream(), self._capture_stream
        stream.wait_event(cur.record(self._events[0]))        # a wait takes the event's state
        graph.launch(stream)                                   # when issued: reusing it is safe
        cur.wait_event(stream.record(self._events[1]))

    def _gemm(self, a, b, out, ta, tb, beta):
        """cuBLAS (our own handle, see cublas.py) on row-major operands."""
        m, n = out.shape
        k = a.shape[0] if ta else a.shape[1]
        if m == 0 or n == 0:
            return out
        if k == 0:
            out *= beta
            return out
        if self._blas is None:                # first used by an eager step, never while capturing
            self._blas = Cublas.load(self.xp)
            self._blas.set_tf32(self.tf32)
        self._blas.set_stream(self.xp.cuda.get_current_stream().ptr)
        # row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T
        self._blas.gemm(out.dtype, tb, ta, n, m, k, 1.0, b.data.ptr, _ld(b), a.data.ptr, _ld(a),
                        beta, out.data.ptr, _ld(out))
        return out

    def to_host(self, a) -> np.ndarray:
        return a.get() if isinstance(a, self.xp.ndarray) else np.asarray(a)

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()

    def allreduce_(self, world, buf) -> None:
        """Sum a device buffer over the ranks in place through NCCL (one communicator per
        process, its id sent from rank 0 over MPI), on the current stream."""
        from cupy.cuda import nccl  # NCCL only for several GPUs
        if self._nccl is None:
            uid = world.bcast(nccl.get_unique_id() if world.rank == 0 else None)
            self._nccl = nccl.NcclCommunicator(world.size, uid, world.rank)
        kind = {np.dtype(np.float32): nccl.NCCL_FLOAT32, np.dtype(np.float64): nccl.NCCL_FLOAT64}
        self._nccl.allReduce(buf.data.ptr, buf.data.ptr, buf.size, kind[buf.dtype], nccl.NCCL_SUM,
                             self.xp.cuda.get_current_stream().ptr)


def compiler() -> str | None:
    """The host C++ compiler the emulator uses (CXX, else c++ / g++ / clang++), or None (also
    on Windows: the emulator's fibers are POSIX ucontext)."""
    if os.name != "posix":
        return None
    for c in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if c and shutil.which(c):
            return shutil.which(c)
    return None


class CPUEmulator(Device):
    """The kernels compiled for the CPU with kernels/emulate.h; NumPy arrays stand for device
    memory. A test and debugging tool: it runs every GPU code path without a GPU."""
    name = "emulator"
    sm_count = 2
    description = "CPU emulator"

    def __init__(self):
        super().__init__()
        self._libs: dict = {}

    def _library(self, dtype):
        if dtype in self._libs:
            return self._libs[dtype]
        cxx = compiler()
        if cxx is None:
            raise RuntimeError("the GPU emulator needs a C++ compiler (set CXX or install g++)")
        real = "double" if dtype == np.float64 else "float"
        wrappers = []
        for name, params in self._sigs.items():
            call = ", ".join(f"*({base}{'*' if ptr else ''}*)a[{i}]"
                             for i, (base, ptr) in enumerate(params))
            wrappers.append(
                f'extern "C" int wc_emu_{name}(unsigned gx, unsigned gy, unsigned gz, unsigned bx, '
                f'unsigned by, unsigned bz, unsigned long long sh, int cl, void** a) {{\n'
                f'  return wc_emu::launch(dim3(gx, gy, gz), dim3(bx, by, bz), sh, cl,\n'
                f'                        [=] {{ {name}({call}); }});\n}}')
        text = self._src + "\n" + "\n".join(wrappers) + "\n"
        header = (KERNELS / "emulate.h").read_text()
        key = hashlib.sha256((header + text + real + cxx).encode()).hexdigest()[:16]
        cache = Path(os.environ.get("WAVECORE_CACHE",
                                    Path(tempfile.gettempdir()) / "wavecore-cache"))
        lib = cache / f"emulate-{real}-{key}.so"
        if not lib.exists():
            cache.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=cache) as tmp:
                src = Path(tmp) / "kernels.cpp"
                src.write_text(text)
                out = Path(tmp) / "k.so"
                r = subprocess.run([cxx, "-std=c++17", "-O1", "-fPIC", "-shared", "-w",
                                    "-include", str(KERNELS / "emulate.h"), f"-DWC_REAL={real}",
                                    str(src), "-o", str(out)], capture_output=True, text=True)
                if r.returncode:
                    raise RuntimeError("compiling the kernels for the emulator failed:\n"
                                       f"{r.stderr[-4000:]}")
                os.replace(out, lib)                       # atomic: another process may race us
        self._libs[dtype] = ctypes.CDLL(str(lib))
        return self._libs[dtype]

    ORDERS = ("forward", "reverse", "shuffle")

    def set_order(self, order: str = "forward", seed: int = 0) -> None:
        """The order in which a block's threads take turns between barriers (see emulate.h):
        results must not depend on it."""
        for dtype in (np.float32, np.float64):
            self._library(np.dtype(dtype)).wc_emu_set_order(self.ORDERS.index(order), seed)

    def _compile(self, name, dtype):
        fn = getattr(self._library(dtype), f"wc_emu_{name}")
        fn.restype = ctypes.c_int
        ctype = {np.dtype(np.int32): ctypes.c_int, np.dtype(np.int64): ctypes.c_longlong,
                 np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}

        def launch(grid, block, args, shared_mem, cluster):
            grid, block = (tuple(grid) + (1, 1))[:3], (tuple(block) + (1, 1))[:3]
            held = []
            for a in args:
                if isinstance(a, np.ndarray):
                    held.append(ctypes.c_void_p(a.ctypes.data))
                else:
                    held.append(ctype[a.dtype](a))
            ptrs = (ctypes.c_void_p * max(1, len(held)))(*[ctypes.addressof(h) for h in held])
            if fn(*grid, *block, ctypes.c_ulonglong(shared_mem), ctypes.c_int(cluster), ptrs):
                raise RuntimeError(f"emulated kernel {name} failed: a bad launch or divergent "
                                   "barriers (see stderr)")
        return launch

    def _gemm(self, a, b, out, ta, tb, beta):
        r = (a.T if ta else a) @ (b.T if tb else b)
        if beta:
            out *= beta
            out += r
        else:
            out[...] = r
        return out


_devices: dict = {}


def get(kind: str | None = None) -> Device:
    """The device for ``backend="gpu"``: CUDA, or the emulator when kind (or the environment
    variable WAVECORE_GPU) is "emulate". One instance per kind per process."""
    kind = kind or ("emulate" if os.environ.get("WAVECORE_GPU", "") == "emulate" else "cuda")
    if kind not in _devices:
        _devices[kind] = CPUEmulator() if kind == "emulate" else CudaDevice()
    return _devices[kind]
