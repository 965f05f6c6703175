"""StudySettings: every default of ``wavecore study``, each setting's flag declared beside it
(wavecore.engine.fields). The named recipes built from them are in wavecore.study.presets."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.fields import (
    COUNT,
    COUNT0,
    INT,
    NONNEG,
    POSITIVE,
    PROBABILITY,
    REAL,
    check_fields,
    number,
    setting,
)
from ..training import curriculum as _curriculum
from ..training.settings import TrainSettings


def study_train_settings(**kw) -> TrainSettings:
    """A study's training defaults: a constant learning rate, no step-count checkpoints (one
    per stage, plus the time-based ones), every checkpoint kept."""
    return TrainSettings(**{**dict(batch=4, window=2000, lr=3e-3, schedule="constant", warmup=20,
                                   checkpoint_every=0, keep=1000), **kw})


PRIME = number(float, 0, low_open=True, words=("rf",))  # seconds, or rf: one receptive field
prime_value = PRIME          # the argparse type of --prime-seconds (and of its old spelling)

PRIME_FROM = ("own", "first")


class _Curricula:
    """The registered curricula's names, read when a parser is built
    (wavecore.training.curriculum)."""

    def __iter__(self):
        return iter(_curriculum.CURRICULA)

    def __contains__(self, name):
        return name in _curriculum.CURRICULA


def prime_length(prime, receptive_field: int, sample_rate: int) -> int:
    """A prime's length in samples: "rf" is one receptive field, a number is seconds."""
    if prime == "rf":
        return receptive_field
    return max(1, int(round(prime * sample_rate)))


