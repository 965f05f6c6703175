"""WaveNetConfig: the shape of a model, its receptive field, JSON round trip."""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass

from ..pages import render
from . import layout
from .fields import COUNT, COUNT0, check_fields, number, parsed, setting


class ConfigError(ValueError):
    """A WaveNetConfig field has a value the model cannot use."""


@dataclass(frozen=True)
class WaveNetConfig:
    """Hyper-parameters of a WaveNet (the function is in docs/internals.md, "The model").

    Dilations are ``stacks × [1, 2, 4, …, 2**(layers - 1)]``, or any list given as
    ``dilations_override`` (a list, or a spec string such as ``"5x[1, 1, 2, ..., 4096]"``: see
    ``parse_dilations``); the receptive field is ``sum(dilations) + 2`` samples (the input conv
    has kernel 2).
    """

    layers: int = setting(10, "layers per stack", range=COUNT)
    stacks: int = setting(2, "stacks", range=COUNT)
    residual_channels: int = setting(32, "residual channels R", flag="residual", range=COUNT)
    dilation_channels: int = setting(32, "gate channels D", flag="dilation", range=COUNT)
    skip_channels: int = setting(256, "skip channels S", flag="skip", range=COUNT)
    classes: int = setting(256, "μ-law classes A", range=number(int, 2))
    sample_rate: int = setting(16000, "Hz", range=COUNT)
    gc_ids: int = setting(0, "number of global-conditioning ids (0: none)", range=COUNT0,
                          flag=False)
    gc_channels: int = setting(16, "width of the conditioning embedding", range=COUNT,
                               flag=False)
    dilations_override: tuple[int, ...] | None = setting(
        None, "the dilation of every layer, e.g. '5x[1, 1, 2, ..., 4096]' (the essay's 70 layers) "
        "or '1, 2, 4, 8'; replaces --layers and --stacks", flag="dilations",
        type=parsed(lambda text: parse_dilations(text)), metavar="SPEC", default_text="--stacks x "
        "[1, 2, ..., 2^(layers - 1)]")

    def __post_init__(self):
        check_fields(self, ConfigError)          # every range declared above
        if self.layers > 30 and self.dilations_override is None:
            raise ConfigError(f"WaveNetConfig.layers={self.layers}: "
                              f"dilation 2**{self.layers - 1} is absurd")
        if isinstance(self.dilations_override, str):
            object.__setattr__(self, "dilations_override", parse_dilations(self.dilations_override))
        if self.dilations_override is not None:
            d = tuple(self.dilations_override)
            if not d or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in d):
                raise ConfigError(f"WaveNetConfig.dilations_override must be positive ints, "
                                  f"got {d!r}")
            object.__setattr__(self, "dilations_override", d)

    @property
    def dilations(self) -> tuple[int, ...]:
        if self.dilations_override is not None:
            return self.dilations_override
        return tuple(2 ** i for i in range(self.layers)) * self.stacks

    @property
    def n_layers(self) -> int:
        return len(self.dilations)

    @property
    def receptive_field(self) -> int:
        """Samples the last output sees: sum(dilations) + 2."""
        return sum(self.dilations) + 2

    @property
    def receptive_field_ms(self) -> float:
        return 1000.0 * self.receptive_field / self.sample_rate

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if d["dilations_override"] is not None:
            d["dilations_override"] = list(d["dilations_override"])
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> WaveNetConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"a WaveNet config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown WaveNetConfig field(s): {', '.join(unknown)}")
        d = dict(d)
        if isinstance(d.get("dilations_override"), list):     # a list, or a spec string
            d["dilations_override"] = tuple(d["dilations_override"])
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> WaveNetConfig:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"WaveNet config is not valid JSON: {e}") from None
        return cls.from_dict(d)

    def _repr_html_(self) -> str:
        """In Jupyter: its layers, receptive field in samples and ms, channels, parameters."""
        rows = [("layers", f"{self.n_layers} (dilations {format_dilations(self.dilations)})"),
                ("receptive field", f"{self.receptive_field:,} samples = "
                                    f"{self.receptive_field_ms:.1f} ms at {self.sample_rate:,} Hz"),
                ("channels", f"residual {self.residual_channels}, gate {self.dilation_channels}, "
                             f"skip {self.skip_channels}, {self.classes} μ-law classes"),
                ("parameters", f"{layout.size(self):,}"),
                ("conditioning", f"{self.gc_ids} ids" if self.gc_ids else "none")]
        return render("config.html", rows=rows)          # (wavecore/pages/templates)

    def describe(self) -> str:
        if self.dilations_override is None:
            shape = f"{self.stacks}x{self.layers} layers"
        else:
            shape = f"{len(self.dilations_override)} layers, dilations " \
                f"{format_dilations(self.dilations_override)}"
        return (f"{shape}, R={self.residual_channels} "
                f"D={self.dilation_channels} S={self.skip_channels} A={self.classes}, "
                f"receptive field {self.receptive_field} samples "
                f"({self.receptive_field_ms:.1f} ms at {self.sample_rate} Hz)"
                + (f", {self.gc_ids} conditioning ids" if self.gc_ids else ""))


