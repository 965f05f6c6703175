"""Curricula: what each stage of a study trains on, and elastic weight consolidation.

Stage k of K (clips in the order they are added):
- ``cumulative`` (the essay's): clips 1..k, windows drawn by the trainer's ``sampling``;
- ``sequential``: clip k alone (plain fine-tuning: the classic case of forgetting);
- ``replay``: clip k, plus a fraction ``replay`` of the windows from clips 1..k-1 (split among
  them by the trainer's ``sampling``);
- ``joint``: clips 1..K from stage 1 on: the reference the others' forgetting is read against.
A new one is a ``Curriculum`` passed to ``register``.
The trainer always holds clips 1..k (1..K for joint), so a conditioned model reads clip j with
id j whatever the curriculum; a clip with weight 0 is never drawn.

EWC (``ops/ewc.py``): at the end of every stage the diagonal Fisher of the stage's training
distribution is estimated over ``positions`` single positions, drawn like the stage's windows
(clip by the stage's weights, position uniform), each its own forward and backward pass:
- ``true``: the label is drawn from the model's own predictive distribution at that position
  (the Fisher information of the model; Kirkpatrick et al. 2017);
- ``empirical``: the label is the clip's true next sample (the "empirical Fisher").
F_i = mean over the positions of (d log p(label) / d θ_i)². The draws use their own generator
(seeded by the study's seed and the stage), so they never move the training windows.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..engine.model import Batch
from ..engine.ops.ewc import ewc_backward, ewc_forward

FISHERS = ("true", "empirical")


@dataclass(frozen=True)
class Curriculum:
    """What each stage trains on. ``held(stage, K)``: how many clips (1..n) the trainer holds in
    ``stage`` (1-based); ``weights(stage, base, replay)``: (n,) each held clip's share of the
    stage's windows (sum 1), from ``base`` (the held clips' weights by the trainer's sampling:
    their lengths or ones); ``words``: what stage k trains on, in the report's words (``{replay}``
    is the replay fraction in %)."""
    name: str
    words: str
    held: Callable[[int, int], int]
    weights: Callable[[int, np.ndarray, float], np.ndarray]


CURRICULA: dict[str, Curriculum] = {}


def register(curriculum: Curriculum) -> Curriculum:
    """Make a curriculum known by its name to studies, the command's --curriculum and the report."""
    CURRICULA[curriculum.name] = curriculum
    return curriculum


def _all_held(stage, base, replay):
    return base / base.sum()


def _newest(stage, base, replay):
    w = np.zeros_like(base)
    w[stage - 1] = 1.0
    if stage > 1 and replay > 0:
        w[stage - 1] = 1.0 - replay
        w[:stage - 1] = replay * base[:stage - 1] / base[:stage - 1].sum()
    return w


register(Curriculum("cumulative", "stage k trained on clips 1..k", lambda s, K: s, _all_held))
register(Curriculum("sequential", "stage k trained on clip k alone", lambda s, K: s,
                    lambda s, base, replay: _newest(s, base, 0.0)))
register(Curriculum("replay", "stage k trained on clip k plus {replay:.0f} % of windows from the "
                    "clips before it", lambda s, K: s, _newest))
register(Curriculum("joint", "every stage trained on all clips", lambda s, K: K, _all_held))


def get(name: str) -> Curriculum:
    if name not in CURRICULA:
        raise ValueError(f"curriculum must be one of {', '.join(CURRICULA)}, got {name!r}")
    return CURRICULA[name]


def stage_clips(curriculum: str, stage: int, K: int) -> int:
    """How many clips (1..n) the trainer holds in ``stage`` (1-based)."""
    return get(curriculum).held(stage, K)


def stage_weights(curriculum: str, stage: int, lengths, sampling: str = "length",
                  replay: float = 0.0) -> np.ndarray:
    """(n,) each held clip's share of the stage's windows (sum 1), n = stage_clips(...).
    lengths: the held clips' lengths (samples)."""
    L = np.asarray(lengths, dtype=np.float64)
    return get(curriculum).weights(stage, L if sampling == "length" else np.ones_like(L), replay)


