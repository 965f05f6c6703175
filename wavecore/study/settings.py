"""StudySettings: every default of ``wavecore study``, each setting's flag declared beside it
(wavecore.engine.fields). The named recipes built from them are in wavecore.study.presets."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..training import curriculum as _curriculum
from ..engine.fields import COUNT, COUNT0, NONNEG, POSITIVE, number, setting
from ..training.settings import TrainSettings


def study_train_settings(**kw) -> TrainSettings:
    """A study's training defaults: a constant learning rate, no step-count checkpoints (one
    per stage, plus the time-based ones), every checkpoint kept."""
    return TrainSettings(**{**dict(batch=4, window=2000, lr=3e-3, schedule="constant", warmup=20,
                                   checkpoint_every=0, keep=1000), **kw})


def prime_value(text):
    """--prime-seconds: seconds, or rf (one receptive field)."""
    return "rf" if text == "rf" else POSITIVE(text)


PRIME_FROM = ("own", "first")


class _Curricula:
    """The registered curricula's names, read when a parser is built (wavecore.training.curriculum)."""

    def __iter__(self):
        return iter(_curriculum.CURRICULA)

    def __contains__(self, name):
        return name in _curriculum.CURRICULA


@dataclass
class StudySettings:
    """Every default of ``wavecore study`` (the command reads them, and their flags, from here)."""
    temperatures: tuple = setting((0.9, 0.7, 0.6), "render temperatures", type=NONNEG, nargs="+")
    memorise: bool = setting(True, "train a fixed number of steps per stage instead of until "
                             "memorised", flag="fixed", switch=False)
    steps_per_stage: int = setting(600, "step cap per stage (or the fixed count with --fixed)",
                                   type=COUNT)
    later_steps: int | None = setting(
        None, "train stages 2.. for exactly this many steps (the original: memorise the first "
        "song, then a fixed number per added song)", type=COUNT, default_text="as stage 1")
    memorised_accuracy: float = setting(
        0.998, "teacher-forced accuracy on the newest clip that ends a stage, in [0, 1] (0 ends a "
        "stage at its first check)", flag="memorised", type=number(float, 0, 1), metavar="ACC")
    check_every: int = 50
    check_positions: int = 8192      # a check scores this many fixed positions of the clip
    score_positions: int | None = 65536  # scoring after a stage: this many fixed positions of
                                     # each clip, in evenly spread blocks (None: every position)
    timeline_every: int = setting(100, "steps between timeline renders, 0: none", type=COUNT0)
    timeline_seconds: float = 0.5
    trajectory: int = setting(0, "render the newest clip at 1/2^N, ..., 1/4, 1/2 of each stage's steps, at "
                              "every temperature, each with its verdict: the way from noise to a copy; "
                              "0: none", type=COUNT0, metavar="N")
    prime: float | str = setting(0.1, "seconds of the original a render reads first, or rf: one "
                                 "receptive field", flag="prime-seconds", type=prime_value,
                                 metavar="SECONDS|rf")
    prime_from: str = setting("own", "own: each clip's render starts from that clip; first: every "
                              "render starts from clip 1, as the essay's code did",
                              choices=PRIME_FROM)
    render_seconds: float = setting(4.0, "continuation each render adds after its prime",
                                    type=POSITIVE)
    unprimed_seconds: float = 1.0
    reset_optimizer: bool = setting(False, "restart Adam's moments and bias correction at every "
                                    "stage; the step count goes on (as the essay's runs did)",
                                    switch=True)
    curriculum: str = setting("cumulative", "what stage k trains on: cumulative: clips 1..k (the "
                              "essay's); sequential: clip k alone; replay: clip k plus --replay of "
                              "the windows from older clips; joint: every clip from stage 1 on, "
                              "the reference", choices=_Curricula())
    replay: float = setting(0.25, "replay: the fraction of windows from earlier clips",
                            type=number(float, 0, 0.999), metavar="F")
    ewc: float | None = setting(None, "elastic weight consolidation of strength LAMBDA: after every "
                                "stage a diagonal Fisher, and a penalty toward that stage's weights",
                                type=NONNEG, metavar="LAMBDA", default_text="none")
    ewc_fisher: str = setting("true", "the Fisher from labels drawn from the model (true) or the "
                              "clips' own next samples (empirical)", choices=_curriculum.FISHERS)
    ewc_positions: int = setting(256, "positions the Fisher is estimated over, per stage",
                                 type=COUNT)
    eval_every: int | None = setting(
        None, "within-stage curves: score every clip every N steps (and 1, 2, 4, ... steps into "
        "each stage); 0: off", type=COUNT0, metavar="N", default_text="the N that costs about 3 % "
        "of training")
    eval_positions: int = setting(2048, "the fixed positions of each clip those scores read",
                                  type=COUNT)
    holdout: float = setting(0.0, "keep the last fraction F of every clip out of training; scoring "
                             "reports that tail beside the trained part (memorising or generalising)",
                             type=number(float, 0, 0.9), metavar="F")
    trim_db: float | None = setting(
        None, "trim each clip's leading and trailing frames quieter than this RMS in dBFS (-20 = "
        "RMS 0.1, the essay's threshold)", type=float, metavar="DB", default_text="no trimming")
    trace_bin_seconds: float = 0.01  # per-position NLL traces are averaged over such bins
    seed: int = 0                    # the renders' seed (the command sets it with the training --seed)
    train: TrainSettings = field(default_factory=study_train_settings)

    def __post_init__(self):
        if isinstance(self.train, dict):
            self.train = TrainSettings(**self.train)
        self.temperatures = tuple(float(t) for t in self.temperatures)
        if not self.temperatures or any(not (t >= 0) for t in self.temperatures):
            raise ValueError(f"temperatures must be >= 0, got {self.temperatures}")
        if self.steps_per_stage < 1 or self.check_every < 1 or (self.later_steps or 1) < 1:
            raise ValueError("steps_per_stage, later_steps and check_every must be >= 1")
        if not 0 <= self.memorised_accuracy <= 1:
            raise ValueError(f"memorised_accuracy must lie in [0, 1], got {self.memorised_accuracy}")
        if self.trajectory < 0:
            raise ValueError(f"trajectory must be >= 0, got {self.trajectory}")
        if self.timeline_every < 0:
            raise ValueError(f"timeline_every must be >= 0, got {self.timeline_every}")
        if self.prime != "rf" and not (isinstance(self.prime, (int, float)) and self.prime > 0):
            raise ValueError(f"prime must be seconds > 0 or 'rf', got {self.prime!r}")
        if self.prime_from not in PRIME_FROM:
            raise ValueError(f"prime_from must be one of {', '.join(PRIME_FROM)}, got {self.prime_from!r}")
        for k in ("render_seconds", "unprimed_seconds", "timeline_seconds"):
            if not getattr(self, k) > 0:
                raise ValueError(f"{k} must be > 0, got {getattr(self, k)}")
        if self.check_positions < 1 or (self.score_positions or 1) < 1 or self.eval_positions < 1:
            raise ValueError("check_positions, score_positions and eval_positions must be >= 1")
        _curriculum.get(self.curriculum)
        if not 0 <= self.holdout <= 0.9:
            raise ValueError(f"holdout must lie in [0, 0.9], got {self.holdout}")
        if not 0 <= self.replay < 1:
            raise ValueError(f"replay must lie in [0, 1), got {self.replay}")
        if self.ewc is not None and not self.ewc >= 0:
            raise ValueError(f"ewc must be >= 0, got {self.ewc}")
        if self.ewc_fisher not in _curriculum.FISHERS or self.ewc_positions < 1:
            raise ValueError(f"ewc_fisher must be one of {_curriculum.FISHERS} and ewc_positions >= 1")
        if self.eval_every is not None and self.eval_every < 0:
            raise ValueError(f"eval_every must be >= 0, got {self.eval_every}")

    def prime_samples(self, config) -> int:
        """The prime's length in samples: one receptive field, or ``prime`` seconds."""
        if self.prime == "rf":
            return config.receptive_field
        return max(1, int(round(self.prime * config.sample_rate)))

    def trained(self, n: int) -> int:
        """How many of a clip's n samples are trained on: all but the held-out tail."""
        return max(2, n - int(round(self.holdout * n)))

    def fixed(self, stage: int) -> bool:
        """Whether ``stage`` trains a fixed number of steps (else: until memorised, at most)."""
        return not self.memorise or (stage > 1 and self.later_steps is not None)

    def steps(self, stage: int) -> int:
        """Steps of ``stage`` (a cap when it ends on memorisation)."""
        return self.later_steps if stage > 1 and self.later_steps is not None else self.steps_per_stage