def format_dilations(d) -> str:
    """A short exact spelling of a dilation list that parse_dilations reads back: the repeated
    stack as ``Nx[...]``, and runs of four or more doublings as ``a, 2a, ..., b``.

    >>> format_dilations([1, 1, 2, 4, 8, 16] * 2)
    '2x[1, 1, 2, ..., 16]'
    """
    d = [int(x) for x in d]
    n = len(d)
    p = next(p for p in range(1, n + 1) if n % p == 0 and d == d[:p] * (n // p))
    out, i, stack = [], 0, d[:p]
    while i < p:
        j = i
        while j + 1 < p and stack[j + 1] == 2 * stack[j]:
            j += 1
        if j - i >= 3:                          # a, 2a, ..., b: the ellipsis needs two before it
            out += [str(stack[i]), str(stack[i + 1]), "...", str(stack[j])]
            i = j + 1
        else:
            out.append(str(stack[i]))
            i += 1
    body = "[" + ", ".join(out) + "]"
    return body if n == p else f"{n // p}x{body}"


def parse_dilations(spec: str) -> tuple[int, ...]:
    """Dilations from a spec: comma-separated positive ints, where ``...`` (or ``…``) between
    ``a, b`` and ``c`` continues the ratio b / a up to c; a bracketed list may be repeated with
    ``Nx[...]`` (also ``N*`` or ``N×``), and several parts may be joined by ``+``.

    >>> parse_dilations("5x[1, 1, 2, ..., 4096]")[:15]
    (1, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 1)
    """
    text = spec.strip()
    if not text:
        raise ConfigError("empty dilation spec")
    out: list[int] = []
    for part in text.split("+"):
        part = part.strip()
        m = re.fullmatch(r"(?:(\d+)\s*[x*×]\s*)?\[(.*)\]", part)
        times, body = (int(m.group(1) or 1), m.group(2)) if m else (1, part)
        out += _dilation_list(body, spec) * times
    if not out:
        raise ConfigError(f"dilation spec {spec!r} gives no layers")
    return tuple(out)


def _dilation_list(body: str, spec: str) -> list[int]:
    items = [t.strip() for t in body.replace("…", "...").split(",")]
    out: list[int] = []
    for k, t in enumerate(items):
        if t == "...":
            if len(out) < 2 or k + 1 >= len(items) or out[-2] <= 0 or out[-1] % out[-2]:
                raise ConfigError(f"dilation spec {spec!r}: '...' needs a, b before it (b a "
                                  "multiple of a) and the last value after it")
            continue
        if not re.fullmatch(r"\d+", t) or int(t) < 1:
            raise ConfigError(f"dilation spec {spec!r}: {t!r} is not a positive integer")
        v = int(t)
        if k and items[k - 1] == "...":
            r, x = out[-1] // out[-2], out[-1]
            if r < 2:
                raise ConfigError(f"dilation spec {spec!r}: '...' needs a growing ratio before it")
            while x * r < v:
                x *= r
                out.append(x)
            if x * r != v:
                raise ConfigError(f"dilation spec {spec!r}: {v} is not reached from {out[-1]} by "
                                  f"steps of x{r}")
        out.append(v)
    return out
