"""Every default of ``wavecore train`` (``TrainSettings``, each field with its flag and range,
wavecore.engine.fields) and the learning-rate schedule they define."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..engine.backends import BACKENDS
from ..engine.fields import COUNT, COUNT0, INT, NONNEG, POSITIVE, PROBABILITY, check_fields, setting
from ..engine.precision import PRECISIONS

SCHEDULES = ("cosine", "constant")
SAMPLINGS = ("length", "uniform")
ORDERS = ("shuffled", "in-order")
RECOMPUTE = ("auto", "on", "off")


@dataclass
class TrainSettings:
    """Every default of ``wavecore train``; each field declares its range and its flag here
    (wavecore.engine.fields)."""
    steps: int = setting(2000, "total steps (with --resume: the run's planned total, or a new one)",
                         range=COUNT)
    batch: int = setting(4, "windows per step", range=COUNT)
    window: int = setting(4000, "loss-bearing samples per window", range=COUNT)
    lr: float = setting(2e-3, "peak learning rate", range=POSITIVE)
    schedule: str = setting("cosine", "the learning rate after warm-up: constant, or a cosine down "
                            "to lr * min_lr_ratio at the last step", choices=SCHEDULES)
    warmup: int = setting(50, "linear warm-up steps", range=COUNT0)
    min_lr_ratio: float = setting(0.1, "the cosine's end, a fraction of lr", range=PROBABILITY,
                                  flag=False)
    clip_norm: float = setting(1.0, "global gradient-norm clipping, 0: off", range=NONNEG)
    adam_eps: float = setting(1e-8, "Adam's epsilon", range=POSITIVE)
    sampling: str = setting("length", "draw windows by clip length or uniformly per clip",
                            choices=SAMPLINGS)
    seed: int = setting(0, "seed of the initialisation and the windows (a study's renders too)",
                        range=INT)
    log_every: int = setting(10, "steps between log lines", range=COUNT, flag=False)
    checkpoint_every: int = setting(500, "steps between checkpoints, 0: by time only",
                                    range=COUNT0)
    checkpoint_minutes: float = setting(10.0, "minutes between checkpoints, 0: by steps only",
                                        range=NONNEG)
    keep: int = setting(3, "checkpoints kept, 0: all", range=COUNT0)
    max_bad_steps: int = setting(10, "consecutive non-finite steps before giving up",
                                 range=COUNT0, flag=False)
    dtype: str = "float32"
    backend: str = setting("auto", "compute path", choices=BACKENDS)
    threads: int | None = setting(None, "threads", range=COUNT, default_text="all cores")
    precision: str = setting("fp32", "the GEMMs' arithmetic on the CPU: fp32; bf16 (bf16 operands, "
                             "fp32 accumulation, fp32 master weights; needs AVX512-BF16); auto "
                             "(bf16 where this processor runs it faster, else fp32)",
                             choices=PRECISIONS)
    recompute: str = setting("auto", "recompute gate activations in the backward pass: less memory "
                             "for long windows, about a fifth more time (auto: when keeping them "
                             "would take over a third of the memory available)", choices=RECOMPUTE)
    order: str = setting("shuffled", "shuffled: every window anywhere in its clip; in-order: a "
                         "drawn clip is fed whole as consecutive windows, as the essay's code did",
                         choices=ORDERS)
    input_noise: float = setting(0.0, "input corruption: each input sample moves by 1 to "
                                 "--input-jitter μ-law codes with this probability; the targets "
                                 "stay clean (0: off)", range=PROBABILITY)
    input_jitter: int = setting(3, "the largest move of --input-noise, in μ-law codes",
                                range=COUNT)
    input_snr: float = setting(0.0, "input corruption: Gaussian noise this many dB below each "
                               "window's RMS added to the inputs' waveform (0: off)", range=NONNEG)

    def __post_init__(self):
        check_fields(self)                       # every range and choice declared above

    @property
    def corrupts(self) -> bool:
        return bool(self.input_noise or self.input_snr)


def lr_at(s: TrainSettings, step: int) -> float:
    """The learning rate of step ``step`` (0-based): linear warm-up, then constant or a cosine
    down to lr * min_lr_ratio at step ``s.steps``."""
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    if s.schedule == "constant":
        return s.lr
    frac = min(1.0, (step - s.warmup) / max(1, s.steps - s.warmup))
    return s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def bits(nats: float) -> float:
    return nats / math.log(2)
