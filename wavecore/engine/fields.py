"""Each setting's range and command-line flag, declared once beside its dataclass field.

A field made with ``setting(default, "help", range=..., choices=...)`` carries its range (or its
choices) and its flag in its metadata. That one declaration gives both the flag's argparse type
(``add_flags`` puts the flags of some fields of a settings dataclass into an argparse group, and
``given`` reads back the ones the user gave) and the dataclass's own validation (``check_fields``,
called from ``__post_init__``), so a flag and its field cannot disagree. A flag that two commands
share is declared once; ``like`` copies a field of another dataclass, range and all.

A range (``number(kind, low, high, ...)``; COUNT, POSITIVE, ...) holds finite values only unless it
says ``finite=False``: NaN lies outside every range, and so does inf.

>>> steps: int = setting(2000, "total steps", range=COUNT)
>>> log_every: int = setting(10, "steps between log lines", range=COUNT, flag=False)
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import numbers

MISSING = dataclasses.MISSING


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


class Range:
    """Values of one kind (int or float) within [low, high] (either end open or absent), plus the
    literal ``words`` (e.g. "rf"). Callable: the argparse type that parses a flag's text into it."""

    def __init__(self, kind, low=None, high=None, *, low_open=False, high_open=False,
                 finite=True, words=()):
        if kind not in (int, float):
            raise TypeError(f"a range holds int or float, not {kind!r}")
        self.kind, self.low, self.high = kind, low, high
        self.low_open, self.high_open = low_open, high_open
        self.finite, self.words = finite, tuple(words)
        self.__name__ = "int" if kind is int else "number"      # argparse's name for the type

    def __repr__(self):
        args = [self.kind.__name__] + [repr(v) for v in (self.low, self.high)]
        args += [f"{k}={getattr(self, k)!r}" for k in ("low_open", "high_open", "finite", "words")
                 if getattr(self, k) != {"finite": True, "words": ()}.get(k, False)]
        return f"number({', '.join(args)})"

    def _bound(self, side) -> str:
        if side == "low":
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        return f"{'<' if self.high_open else '<='} {_num(self.high)}"

    def _or_words(self) -> str:
        return "".join(f" or {w!r}" for w in self.words)

    def described(self) -> str:
        """The whole range in words: '>= 1', 'in [0, 1)', 'finite', '' (no bound at all)."""
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{_num(self.low)}, {_num(self.high)}"
                    f"{')' if self.high_open else ']'}")
        if self.low is not None:
            return self._bound("low")
        if self.high is not None:
            return self._bound("high")
        return "finite" if self.finite else ""

    def refusal(self, v) -> str | None:
        """Why ``v`` lies outside the range ('must be >= 1, got 0'); None where it lies inside."""
        if isinstance(v, str) and v in self.words:
            return None
        what = "an int" if self.kind is int else "a number"
        if (isinstance(v, bool) or not isinstance(v, numbers.Real)
                or (self.kind is int and not isinstance(v, int))):
            return f"must be {what}{self._or_words()}, got {v!r}"
        if math.isnan(v):
            whole = self.described()
            whole = "a finite number" if whole == "finite" else f"a number {whole}".rstrip()
            return f"must be {whole}{self._or_words()}, got {v}"
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            return f"must be {self._bound('low')}{self._or_words()}, got {_num(v)}"
        if self.high is not None and (v >= self.high if self.high_open else v > self.high):
            return f"must be {self._bound('high')}{self._or_words()}, got {_num(v)}"
        if self.finite and math.isinf(v):
            return f"must be finite{self._or_words()}, got {v}"
        return None

    def __call__(self, text):
        if text in self.words:
            return text
        try:
            v = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if self.kind is int else 'a number'}"
                f"{self._or_words()}, got {text!r}") from None
        why = self.refusal(v)
        if why is not None:
            raise argparse.ArgumentTypeError(why.rsplit(", got ", 1)[0] + f", got {text}")
        return v


def number(kind, low=None, high=None, low_open=False, high_open=False, finite=True, words=()):
    """A Range: kind (int or float) within [low, high] (low excluded with low_open, high with
    high_open), finite unless finite=False, or one of the strings ``words``."""
    return Range(kind, low, high, low_open=low_open, high_open=high_open, finite=finite,
                 words=words)


def parsed(fn):
    """An argparse type from a parser that raises ValueError with its own message."""
    def parse(text):
        try:
            return fn(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = fn.__name__
    return parse


INT, REAL = number(int), number(float)
COUNT, COUNT0 = number(int, 1), number(int, 0)
POSITIVE, NONNEG = number(float, 0, low_open=True), number(float, 0)
PROBABILITY = number(float, 0, 1)


@dataclasses.dataclass(frozen=True)
class Allowed:
    """The values a field may hold: within ``range`` or one of ``choices``; None where
    ``optional``; with ``each``, a non-empty sequence of such values (a flag of nargs="+")."""
    range: Range | None = None
    choices: object = None
    optional: bool = False
    each: bool = False

    def _one(self, v) -> str | None:
        if self.range is not None:
            return self.range.refusal(v)
        if self.choices is not None and v not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}, got {v!r}"
        return None

    def refusal(self, v) -> str | None:
        """Why the field cannot hold ``v`` ('must be >= 1, got 0'), or None where it can."""
        if v is None:
            return None if self.optional else "must be given, got None"
        if not self.each:
            return self._one(v)
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            return f"must be a sequence of values, got {v!r}"
        if not len(v := tuple(v)):
            return "must hold at least one value, got ()"
        why = next((w for w in map(self._one, v) if w is not None), None)
        return None if why is None else f"{why} (of {v})"


