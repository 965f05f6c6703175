"""When something happens during training, counted in steps: the trainer's log and checkpoints
and a study's activities fire on the same ``Every``; ``Clock`` fires on wall time (a checkpoint
every so many minutes)."""
from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Every:
    """Fires every ``k`` steps; with ``doubling`` also after 1, 2, 4, ... < k steps.
    k = 0: never."""
    k: int
    doubling: bool = False

    def fires(self, n: int) -> bool:
        if not self.k:
            return False
        return n % self.k == 0 or (self.doubling and 0 < n < self.k and n & (n - 1) == 0)

    def count(self, steps: int) -> int:
        """How often it fires in ``steps`` steps."""
        if not self.k:
            return 0
        extra = (sum(1 for j in range(64) if 2 ** j < self.k and 2 ** j <= steps)
                 if self.doubling else 0)
        return steps // self.k + extra


@dataclass
class Clock:
    """Fires once ``minutes`` have passed since it was made or last reset. minutes = 0: never."""
    minutes: float
    since: float = 0.0

    def __post_init__(self):
        self.reset()

    def due(self) -> bool:
        return bool(self.minutes) and time.monotonic() - self.since >= 60 * self.minutes

    def reset(self) -> None:
        self.since = time.monotonic()
