"""A study's results, typed: the one reader and writer of ``study.json`` (the progress a resume
goes on from) and ``metrics.json`` (every number, beside the report).

Schema 2 adds ``"schema": 2`` to both files and is otherwise the layout schema 1 had (the files
written before the schema was named), which ``load`` still reads.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field

import numpy as np

from ..analysis import measures
from ..engine.files import atomic_write

SCHEMA = 4                 # 3: every render holds its seed (its index among its cell's); 4: runs
                           # hold measure 2's shared share, places and credit to unheard clips;
                           # each clip's moments, and what each render keeps of them


@dataclass
class Stage:
    """One finished stage."""
    stage: int
    clips: list                    # the clips it held
    steps: int
    end_step: int                  # the global step at its end
    memorised: bool
    checkpoint: str                # its checkpoint, relative to checkpoints/
    seconds: float                 # wall time
    ended: str                     # "memorised", "cap reached" or "fixed"
    time: dict = field(default_factory=dict)   # seconds: training, then each activity's


class _Rendered:
    """What a render file (``path``) has: the spectrogram the report draws of it."""

    @property
    def spectrogram(self) -> str:
        return spectrogram_path(self.path)


@dataclass
class Render(_Rendered):
    """A primed reproduction of a clip; its file holds the prime followed by the continuation."""
    stage: int
    clip: str
    temperature: float
    path: str                      # relative to the study's directory
    step: int
    primed_by: str
    prime_samples: int
    lsd_db: float | None = None    # beside the clip's own continuation (primed by itself)
    follow_s: float | None = None
    resemblance: dict | None = None   # measures.resemblance of the continuation
    runs: dict | None = None       # wavecore.analysis.verbatim.summary of the continuation:
                                   # longest_s, fragment_share, fragments (frames by clip),
                                   # shared_share, places, jumps, unseen_credit, measure,
                                   # level_db, clip_level_db (RMS, dBFS)
    verdict: str | None = None     # one of wavecore.analysis.verbatim.VERDICTS
    seed: int = 0                  # the render's index among its cell's render seeds
    moments: dict | None = None    # ClipMoments.of_render: lift per kind, tones, tone_share,
                                   # loop_s (None: the clip's moments unknown, or before 0.3)


@dataclass
class Unprimed(_Rendered):
    """A render after silence."""
    stage: int
    temperature: float
    path: str
    step: int
    resemblance: dict | None = None
    runs: dict | None = None
    seed: int = 0                  # the render's index among its cell's render seeds
    clip = "unprimed"
    verdict = None
    moments = None


@dataclass
class Timeline:
    """A short render of the newest clip during a stage."""
    stage: int
    step: int
    clip: str
    path: str


@dataclass
class Point:
    """A render inside a stage (the trajectory) of its newest clip, or of any seen clip, at one
    temperature."""
    stage: int
    step: int
    fraction: float                # of the stage's steps
    clip: str
    temperature: float
    path: str
    shares: dict                   # measures.resemblance's shares
    runs: dict                     # as Render.runs
    verdict: str
    moments: dict | None = None    # as Render.moments (None: recorded before points had them)
    seed: int = 0                  # the point's index among its trajectory seeds


@dataclass
class Ewc:
    strength: float                # λ ("lambda" in the files)
    fisher: str
    positions: int
    stages: list = field(default_factory=list)   # per stage: seconds and the Fisher's summary


@dataclass
class Curriculum:
    name: str
    order: str
    replay: float | None = None    # replay's fraction (None for the others)
    ewc: Ewc | None = None


@dataclass
class Record:
    """Everything a study measured, stage by stage. Matrices have one row per scoring (row 0:
    untrained, row s: after stage s) and one column per clip."""
    clips: list                    # names, in the order they are added
    sample_rate: int
    originals: list                # clip j's file as the model hears it, relative
    receptive_field: int
    temperatures: list
    curriculum: Curriculum
    eval_positions: int
    trace_bin_seconds: float
    stages: list = field(default_factory=list)       # [Stage]
    bits: list = field(default_factory=list)         # [stage][clip] teacher-forced bits/sample
    accuracy: list = field(default_factory=list)     # [stage][clip] top-1
    traces: list = field(default_factory=list)       # [stage][clip] binned per-position bits
    renders: list = field(default_factory=list)      # [Render]
    unprimed: list = field(default_factory=list)     # [Unprimed]
    timeline: list = field(default_factory=list)     # [Timeline]
    trajectory: list = field(default_factory=list)   # [Point]
    loss_curve: list = field(default_factory=list)   # [global step, bits, stage]
    monitor: list = field(default_factory=list)      # [global step, stage, [bits of every clip]]
    monitor_every: int | None = None
    trace_blocks: list | None = None   # per clip: {"starts": [...], "bins": n}: the scored blocks
    held_out: dict | None = None   # with a held-out tail: {"fraction", "samples" (where each clip's
                                   # tail starts), "trained" and "tail": {"bits", "accuracy"}
                                   # matrices like the whole clip's}
    measures: dict | None = None       # the continual-learning measures (``measured``)
    moments: dict = field(default_factory=dict)   # {clip: {"from", "moments": [[kind, a, b]]}}:
                                   # wavecore.analysis.moments.ClipMoments of each clip
    references: list = field(default_factory=list)   # names of the clips judged against, never
                                                     # trained on (Study's references)
    reference_files: list = field(default_factory=list)   # their files as the model hears them

    @classmethod
    def new(cls, config, settings, clips, references=()) -> Record:
        """The empty record of a study of ``clips`` (names) with this model and settings, its
        renders judged beside ``references`` (names) too."""
        st = settings
        return cls(
            clips=list(clips), sample_rate=config.sample_rate,
            originals=[os.path.join("originals", f"{k + 1:02d}_{slug(c)}.wav")
                       for k, c in enumerate(clips)],
            references=list(references),
            reference_files=[os.path.join("references", f"{k + 1:02d}_{slug(c)}.wav")
                             for k, c in enumerate(references)],
            receptive_field=config.receptive_field, temperatures=list(st.temperatures),
            curriculum=Curriculum(st.curriculum, st.train.order,
                                  st.replay if st.curriculum == "replay" else None,
                                  None if st.ewc is None
                                  else Ewc(st.ewc, st.ewc_fisher, st.ewc_positions)),
            eval_positions=st.eval_positions, trace_bin_seconds=st.trace_bin_seconds,
            held_out=None if not st.holdout else {
                "fraction": st.holdout, "samples": [],
                "trained": {"bits": [], "accuracy": []}, "tail": {"bits": [], "accuracy": []}})

    def measured(self) -> dict:
        """The continual-learning measures of the stages done so far (over their clips)."""
        S = len(self.stages)
        return {"accuracy": measures.continual_measures(np.array(self.accuracy)[:S + 1, :S]),
                "bits": _bits_measures(np.array(self.bits)[:S + 1, :S])}

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The files' layout (schema 1's keys, plus "schema"); renders carry their spectrogram."""
        d = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in ("renders", "unprimed"):
                v = [{**dataclasses.asdict(r), "spectrogram": r.spectrogram} for r in v]
            elif f.name == "curriculum":
                v = dataclasses.asdict(v)
                if v["ewc"] is not None:
                    v["ewc"] = {"lambda": v["ewc"].pop("strength"), **v["ewc"]}
            elif f.name in ("stages", "timeline", "trajectory"):
                v = [dataclasses.asdict(x) for x in v]
            d[f.name] = v
        return {**d, "schema": SCHEMA}

    @classmethod
    def from_dict(cls, d: dict, where: str = "record") -> Record:
        """A record from either schema; ValueError naming ``where`` when it is not one."""
        version = d.get("schema", 1)
        if version > SCHEMA:
            raise ValueError(f"{where}: written by a newer wavecore (schema {version}; this one "
                             f"reads up to {SCHEMA})")
        try:
            d = dict(d)
            cu = dict(d.pop("curriculum", None) or {"name": "cumulative", "order": "shuffled"})
            ewc = cu.pop("ewc", None)
            cu = Curriculum(**cu, ewc=None if ewc is None else Ewc(
                strength=ewc["lambda"], fisher=ewc["fisher"], positions=ewc["positions"],
                stages=ewc.get("stages", [])))
            strip = ("spectrogram",)
            return cls(**{k: v for k, v in d.items()
                          if k not in ("schema", "stages", "renders", "unprimed", "timeline",
                                       "trajectory")},
                       curriculum=cu,
                       stages=[Stage(**s) for s in d.get("stages", [])],
                       renders=[Render(**_without(r, strip)) for r in d.get("renders", [])],
                       unprimed=[Unprimed(**_without(r, strip)) for r in d.get("unprimed", [])],
                       timeline=[Timeline(**t) for t in d.get("timeline", [])],
                       trajectory=[Point(**p) for p in d.get("trajectory", [])])
        except (TypeError, KeyError) as e:
            raise ValueError(f"{where}: not a study's record ({type(e).__name__}: {e})") from None