@dataclass
class StudySettings:
    """Every default of ``wavecore study`` (the command reads them, and their flags, from here);
    each field declares its range here (wavecore.engine.fields)."""
    temperatures: tuple = setting((0.9, 0.7, 0.6), "render temperatures", range=NONNEG,
                                  nargs="+")
    memorise: bool = setting(True, "train a fixed number of steps per stage instead of until "
                             "memorised", flag="fixed", switch=False)
    steps_per_stage: int = setting(600, "step cap per stage (or the fixed count with --fixed)",
                                   range=COUNT)
    later_steps: int | None = setting(
        None, "train stages 2.. for exactly this many steps (the original: memorise the first "
        "song, then a fixed number per added song)", range=COUNT, default_text="as stage 1")
    memorised_accuracy: float = setting(
        0.998, "teacher-forced accuracy on the newest clip that ends a stage, in [0, 1] (0 ends a "
        "stage at its first check)", flag="memorised", range=PROBABILITY, metavar="ACC")
    check_every: int = setting(50, "steps between memorisation checks", range=COUNT, flag=False)
    check_positions: int = setting(8192, "a check scores this many fixed positions of the clip",
                                   range=COUNT, flag=False)
    score_positions: int | None = setting(
        65536, "scoring after a stage: this many fixed positions of each clip, in evenly spread "
        "blocks (None: every position)", range=COUNT, optional=True, flag=False)
    timeline_every: int = setting(100, "steps between timeline renders, 0: none", range=COUNT0)
    timeline_seconds: float = setting(0.5, "seconds of each timeline render", range=POSITIVE,
                                      flag=False)
    trajectory: int = setting(0, "render the newest clip at 1/2^N, ..., 1/4, 1/2 of each stage's "
                              "steps, at every temperature, each with its verdict: the way from "
                              "noise to a copy; 0: none", range=COUNT0, metavar="N")
    trajectory_clips: str = setting("newest", "what the trajectory renders: the newest clip, or "
                                    "every clip seen so far (an old song's dip and recovery "
                                    "right after a new one arrives: the stability gap)",
                                    choices=("newest", "seen"))
    trajectory_seeds: int = setting(1, "renders per clip and temperature at each trajectory "
                                    "point, each from its own seed (a verdict inside a stage is "
                                    "then a count over seeds)", range=COUNT)
    prime: float | str = setting(0.1, "seconds of the original a render reads first, or rf: one "
                                 "receptive field", flag="prime-seconds", range=PRIME,
                                 metavar="SECONDS|rf")
    prime_from: str = setting("own", "own: each clip's render starts from that clip; first: every "
                              "render starts from clip 1, as the essay's code did",
                              choices=PRIME_FROM)
    render_seconds: float = setting(4.0, "continuation each render adds after its prime",
                                    range=POSITIVE)
    render_seeds: int = setting(1, "renders per clip, stage and temperature, each from its own "
                                "seed (streams of one sampler call): a verdict is then a count "
                                "over seeds", range=COUNT)
    unprimed_seconds: float = setting(1.0, "seconds of each render without a prime",
                                      range=POSITIVE, flag=False)
    later_lr: float | None = setting(
        None, "the learning rate of stages 2.. (stage 1: --lr): what happens at the boundary",
        range=POSITIVE, default_text="as stage 1")
    reset_optimizer: bool = setting(False, "restart Adam's moments and bias correction at every "
                                    "stage; the step count goes on (as the essay's runs did)",
                                    switch=True)
    curriculum: str = setting("cumulative", "what stage k trains on: cumulative: clips 1..k (the "
                              "essay's); sequential: clip k alone; replay: clip k plus --replay of "
                              "the windows from older clips; joint: every clip from stage 1 on, "
                              "the reference", choices=_Curricula())
    replay: float = setting(0.25, "replay: the fraction of windows from earlier clips",
                            range=number(float, 0, 1, high_open=True), metavar="F")
    ewc: float | None = setting(None, "elastic weight consolidation of strength LAMBDA: after "
                                "every stage a diagonal Fisher, and a penalty toward that stage's "
                                "weights", range=NONNEG, metavar="LAMBDA", default_text="none")
    ewc_fisher: str = setting("true", "the Fisher from labels drawn from the model (true) or the "
                              "clips' own next samples (empirical)", choices=_curriculum.FISHERS)
    ewc_positions: int = setting(256, "positions the Fisher is estimated over, per stage",
                                 range=COUNT)
    eval_every: int | None = setting(
        None, "within-stage curves: score every clip every N steps (and 1, 2, 4, ... steps into "
        "each stage); 0: off", range=COUNT0, metavar="N", default_text="the N that costs about 3 % "
        "of training")
    eval_positions: int = setting(2048, "the fixed positions of each clip those scores read",
                                  range=COUNT)
    holdout: float = setting(0.0, "keep the last fraction F of every clip out of training; scoring "
                             "reports that tail beside the trained part (memorising or "
                             "generalising)", range=number(float, 0, 0.9), metavar="F")
    trim_db: float | None = setting(
        None, "trim each clip's leading and trailing frames quieter than this RMS in dBFS (-20 = "
        "RMS 0.1, the essay's threshold)", range=REAL, metavar="DB", default_text="no trimming")
    trace_bin_seconds: float = setting(0.01, "per-position NLL traces are averaged over such bins",
                                       range=POSITIVE, flag=False)
    seed: int = setting(0, "the renders' seed (the command sets it with the training --seed)",
                        range=INT, flag=False)
    train: TrainSettings = field(default_factory=study_train_settings)

    def __post_init__(self):
        if isinstance(self.train, dict):
            self.train = TrainSettings(**self.train)
        if not isinstance(self.temperatures, str) and hasattr(self.temperatures, "__iter__"):
            self.temperatures = tuple(float(t) if isinstance(t, int) and not isinstance(t, bool)
                                      else t for t in self.temperatures)
        check_fields(self)                       # every range and choice declared above
        _curriculum.get(self.curriculum)         # registered since the parser was built

    def prime_samples(self, config) -> int:
        """The prime's length in samples: one receptive field, or ``prime`` seconds."""
        return prime_length(self.prime, config.receptive_field, config.sample_rate)

    def trained(self, n: int) -> int:
        """How many of a clip's n samples are trained on: all but the held-out tail."""
        return max(2, n - int(round(self.holdout * n)))

    def fixed(self, stage: int) -> bool:
        """Whether ``stage`` trains a fixed number of steps (else: until memorised, at most)."""
        return not self.memorise or (stage > 1 and self.later_steps is not None)

    def lr(self, stage: int) -> float:
        """The learning rate of ``stage``: ``later_lr`` for stages 2.. where it is set."""
        return self.later_lr if stage > 1 and self.later_lr is not None else self.train.lr

    def steps(self, stage: int) -> int:
        """Steps of ``stage`` (a cap when it ends on memorisation)."""
        return (self.later_steps if stage > 1 and self.later_steps is not None
                else self.steps_per_stage)
