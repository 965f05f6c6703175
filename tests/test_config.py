import numpy as np
import pytest

from wavecore import ConfigError, WaveNetConfig
from wavecore.engine.config import format_dilations, parse_dilations


def test_receptive_field_and_json_roundtrip():
    cfg = WaveNetConfig()
    assert cfg.dilations == tuple(2 ** i for i in range(10)) * 2
    assert cfg.receptive_field == 2 * 1023 + 2 == 2048
    assert cfg.receptive_field_ms == pytest.approx(128.0)
    assert WaveNetConfig.from_json(cfg.to_json()) == cfg
    odd = WaveNetConfig(gc_ids=3, dilations_override=(1, 3, 9))
    assert odd.receptive_field == 15
    assert WaveNetConfig.from_json(odd.to_json()) == odd


@pytest.mark.parametrize("kw,match", [
    ({"layers": 0}, "layers must be >= 1"),
    ({"residual_channels": 2.5}, "must be an int"),
    ({"classes": 1}, "classes"),
    ({"gc_ids": -1}, "gc_ids"),
    ({"dilations_override": (1, 0)}, "positive"),
])
def test_validation(kw, match):
    with pytest.raises(ConfigError, match=match):
        WaveNetConfig(**kw)


def test_from_json_errors():
    with pytest.raises(ConfigError, match="not valid JSON"):
        WaveNetConfig.from_json("{")
    with pytest.raises(ConfigError, match="unknown WaveNetConfig field"):
        WaveNetConfig.from_json('{"layerz": 3}')


def test_describe_tells_the_truth_about_an_override():
    essay = tuple([1, 1] + [2 ** i for i in range(1, 13)]) * 5           # 70 layers
    cfg = WaveNetConfig(layers=40, dilations_override=essay)              # layers is then unused
    text = cfg.describe()
    assert text.startswith("70 layers, dilations 5x[1, 1, 2, ..., 4096], ")
    assert "receptive field 40962 samples (2560.1 ms" in text
    assert WaveNetConfig(dilations_override=(3, 1)).describe().startswith(
        "2 layers, dilations [3, 1],")
    assert WaveNetConfig(layers=3, stacks=2).describe().startswith("2x3 layers,")


def test_dilation_spec_round_trips_and_reads_the_essays_pattern():
    essay = tuple([1, 1] + [2 ** i for i in range(1, 13)]) * 5
    assert parse_dilations("5x[1, 1, 2, ..., 4096]") == essay
    assert parse_dilations("5 × [1, 1, 2, …, 4096]") == essay
    assert parse_dilations("1, 3, 9, ..., 243 + 2*[7]") == (1, 3, 9, 27, 81, 243, 7, 7)
    rng = np.random.default_rng(0)
    for _ in range(300):                       # exact for any list: format, then parse
        stack = [int(2 ** rng.integers(0, 6)) if rng.random() < 0.7 else int(rng.integers(1, 40))
                 for _ in range(rng.integers(1, 9))]
        d = tuple(stack * int(rng.integers(1, 4)))
        assert parse_dilations(format_dilations(d)) == d, d
    cfg = WaveNetConfig(dilations_override="2x[1, 2, ..., 16]")
    assert cfg.dilations == (1, 2, 4, 8, 16) * 2
    assert WaveNetConfig.from_json(
        '{"dilations_override": "5x[1, 1, 2, ..., 4096]"}').dilations == essay
    assert WaveNetConfig.from_json(cfg.to_json()) == cfg                 # JSON holds the list
    for bad, why in (("", "empty"), ("1, ..., 8", "needs a, b"), ("1, 2, ..., 12", "not reached"),
                     ("1, x", "not a positive"), ("3x[]", "not a positive"),
                     ("1, 0", "not a positive")):
        with pytest.raises(ConfigError, match=why):
            parse_dilations(bad)