def check_fields(obj, error=ValueError) -> None:
    """Raise ``error`` (one line naming the field) where a field of the dataclass ``obj`` lies
    outside the range or choices its ``setting`` declares. Call it from ``__post_init__``."""
    for f in dataclasses.fields(obj):
        allowed = f.metadata.get("allowed")
        why = allowed.refusal(getattr(obj, f.name)) if allowed is not None else None
        if why is not None:
            raise error(f"{type(obj).__name__}.{f.name} {why}")


def setting(default=MISSING, help: str = "", *, flag: str | bool | None = None, range=None,
            low=None, high=None, low_open=False, high_open=False, choices=None,
            optional: bool | None = None, type=None, metavar=None, nargs=None, aliases=(),
            switch=MISSING, default_text: str | None = None, factory=MISSING):
    """A dataclass field with its range and its flag.

    range: a Range (COUNT, number(float, 0, 1), ...), or low=/high= (low_open=, high_open=) for
    one of the default's kind; choices: the values allowed. Either is both the flag's type (or
    argparse choices) and what ``check_fields`` accepts; None is accepted where ``optional``
    (default: where the default is None). type: an argparse type that is not a range (a parser
    of its own; the dataclass checks what it reads by hand).

    The flag is ``--NAME`` (or ``--flag``; flag=False: the field has none; aliases: further
    spellings); switch=V: a flag without a value that sets V; default_text: how the help names a
    default that is not a plain value ("": the help names none); a field without a default is a
    required flag."""
    if low is not None or high is not None:
        if range is not None:
            raise TypeError("give range= or low=/high=, not both")
        kind = builtin_type(default)
        if kind not in (int, float):
            raise TypeError(f"low=/high= take the default's kind (int or float), not {kind}; "
                            "give range=number(kind, ...)")
        range = number(kind, low, high, low_open=low_open, high_open=high_open)
    if range is not None and (type is not None or choices is not None):
        raise TypeError("a field's range is its flag's type: give range= alone "
                        "(number(..., words=...) for words besides the numbers)")
    metadata = {}
    if range is not None or choices is not None:
        metadata["allowed"] = Allowed(range, choices, default is None if optional is None
                                      else optional, each=nargs in ("+", "*"))
    if flag is not False:
        metadata["flag"] = {"help": help, "flag": flag, "type": range if range is not None else
                            type, "choices": choices, "metavar": metavar, "nargs": nargs,
                            "aliases": tuple(aliases), "switch": switch,
                            "default_text": default_text}
    if factory is not MISSING:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


builtin_type = type        # setting() names its argument ``type``, as argparse does


def _field(cls, name) -> dataclasses.Field:
    return {f.name: f for f in dataclasses.fields(cls)}[name]


def like(cls, name: str, *, default=MISSING, help: str | None = None,
         default_text: str | None = None):
    """Field ``name`` of the dataclass ``cls`` again (its range or choices, its flag), for another
    dataclass: with its own default, help or default_text where given. A default of None makes
    None allowed."""
    f = _field(cls, name)
    metadata = dict(f.metadata)
    if "flag" in metadata:
        metadata["flag"] = {**metadata["flag"], **{k: v for k, v in (
            ("help", help), ("default_text", default_text)) if v is not None}}
    if default is None and "allowed" in metadata:
        metadata["allowed"] = dataclasses.replace(metadata["allowed"], optional=True)
    if default is MISSING and f.default_factory is not MISSING:
        return dataclasses.field(default_factory=f.default_factory, metadata=metadata)
    return dataclasses.field(default=f.default if default is MISSING else default,
                             metadata=metadata)


def allowed_of(cls, name: str) -> Allowed | None:
    """What field ``name`` of ``cls`` declares it may hold (None: nothing declared)."""
    return _field(cls, name).metadata.get("allowed")


def _meta(cls, name):
    f = _field(cls, name)
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


def _default_of(f: dataclasses.Field):
    return f.default_factory() if f.default_factory is not MISSING else f.default


def add_flags(group, cls, names, base=None, default: str | None = None) -> None:
    """Add the flags of fields ``names`` of the dataclass ``cls`` to an argparse group. Their
    argparse default is None (the dataclass decides); the help names the default of ``base``
    (an instance; default: the fields' own), or ends with ``default`` instead (e.g. "default:
    the demo's"). A field without a default is a required flag."""
    for name in names:
        m = _meta(cls, name)
        value = _default_of(_field(cls, name)) if base is None else getattr(base, name)
        required = value is MISSING
        if required or (m["default_text"] == "" and not default):
            said = ""
        else:
            said = f" ({default or 'default ' + (m['default_text'] or _shown(value))})"
        kw = {"dest": name, "help": f"{m['help']}{said}".replace("%", "%%")}
        if required:
            kw["required"] = True
        if m["switch"] is not MISSING:
            kw.update(action="store_const", const=m["switch"])
            kw["help"] = m["help"].replace("%", "%%")
        else:
            kw.update({k: m[k] for k in ("type", "choices", "metavar", "nargs")
                       if m[k] is not None})
            if m["metavar"] is None and m["choices"] is None:
                kw["metavar"] = (m["flag"] or name).upper().replace("-", "_")
        group.add_argument(flag_of(cls, name), *m.get("aliases", ()), **kw)


def given(args, cls, names=None) -> dict:
    """{field: value} of the flags of ``cls`` the user gave (argparse leaves the others None)."""
    names = names or [f.name for f in dataclasses.fields(cls) if "flag" in f.metadata]
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
