import numpy as np
import pytest

from wavecore import WaveNetConfig


@pytest.fixture
def tiny_config():
    """2 stacks x 3 layers, a few channels: the gradient-check config."""
    return WaveNetConfig(layers=3, stacks=2, residual_channels=3, dilation_channels=4,
                         skip_channels=5, classes=7, sample_rate=8000)


def random_batch(cfg, T, B, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, cfg.classes, size=(cfg.receptive_field + T, B))
