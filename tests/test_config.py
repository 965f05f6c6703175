import pytest

from wavecore import ConfigError, WaveNetConfig


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
