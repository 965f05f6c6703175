"""WaveNetConfig: the shape of a model, its receptive field, JSON round trip."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field


class ConfigError(ValueError):
    """A WaveNetConfig field has a value the model cannot use."""


@dataclass(frozen=True)
class WaveNetConfig:
    """Hyper-parameters of a WaveNet (see DESIGN.md §2 for the function).

    Dilations are ``stacks × [1, 2, 4, …, 2**(layers - 1)]``; the receptive
    field is ``sum(dilations) + 2`` samples (the input conv has kernel 2).
    """

    layers: int = 10               # layers per stack
    stacks: int = 2
    residual_channels: int = 32    # R
    dilation_channels: int = 32    # D (gate width)
    skip_channels: int = 256       # S
    classes: int = 256             # A, μ-law levels
    sample_rate: int = 16000
    gc_ids: int = 0                # number of global-conditioning ids (0: none)
    gc_channels: int = 16          # width of the conditioning embedding
    dilations_override: tuple[int, ...] | None = field(default=None)

    def __post_init__(self):
        ints = ("layers", "stacks", "residual_channels", "dilation_channels",
                "skip_channels", "classes", "sample_rate", "gc_ids", "gc_channels")
        for name in ints:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"WaveNetConfig.{name} must be an int, got {v!r}")
        for name in ("layers", "stacks", "residual_channels", "dilation_channels",
                     "skip_channels", "sample_rate", "gc_channels"):
            if getattr(self, name) < 1:
                raise ConfigError(f"WaveNetConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.classes < 2:
            raise ConfigError(f"WaveNetConfig.classes must be >= 2, got {self.classes}")
        if self.gc_ids < 0:
            raise ConfigError(f"WaveNetConfig.gc_ids must be >= 0, got {self.gc_ids}")
        if self.layers > 30 and self.dilations_override is None:
            raise ConfigError(f"WaveNetConfig.layers={self.layers}: dilation 2**{self.layers - 1} is absurd")
        if self.dilations_override is not None:
            d = tuple(self.dilations_override)
            if not d or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in d):
                raise ConfigError(f"WaveNetConfig.dilations_override must be positive ints, got {d!r}")
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
    def from_dict(cls, d: dict) -> "WaveNetConfig":
        if not isinstance(d, dict):
            raise ConfigError(f"a WaveNet config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown WaveNetConfig field(s): {', '.join(unknown)}")
        d = dict(d)
        if d.get("dilations_override") is not None:
            d["dilations_override"] = tuple(d["dilations_override"])
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "WaveNetConfig":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"WaveNet config is not valid JSON: {e}") from None
        return cls.from_dict(d)

    def describe(self) -> str:
        if self.dilations_override is None:
            shape = f"{self.stacks}x{self.layers} layers"
        else:
            d = self.dilations_override
            shown = ", ".join(map(str, d)) if len(d) <= 12 else \
                ", ".join(map(str, d[:6])) + ", …, " + ", ".join(map(str, d[-3:]))
            shape = f"{len(d)} layers (dilations {shown})"
        return (f"{shape}, R={self.residual_channels} "
                f"D={self.dilation_channels} S={self.skip_channels} A={self.classes}, "
                f"receptive field {self.receptive_field} samples "
                f"({self.receptive_field_ms:.1f} ms at {self.sample_rate} Hz)"
                + (f", {self.gc_ids} conditioning ids" if self.gc_ids else ""))
