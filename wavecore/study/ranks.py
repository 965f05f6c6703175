"""Work split across the ranks of an MPI job (wavecore.engine.distributed) and gathered: job i runs
on rank i mod P, and every rank gets every result. One process: all of it, here."""
from __future__ import annotations


def split_gather(world, jobs, run) -> dict:
    """{i: run(jobs[i])} for every job, on every rank; each rank ran its share."""
    mine = {i: run(job) for i, job in enumerate(jobs) if i % world.size == world.rank}
    return {i: v for part in world.allgather(mine) for i, v in part.items()}


def busiest(costs, ranks: int) -> float:
    """The time of the rank that ``split_gather`` gives the most: job i on rank i mod ranks."""
    return max((sum(costs[r::ranks]) for r in range(min(ranks, len(costs)))), default=0.0)
