"""Each setting's command-line flag, declared once beside its dataclass field.

A field made with ``setting(default, "help", type=..., choices=...)`` carries its flag in its
metadata; ``add_flags`` puts the flags of some fields of a settings dataclass into an argparse
group, and ``given`` reads back the ones the user gave. So a default, a range or a list of
choices lives in one place (the dataclass, or the module that defines the choices), and a flag
that two commands share is declared once.

>>> steps: int = setting(2000, "total steps", type=COUNT)
"""
from __future__ import annotations

import argparse
import dataclasses


def number(kind, low=None, high=None, low_open=False):
    """An argparse type: kind (int or float) within [low, high] (low excluded with low_open)."""
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if low is not None and (v <= low if low_open else v < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}, got {text}")
        if high is not None and v > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {text}")
        return v
    return parse


def parsed(fn):
    """An argparse type from a parser that raises ValueError with its own message."""
    def parse(text):
        try:
            return fn(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = fn.__name__
    return parse


COUNT, COUNT0 = number(int, 1), number(int, 0)
POSITIVE, NONNEG = number(float, 0, low_open=True), number(float, 0)


def setting(default=dataclasses.MISSING, help: str = "", *, flag: str | None = None, type=None,
            choices=None, metavar=None, nargs=None, switch=dataclasses.MISSING,
            default_text: str | None = None, factory=dataclasses.MISSING):
    """A dataclass field with its flag: ``--NAME`` (or ``--flag``) of ``type``, one of
    ``choices``; switch=V: a flag without a value that sets V; default_text: how the help names a
    default that is not a plain value."""
    meta = {"help": help, "flag": flag, "type": type, "choices": choices, "metavar": metavar,
            "nargs": nargs, "switch": switch, "default_text": default_text}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata={"flag": meta})
    return dataclasses.field(default=default, metadata={"flag": meta})


def _meta(cls, name):
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    if "flag" not in f.metadata:
        raise KeyError(f"{cls.__name__}.{name} declares no flag")
    return f.metadata["flag"]


def flag_of(cls, name: str) -> str:
    """The flag of field ``name`` of ``cls``: ``--name-with-dashes`` unless it names another."""
    return "--" + (_meta(cls, name)["flag"] or name).replace("_", "-")


def _shown(v) -> str:
    if isinstance(v, (tuple, list)):
        return " ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def add_flags(group, cls, names, base=None, default: str | None = None) -> None:
    """Add the flags of fields ``names`` of the dataclass ``cls`` to an argparse group. Their
    argparse default is None (the dataclass decides); the help names the default of ``base``
    (an instance; default: ``cls()``), or ends with ``default`` instead (e.g. "default: the
    demo's")."""
    base = cls() if base is None else base
    for name in names:
        m = _meta(cls, name)
        value = getattr(base, name)
        said = default or f"default {m['default_text'] or _shown(value)}"
        kw = {"dest": name, "help": f"{m['help']} ({said})".replace("%", "%%")}
        if m["switch"] is not dataclasses.MISSING:
            kw.update(action="store_const", const=m["switch"])
            kw["help"] = m["help"].replace("%", "%%")
        else:
            kw.update({k: m[k] for k in ("type", "choices", "metavar", "nargs") if m[k] is not None})
            if m["metavar"] is None and m["choices"] is None:
                kw["metavar"] = (m["flag"] or name).upper().replace("-", "_")
        group.add_argument(flag_of(cls, name), **kw)


def given(args, cls, names=None) -> dict:
    """{field: value} of the flags of ``cls`` the user gave (argparse leaves the others None)."""
    names = names or [f.name for f in dataclasses.fields(cls) if "flag" in f.metadata]
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
