"""SampleSettings: the flags of ``wavecore sample``, each declared beside its field with its range
(wavecore.engine.fields); those it shares with ``wavecore train`` are TrainSettings' own fields
(``like``), so their choices and ranges are stated once."""
from __future__ import annotations

from dataclasses import dataclass

from ..engine.fields import COUNT, COUNT0, NONNEG, POSITIVE, check_fields, like, setting
from ..training.settings import TrainSettings


@dataclass
class SampleSettings:
    """What ``wavecore sample`` renders, and how (the checkpoint aside)."""
    out: str = setting(help="output WAV", metavar="WAV")
    seconds: float = setting(2.0, "length in seconds", range=POSITIVE)
    samples: int | None = setting(None, "length in samples", range=COUNT, default_text="")
    temperature: float = setting(1.0, "0 = argmax", range=NONNEG)
    prime: str | None = setting(None, "audio the network reads before generating", metavar="WAV",
                                aliases=("--wav_seed", "--wav-seed"), default_text="")
    streams: int = setting(1, "independent renders (OUT_k.wav)", range=COUNT, default_text="")
    seed: int = like(TrainSettings, "seed", help="", default_text="")
    gc: int | None = setting(None, "conditioning id (the clip index) for a model trained with "
                             "--condition", range=COUNT0, metavar="ID", default_text="")
    backend: str = like(TrainSettings, "backend", help="where the sampler runs (auto: the "
                        "compiled CPU loop)", default_text="")
    threads: int | None = like(TrainSettings, "threads", help="", default_text="")
    precision: str | None = like(TrainSettings, "precision", default=None, help="the sampler's "
                                 "products: fp32, bf16 or auto (default: the checkpoint's, where "
                                 "this processor runs it, else fp32)", default_text="")

    def __post_init__(self):
        check_fields(self)                       # every range and choice declared above


# the flags in the order the help lists them; the first two exclude each other
LENGTH = ("seconds", "samples")
FLAGS = ("temperature", "prime", "streams", "seed", "gc", "backend", "threads", "precision", "out")
