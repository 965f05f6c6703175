"""Data-parallel training over MPI: which process this is, and the few collectives a step needs.

``world()`` is the job this process belongs to. Started by ``mpiexec -n P`` (or srun) with
P > 1, it is an MPI communicator (mpi4py, imported only then); otherwise a single process
and mpi4py is never imported. The launch is recognised from the environment the launcher
sets (MPICH/Hydra and Intel MPI: ``PMI_SIZE``; Open MPI: ``OMPI_COMM_WORLD_SIZE``; Slurm's PMI:
``PMI_SIZE``/``SLURM_NTASKS`` with ``PMI_RANK``).

What a data-parallel step means here (wavecore.training.trainer): every rank draws the same
global batch from the run's seeded generator, computes the gradient of its share of the windows
weighted by its share, and one in-place Allreduce of the flat gradient buffer sums them; every
rank then applies the same Adam update. So the parameters do not depend on the number of ranks
except through the order of floating-point summation.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os

import numpy as np

_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")


def launched_size() -> int:
    """The number of processes the launcher started (1 when not started by one)."""
    for var in _SIZE_VARS:
        v = os.environ.get(var, "")
        if v.isdigit() and int(v) > 0:
            return int(v)
    return 1


def mpi_available() -> bool:
    """Whether mpi4py is installed (the ``mpi`` extra), without importing it."""
    return importlib.util.find_spec("mpi4py") is not None


class Single:
    """One process: every collective is the identity."""
    rank, size, local_rank, local_size = 0, 1, 0, 1

    def allreduce_(self, buf) -> None:
        """Sum ``buf`` over the ranks, in place."""

    def allgather(self, obj) -> list:
        return [obj]

    def bcast(self, obj):
        return obj

    def barrier(self) -> None:
        pass


class World(Single):
    """The MPI job: COMM_WORLD, and the ranks on this host (a shared-memory split)."""

    def __init__(self):
        from mpi4py import MPI  # the mpi extra, only under mpiexec
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        local = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_rank, self.local_size = local.Get_rank(), local.Get_size()
        local.Free()

    def allreduce_(self, buf) -> None:
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)

    def allgather(self, obj) -> list:
        return self.comm.allgather(obj)

    def bcast(self, obj):
        return self.comm.bcast(obj, root=0)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int) -> None:
        """End every rank of the job now (a rank that failed alone would leave the others
        waiting in a collective)."""
        self.comm.Abort(code)


_world = None


def world() -> Single:
    """This process's job (made once): World under an MPI launcher with P > 1, else Single."""
    global _world
    if _world is None:
        if launched_size() > 1:
            try:
                _world = World()
            except ImportError:
                raise RuntimeError("started by an MPI launcher with several processes, but mpi4py "
                                   "is not installed: pip install 'wavecore[mpi]'") from None
        else:
            _world = Single()
    return _world


def share(n: int, w: Single) -> tuple[int, int]:
    """Rank w.rank's contiguous share [lo, hi) of n items (the first n mod P ranks get one more)."""
    q, r = divmod(n, w.size)
    lo = w.rank * q + min(w.rank, r)
    return lo, lo + q + (w.rank < r)


def digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def check_same(w: Single, params: np.ndarray, what: str) -> None:
    """Every rank must hold the same parameters; a mismatch names the ranks that differ."""
    if w.size == 1:
        return
    got = w.allgather(digest(params))
    if len(set(got)) > 1:
        off = [r for r, d in enumerate(got) if d != got[0]]
        raise RuntimeError(f"{what}: the parameters of rank(s) {', '.join(map(str, off))} differ "
                           f"from rank 0's (checksums {', '.join(got)}); stopping the job")
