"""Each range is stated once, in its field's ``setting`` (wavecore.engine.fields), and both the
flag's argparse type and the dataclass's check come from it: for every flagged field of every
settings dataclass, a value just outside the range is refused by both and one on the boundary
taken by both; NaN (and inf, where the range holds finite values) is refused by both, naming the
field or the flag; and on the command line a NaN is one line naming the flag, before any file is
written. Dataclasses built here with one side edited by hand show that the check catches it."""
import argparse
import dataclasses
import math

import pytest

from wavecore.cli.main import main
from wavecore.cli.sample import SampleSettings
from wavecore.engine.config import WaveNetConfig
from wavecore.engine.fields import (
    COUNT,
    add_flags,
    allowed_of,
    check_fields,
    flag_of,
    like,
    number,
    setting,
)
from wavecore.study import StudySettings
from wavecore.training import TrainSettings

CLASSES = (WaveNetConfig, TrainSettings, StudySettings, SampleSettings)
NEEDS = {SampleSettings: {"out": "x.wav"}}          # fields without a default
# flagged fields whose values are not a range or a list of choices: a switch, a dilation spec
# (WaveNetConfig checks what parse_dilations reads), a path
FREE = {(WaveNetConfig, "dilations_override"), (StudySettings, "memorise"),
        (StudySettings, "reset_optimizer"), (SampleSettings, "prime"), (SampleSettings, "out")}


class Refused(Exception):
    """argparse's error, raised instead of exiting."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Refused(message)


def _fields(cls, flagged=True):
    return [f for f in dataclasses.fields(cls) if ("flag" in f.metadata) == flagged]


def _each(f) -> bool:
    return f.metadata["allowed"].each


def flag_reads(cls, name, text):
    """What the flag of cls.name reads from ``text`` (raises Refused where argparse refuses)."""
    p = _Parser(prog="t")
    add_flags(p, cls, [name])
    v = getattr(p.parse_args([f"{flag_of(cls, name)}={text}"]), name)
    return tuple(v) if isinstance(v, list) else v


def field_takes(cls, name, value):
    """The dataclass built with ``name=value`` (raises ValueError where it refuses)."""
    return cls(**{**NEEDS.get(cls, {}), name: value})


def _beyond(r, v, d):
    """The next value of r's kind after v, upwards (d=1) or downwards (d=-1)."""
    return v + d if r.kind is int else math.nextafter(v, d * math.inf)


def probes(allowed):
    """(inside, outside): values on the boundary of what ``allowed`` declares (or any value
    inside where the range has no bound), and values just beyond it, NaN and inf among them."""
    r = allowed.range
    if r is None:
        return list(allowed.choices), ["no-such-choice"]
    inside, outside = list(r.words), [math.nan]
    if r.kind is int:
        outside += [1.5, math.inf, -math.inf]
    elif r.finite:
        outside += [math.inf] * (r.high is None) + [-math.inf] * (r.low is None)
    for bound, is_open, d in ((r.low, r.low_open, -1), (r.high, r.high_open, 1)):
        if bound is not None:
            b = r.kind(bound)
            if is_open:                  # the bound itself is outside, the next value in
                inside.append(_beyond(r, b, -d))
                outside.append(b)
            else:
                inside.append(b)
                outside.append(_beyond(r, b, d))
    if r.low is None and r.high is None:
        inside.append(r.kind(0))
    return inside, outside


def _text(v):
    return repr(v) if isinstance(v, float) else str(v)