def consolidate(trainer, lam: float, F: np.ndarray) -> None:
    """EWC after a stage: add the penalty of Fisher F toward the trainer's parameters now."""
    if trainer.ewc is None:
        trainer.ewc = EWC(lam, trainer.net.size, trainer.net.backend)
    trainer.ewc.consolidate(F, trainer.params)


class EWC:
    """The consolidated penalty of the stages so far (A, b, c of ops/ewc.py, float64, where the
    trainer's backend keeps arrays) and its strength ``lam``."""

    def __init__(self, lam: float, size: int, backend):
        if not lam >= 0:
            raise ValueError(f"the EWC strength must be >= 0, got {lam}")
        self.lam, self.backend = float(lam), backend
        self.A = backend.zeros(size, np.float64)
        self.b = backend.zeros(size, np.float64)
        self.c = 0.0
        self.stages = 0

    def consolidate(self, fisher: np.ndarray, theta: np.ndarray) -> None:
        """Add the penalty toward theta (the parameters at the end of a stage) weighted by
        fisher (both host arrays)."""
        F = np.asarray(fisher, np.float64)
        t = np.asarray(theta, np.float64)
        self.A += self.backend.to_device(F, np.float64)
        self.b += self.backend.to_device(F * t, np.float64)
        self.c += float((F * t * t).sum())
        self.stages += 1

    def add_to(self, theta, grads) -> float:
        """grads += dP/dθ in place; returns P(θ). Nothing at all when lam == 0 or before the
        first consolidation (so a strength of 0 is bit-identical to no EWC)."""
        if self.lam == 0 or self.stages == 0:
            return 0.0
        penalty, cache = ewc_forward(theta, self.A, self.b, self.c, self.lam)
        grads += ewc_backward(cache).astype(grads.dtype)
        return penalty

    def meta(self) -> dict:
        """The checkpoint's JSON part."""
        return {"lam": self.lam, "c": self.c, "stages": self.stages}

    def arrays(self) -> dict:
        """The checkpoint's arrays (on the host)."""
        return {"ewc_A": self.backend.to_host(self.A), "ewc_b": self.backend.to_host(self.b)}

    @classmethod
    def from_state(cls, meta: dict, arrays: dict, backend) -> EWC:
        e = cls(meta["lam"], len(arrays["ewc_A"]), backend)
        e.A[...] = backend.to_device(arrays["ewc_A"], np.float64)
        e.b[...] = backend.to_device(arrays["ewc_b"], np.float64)
        e.c, e.stages = float(meta["c"]), int(meta["stages"])
        return e


def fisher(trainer, positions: int, kind: str = "true", seed: int = 0) -> np.ndarray:
    """(P,) float64: the diagonal Fisher of the trainer's current training distribution (its
    clips and their weights) at its current parameters, over ``positions`` single positions."""
    if kind not in FISHERS:
        raise ValueError(f"the Fisher must be 'true' or 'empirical', got {kind!r}")
    net, cfg = trainer.net, trainer.config
    rng = np.random.default_rng(seed)
    RF = cfg.receptive_field
    F = np.zeros(net.size)
    for _ in range(positions):
        i = int(rng.choice(len(trainer.clips), p=trainer.clip_weights))
        pad = trainer.padded[i]                                # RF silence, then the clip
        p = int(rng.integers(0, len(pad) - RF))
        x = pad[p:p + RF + 1].copy()[:, None]                  # x: (RF + 1, 1); x[-1] the label
        gc = np.array([i]) if cfg.gc_ids else None
        if kind == "true":
            z = net.logits(trainer.weights, x[:RF], gc)[0, 0].astype(np.float64)   # (A,)
            prob = np.exp(z - z.max())
            x[-1, 0] = rng.choice(len(prob), p=prob / prob.sum())
        _, g = net.loss_and_grads(trainer.weights, Batch(x, gc))
        F += net.backend.to_host(g).astype(np.float64) ** 2
    return F / positions

