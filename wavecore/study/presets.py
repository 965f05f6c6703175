"""Named studies: a model and every study setting, asked for by name (``wavecore study --preset
NAME``); any flag given overrides the preset's value.

- ``demo``: the built-in demo's model and schedule (``wavecore demo``), on any clips: chosen from
  the regime map (bench/regime_map.py, docs/findings.md) to keep song 1 without copying it.
- ``sketch``: for a user's own songs of about 30 s, from a kept cell of the map.
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

from ..analysis import clips as builtin
from ..engine.config import WaveNetConfig
from .settings import StudySettings, study_train_settings

ESSAY_DILATIONS = "5x[1, 1, 2, ..., 4096]"

DESCRIPTIONS = {
    "demo": "the demo's small model and schedule (2 x 8 layers, R = D = 16, 8 kHz, 64 ms; 1200 "
            "steps per stage with input noise 0.1, renders inside each stage)",
    "sketch": "for your own ~30 s songs, a kept cell of the built-in songs' regime map (2 x 8 "
              "layers, R = D = 32, 8 kHz; 8000 steps per stage with input noise 0.1, renders "
              "inside each stage, 3 seeds; 64 M trained samples per stage, about 13 min each on "
              "the 2-core AMD EPYC Zen 4 it was measured on: --plan prices them here). On real "
              "recordings it keeps song 1 in 5 of 18 seeds at best (drascula; etr and "
              "wesnoth 0 of 3), otherwise shared, texture or noise",
    "essay": "the essay's recipe: 70 layers (5x[1, 1, 2, ..., 4096], 2.56 s), S = 1024, windows "
             "of 2 x 96 000, Adam 1e-3 restarted per stage, 100 000 + 20 000 per song, renders "
             "primed by song 1's first receptive field, 6 s at T = 0.9 / 0.7 / 0.6",
}
NAMES = tuple(DESCRIPTIONS)


def demo(quick: bool = False) -> tuple[WaveNetConfig, StudySettings]:
    """A 2 x 8-layer WaveNet (R = D = 16, S = 64: 67 392 parameters; 8 kHz, receptive field
    64 ms); every stage trains 1200 steps of 4 x 2000 samples with input noise 0.1 (each input
    sample moved by 1-3 μ-law codes with probability 0.1, the targets clean); the newest clip is
    also rendered at 1/8, 1/4 and 1/2 of each stage; renders continue 4 s after one receptive
    field, from 3 seeds each (a verdict is a count over seeds). On the full-length songs
    (wavecore.analysis.clips.FULL_SONGS, 17.5 s for song 1) that is a data to capacity of 16.6
    and 69 passes over song 1 in stage 1; it was chosen where the regime map's cells kept song 1
    by measure 1, and by measure 2 its renders after stage 1 are texture (docs/findings.md).
    quick: 150 / 50 steps, 0.9 s renders (a smoke test)."""
    cfg = WaveNetConfig(layers=8, stacks=2, residual_channels=16, dilation_channels=16,
                        skip_channels=64, sample_rate=8000)
    return cfg, StudySettings(memorise=False, steps_per_stage=150 if quick else 1200,
                              later_steps=50 if quick else None, trajectory=1 if quick else 3,
                              prime="rf", render_seconds=0.9 if quick else 4.0, render_seeds=3,
                              train=study_train_settings(input_noise=0.1))


def sketch() -> tuple[WaveNetConfig, StudySettings]:
    """For songs of about 30 s: the regime map's M-17.5s-noise0.1-8000steps cell (by measure 2
    kept in 7 of 9 renders after stage 1, and along it first at 4000 steps) scaled to them:
    2 x 8 layers, R = D = 32, S = 128 (215 936 parameters, a data to capacity of 8.9 on a 30 s
    song at 8 kHz), 8000 steps per stage of 4 x 2000 samples, input noise 0.1, renders at
    1/16 .. 1/2 of each stage and after it, 6 s after one receptive field, from 3 seeds: 64 M
    trained samples per stage (``--plan`` prices them on the machine it runs on; on three 30 s
    songs a 2-core AMD EPYC Zen 4 plans 41 min in all at 82 186 trained samples/s). Chosen on
    the synthesised songs; on real recordings (docs/findings.md) its model at 1200 steps renders
    noise or texture on all three soundtracks, and the preset itself keeps song 1 after stage 1
    at T = 0.7 in 5 of 18 seeds on drascula (1 of 3 in its run of the whole set), 0 of 3 on etr
    (where it renders texture after every stage, a held tone after stage 2) and 0 of 3 on
    wesnoth (texture, and after stage 3 noise that collapses)."""
    cfg = WaveNetConfig(layers=8, stacks=2, residual_channels=32, dilation_channels=32,
                        skip_channels=128, sample_rate=8000)
    return cfg, StudySettings(memorise=False, steps_per_stage=8000, trajectory=4, prime="rf",
                              render_seconds=6.0, render_seeds=3,
                              train=study_train_settings(input_noise=0.1))


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
    return {"demo": demo, "sketch": sketch, "essay": essay}[name]()


def demo_setup(quick: bool = False, **overrides):
    """The demo study: (config, clips, settings): the ``demo`` preset on the three full-length
    built-in songs (wavecore.analysis.clips.FULL_SONGS: 17.5, 15.0 and 13.3 s; quick: their
    first 1 s)."""
    cfg, settings = demo(quick)
    clips = [(name, builtin.get(name, cfg.sample_rate, 1.0 if quick else None))
             for name in builtin.FULL_SONGS]
    return cfg, clips, dataclasses.replace(settings, **overrides)
