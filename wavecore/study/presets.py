"""Named studies: a model and every study setting, asked for by name (``wavecore study --preset
NAME``); any flag given overrides the preset's value.

- ``demo``: the built-in demo's model and schedule (``wavecore demo``), on any clips.
- ``essay``: the recipe behind the essay this project exists for (an artist's WaveNet trained on
  one Public Enemy song, then two, then three, most likely with a fork of
  ibab/tensorflow-wavenet): a 70-layer
  WaveNet, dilations 5 x [1, 1, 2, ..., 4096] (receptive field 40 962 samples, 2.56 s at 16 kHz),
  R = D = 32, S = 1024, 256 μ-law classes; windows of 96 000 loss samples (6 s), batch 2; Adam,
  lr 1e-3 constant, eps 1e-4, no clipping, its moments restarted at every stage; silence trimmed
  (RMS below 0.1, -20 dB); about 100 000 steps on song 1, then 20 000 per added song (fixed
  counts); after every stage, renders at T = 0.9, 0.7, 0.6 primed by song 1's first receptive
  field and continued for 6 s.

>>> config, settings = wavecore.study.presets.get("essay")
"""
from __future__ import annotations

import dataclasses

from .. import clips as builtin
from ..config import WaveNetConfig
from .settings import StudySettings, study_train_settings

ESSAY_DILATIONS = "5x[1, 1, 2, ..., 4096]"

DESCRIPTIONS = {
    "demo": "the demo's small model and schedule (2 x 8 layers, 8 kHz; stage 1 until memorised, "
            "at most 2000 steps, then 500 per clip)",
    "essay": "the essay's recipe: 70 layers (5x[1, 1, 2, ..., 4096], 2.56 s), S = 1024, windows "
             "of 2 x 96 000, Adam 1e-3 restarted per stage, 100 000 + 20 000 per song, renders "
             "primed by song 1's first receptive field, 6 s at T = 0.9 / 0.7 / 0.6",
}
NAMES = tuple(DESCRIPTIONS)


def demo(quick: bool = False) -> tuple[WaveNetConfig, StudySettings]:
    """A 2 x 8-layer WaveNet (R = D = 32, S = 128, 8 kHz, receptive field 64 ms); stage 1 runs
    until the newest clip is memorised (teacher-forced accuracy >= 0.998, at most 2000 steps),
    later stages train 500 steps each; renders continue 4 s after a 0.1 s prime. quick: 150 / 50
    steps, 0.9 s renders (a smoke test)."""
    cfg = WaveNetConfig(layers=8, stacks=2, residual_channels=32, dilation_channels=32,
                        skip_channels=128, sample_rate=8000)
    return cfg, StudySettings(steps_per_stage=150 if quick else 2000, later_steps=50 if quick else 500,
                              memorised_accuracy=0.998, render_seconds=0.9 if quick else 4.0)


def essay() -> tuple[WaveNetConfig, StudySettings]:
    cfg = WaveNetConfig(dilations_override=ESSAY_DILATIONS, residual_channels=32,
                        dilation_channels=32, skip_channels=1024, classes=256, sample_rate=16000)
    train = study_train_settings(batch=2, window=96000, lr=1e-3, schedule="constant", warmup=0,
                                 adam_eps=1e-4, clip_norm=0.0, checkpoint_minutes=30.0)
    return cfg, StudySettings(memorise=False, steps_per_stage=100_000, later_steps=20_000,
                              reset_optimizer=True, trim_db=-20.0, prime="rf", prime_from="first",
                              render_seconds=6.0, temperatures=(0.9, 0.7, 0.6),
                              timeline_every=5000, timeline_seconds=1.0, train=train)


def get(name: str) -> tuple[WaveNetConfig, StudySettings]:
    """(config, settings) of a preset by name."""
    if name not in DESCRIPTIONS:
        raise ValueError(f"unknown preset {name!r}; the presets are {', '.join(NAMES)}")
    return demo() if name == "demo" else essay()


def demo_setup(quick: bool = False, **overrides):
    """The demo study: (config, clips, settings): the ``demo`` preset on the three built-in songs
    (wavecore.clips.SONGS: 4.4, 5.0 and 3.8 s; quick: their first 1 s)."""
    cfg, settings = demo(quick)
    clips = [(name, builtin.get(name, cfg.sample_rate, 1.0 if quick else None)) for name in builtin.SONGS]
    return cfg, clips, dataclasses.replace(settings, **overrides)