def disagreements(cls, name) -> list[str]:
    """How the flag of cls.name and the field disagree on the values ``probes`` names."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    inside, outside = probes(f.metadata["allowed"])
    wrap = (lambda v: (v,)) if _each(f) else (lambda v: v)
    out = []
    for v, want in [(v, True) for v in inside] + [(v, False) for v in outside]:
        try:
            read = flag_reads(cls, name, _text(v))
            flag_ok, flag_why = True, ""
        except Refused as e:
            flag_ok, flag_why, read = False, str(e), None
        try:
            field_takes(cls, name, wrap(v))
            field_ok, field_why = True, ""
        except ValueError as e:
            field_ok, field_why = False, str(e)
        if (flag_ok, field_ok) != (want, want):
            out.append(f"{name}={v!r}: flag {'takes' if flag_ok else 'refuses'} it, field "
                       f"{'takes' if field_ok else 'refuses'} it; both should "
                       f"{'take' if want else 'refuse'} it")
        elif want and read != wrap(v):
            out.append(f"{name}={v!r}: the flag reads {read!r}")
        elif not want and not (flag_of(cls, name) in flag_why
                               and field_why.startswith(f"{cls.__name__}.{name} ")):
            out.append(f"{name}={v!r}: not named: {flag_why!r}, {field_why!r}")
    return out


FLAGGED = [(cls, f.name) for cls in CLASSES for f in _fields(cls) if "allowed" in f.metadata]


@pytest.mark.parametrize("cls,name", FLAGGED, ids=[f"{c.__name__}.{n}" for c, n in FLAGGED])
def test_a_flag_and_its_field_refuse_and_take_the_same_values(cls, name):
    assert disagreements(cls, name) == []


def test_every_flag_declares_its_values():
    """No flag has a type or a check of its own but the FREE ones (a switch, a path, a spec)."""
    undeclared = {(cls, f.name) for cls in CLASSES for f in _fields(cls)
                  if "allowed" not in f.metadata}
    assert undeclared == FREE
    assert len(FLAGGED) > 50


UNFLAGGED = [(cls, f.name) for cls in CLASSES for f in _fields(cls, flagged=False)
             if "allowed" in f.metadata]


@pytest.mark.parametrize("cls,name", UNFLAGGED, ids=[f"{c.__name__}.{n}" for c, n in UNFLAGGED])
def test_a_field_without_a_flag_checks_its_range_too(cls, name):
    inside, outside = probes(allowed_of(cls, name))
    for v in inside:
        field_takes(cls, name, v)
    for v in outside:
        with pytest.raises(ValueError, match=rf"^{cls.__name__}\.{name} must be"):
            field_takes(cls, name, v)


FLOATS = [(cls, f.name) for cls in CLASSES for f in dataclasses.fields(cls)
          if "allowed" in f.metadata and getattr(f.metadata["allowed"].range, "kind", 0) is float]


@pytest.mark.parametrize("cls,name", FLOATS, ids=[f"{c.__name__}.{n}" for c, n in FLOATS])
def test_nan_is_refused_by_the_flag_and_the_field_naming_them(cls, name):
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    with pytest.raises(ValueError, match=rf"^{cls.__name__}\.{name} must be a .*got nan"):
        field_takes(cls, name, (math.nan,) if _each(f) else math.nan)
    if "flag" in f.metadata:
        with pytest.raises(Refused, match=rf"^argument {flag_of(cls, name)}: must be .*got nan$"):
            flag_reads(cls, name, "nan")


def test_the_range_of_the_essays_disagreement_is_one_range():
    """replay was <= 0.999 as a flag and < 1 in the dataclass; now both read one declaration."""
    assert flag_reads(StudySettings, "replay", "0.9995") == 0.9995
    assert field_takes(StudySettings, "replay", 0.9995).replay == 0.9995
    with pytest.raises(Refused, match="--replay: must be < 1, got 1"):
        flag_reads(StudySettings, "replay", "1")
    with pytest.raises(ValueError, match=r"StudySettings\.replay must be < 1, got 1"):
        field_takes(StudySettings, "replay", 1.0)


def test_the_sample_flags_shared_with_train_are_trains_fields():
    for name in ("backend", "threads", "precision", "seed"):
        a, b = allowed_of(SampleSettings, name), allowed_of(TrainSettings, name)
        assert (a.range, a.choices) == (b.range, b.choices), name
    assert allowed_of(SampleSettings, "precision").optional        # None: the checkpoint's own
    assert not allowed_of(TrainSettings, "precision").optional


# -- one side edited by hand: the check above catches it -----------------------------------------
REPLAY = number(float, 0, 1, high_open=True)
_declared = setting(0.25, "replay fraction", range=REPLAY)


@dataclasses.dataclass
class FlagEdited:
    """The flag's type written by hand beside the declared range (as replay's once was)."""
    replay: float = dataclasses.field(default=0.25, metadata={
        **_declared.metadata, "flag": {**_declared.metadata["flag"],
                                       "type": number(float, 0, 0.999)}})

    def __post_init__(self):
        check_fields(self)


@dataclasses.dataclass
class FieldEdited:
    """A check of its own in __post_init__, stricter than the declared range."""
    replay: float = setting(0.25, "replay fraction", range=REPLAY)

    def __post_init__(self):
        check_fields(self)
        if not self.replay <= 0.999:
            raise ValueError(f"FieldEdited.replay must be <= 0.999, got {self.replay}")


@dataclasses.dataclass
class Undeclared:
    """The old way: the range as the flag's type only, and again by hand."""
    replay: float = setting(0.25, "replay fraction", type=number(float, 0, 0.999))
    steps: int = setting(3, "steps", low=1)
    seed: int = like(TrainSettings, "seed")

    def __post_init__(self):
        check_fields(self)
        if not 0 <= self.replay < 1:
            raise ValueError(f"Undeclared.replay must lie in [0, 1), got {self.replay}")


@pytest.mark.parametrize("cls", [FlagEdited, FieldEdited])
def test_a_flag_or_field_edited_alone_is_caught(cls):
    (why,) = disagreements(cls, "replay")
    assert why.startswith("replay=0.9999999999999999: flag ")


def test_a_flag_with_a_type_of_its_own_is_caught():
    """A flag typed by hand is one test_every_flag_declares_its_values finds undeclared."""
    assert [f.name for f in _fields(Undeclared) if "allowed" not in f.metadata] == ["replay"]
    assert allowed_of(Undeclared, "steps").range.low == 1
    assert disagreements(Undeclared, "steps") == disagreements(Undeclared, "seed") == []


def test_a_range_is_declared_one_way():
    with pytest.raises(TypeError, match="range= alone"):
        setting(1, "x", range=COUNT, type=int)
    with pytest.raises(TypeError, match="range= or low="):
        setting(1, "x", range=COUNT, low=1)
    with pytest.raises(TypeError, match="default's kind"):
        setting(None, "x", low=1)


# -- the command line ----------------------------------------------------------------------------
@pytest.mark.parametrize("argv,flag", [
    (["study", "a.wav", "--hours", "nan"], "--hours"),
    (["study", "a.wav", "--hours", "inf"], "--hours"),
    (["train", "a.wav", "--out", "d", "--input-snr", "nan"], "--input-snr"),
    (["train", "a.wav", "--out", "d", "--lr", "inf"], "--lr"),
    (["train", "a.wav", "--out", "d", "--steps", "inf"], "--steps"),
    (["study", "a.wav", "--temperatures", "0.5", "nan"], "--temperatures"),
    (["sample", "ck", "--out", "x.wav", "--temperature", "nan"], "--temperature"),
])
def test_nan_and_inf_on_the_command_line_name_the_flag(argv, flag, tmp_path, monkeypatch,
                                                        capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code != 0
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wavecore {argv[0]}: error: argument {flag}: ")
    assert argv[-1] in lines[0], err
    assert list(tmp_path.iterdir()) == []                # nothing written, no --out made