def _without(d, keys):
    return {k: v for k, v in d.items() if k not in keys}


def _bits_measures(bits: np.ndarray) -> dict:
    """The measures on -bits, reported back in bits (positive forgetting = more bits now)."""
    m = measures.continual_measures(-bits)
    m["average"] = [-v for v in m["average"]]
    for k in ("bwt", "fwt"):
        if m[k] is not None:
            m[k] = -m[k]           # bits: BWT > 0 means later stages cost bits on old clips
    return m


def slug(name: str) -> str:
    """A clip's name as a file name's part."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def spectrogram_path(render_path: str) -> str:
    """Where the report draws a render's spectrogram, relative to the study's directory."""
    return os.path.join("figures",
                        "spec_" + render_path.replace(os.sep, "_").replace(".wav", ".png"))


# -- the files ------------------------------------------------------------------------------------
def _write_json(path, obj) -> None:
    atomic_write(path, lambda f: json.dump(obj, f, indent=1), "w")


def _read_json(path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read it ({e})") from None


def write_state(out_dir, identity: dict, record: Record) -> None:
    """study.json: what the study is (config, settings, clips) and its record so far."""
    _write_json(os.path.join(out_dir, "study.json"),
                {"identity": identity, "metrics": record.to_dict()})


def read_state(out_dir) -> tuple[dict, Record]:
    """(identity, record) of study.json."""
    path = os.path.join(out_dir, "study.json")
    state = _read_json(path)
    if "identity" not in state or "metrics" not in state:
        raise ValueError(f"{path}: not a study's progress file")
    return state["identity"], Record.from_dict(state["metrics"], path)


def write_metrics(out_dir, record: Record) -> str:
    path = os.path.join(out_dir, "metrics.json")
    _write_json(path, record.to_dict())
    return path


def load(d) -> Record:
    """A study's record: DIR/metrics.json (written after every stage), else DIR/study.json.
    ValueError (naming the file) when neither is there, one is unreadable or no stage ended."""
    for name in ("metrics.json", "study.json"):
        path = os.path.join(d, name)
        if os.path.exists(path):
            if name == "metrics.json":
                record = Record.from_dict(_read_json(path), path)
            else:
                record = read_state(d)[1]
            if not record.stages:
                raise ValueError(f"{path}: no stage has ended yet; there is nothing to show")
            return record
    raise ValueError(f"{d}: neither metrics.json nor study.json is there "
                     "(is it the --out of a study?)")
