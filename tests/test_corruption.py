"""Input corruption (--input-noise, --input-snr): counted on the windows it makes, the targets
kept clean, p = 0 leaving the batch as it was, and a resume that stays exact."""
import numpy as np
import pytest
from test_train import CFG, clips, settings

from wavecore.engine import audio
from wavecore.training import Trainer
from wavecore.training.corruption import corrupt, generator, jitter


def test_jitter_moves_the_asked_share_by_one_to_k_codes():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(20000, 4))
    x[:50] = 0                                         # the ends of the range: still always moved
    x[50:100] = 255
    for p in (0.05, 0.3):
        out = jitter(x, p, 3, 256, np.random.default_rng(1))
        moved = out != x
        # binomial: 80 000 draws, 5 standard deviations
        assert abs(moved.mean() - p) < 5 * np.sqrt(p * (1 - p) / x.size)
        step = np.abs(out - x)[moved]
        assert step.min() == 1 and step.max() == 3
        assert set(np.bincount(step)[1:] > 0.3 * moved.sum() / 3) == {True}   # 1, 2, 3 alike
        assert out.min() >= 0 and out.max() <= 255
        assert moved[:100].mean() == pytest.approx(p, abs=0.1)


def test_corrupt_touches_inputs_only_and_returns_clean_targets():
    RF, classes = 15, 256
    x = np.random.default_rng(2).integers(0, classes, size=(RF + 400, 3))
    inputs, y = corrupt(x.copy(), RF, classes, generator(0, 5), p=0.5, snr_db=20.0)
    np.testing.assert_array_equal(y, x[RF:])           # the targets never change
    assert inputs[-1].tolist() == x[-1].tolist()       # the last sample is only a target
    assert (inputs[:-1] != x[:-1]).mean() > 0.5        # jitter at 0.5 and noise at 20 dB


def test_waveform_noise_at_the_asked_snr():
    t = np.arange(40000) / 8000
    a = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    x = audio.mu_law_encode(a)[:, None]
    for snr in (10.0, 30.0):
        inputs, _ = corrupt(np.concatenate([x, x[-1:]]), 1, 256, generator(0, 0), snr_db=snr)
        clean = audio.mu_law_decode(x[:, 0]).astype(np.float64)
        noisy = audio.mu_law_decode(inputs[:-1, 0]).astype(np.float64)
        got = 10 * np.log10(np.mean(clean ** 2) / np.mean((noisy - clean) ** 2))
        assert got == pytest.approx(snr, abs=1.0)


def test_trainer_batches(tmp_path):
    """p = 0: the batch is the windows and nothing else (the same code path as without the
    setting); p > 0: the same windows (the corruption has its own generator), inputs moved at
    about p, targets the clean windows."""
    plain = Trainer(CFG, clips(), settings(batch=8, window=1000))
    noisy = Trainer(CFG, clips(), settings(batch=8, window=1000, input_noise=0.2))
    RF = CFG.receptive_field
    for _ in range(3):
        a, b = plain.sample_windows(), noisy.sample_windows()
        assert a.y is None
        np.testing.assert_array_equal(b.y, a.x[RF:])
        rate = (b.x[:-1] != a.x[:-1]).mean()
        assert 0.17 < rate < 0.23
        np.testing.assert_array_equal(b.x[-1], a.x[-1])


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_resume_with_corruption_is_exact(tmp_path, backend):
    kw = dict(input_noise=0.2, input_snr=25.0, backend=backend)
    straight = Trainer(CFG, clips(), settings(**kw), out_dir=tmp_path / "a")
    straight.train(progress=False)
    part = Trainer(CFG, clips(), settings(**kw), out_dir=tmp_path / "b")
    part.train(12, progress=False)
    resumed = Trainer.resume(tmp_path / "b", clips())
    assert resumed.settings.input_noise == 0.2 and resumed.settings.input_snr == 25.0
    resumed.train(progress=False)
    np.testing.assert_array_equal(resumed.params, straight.params)
    clean = Trainer(CFG, clips(), settings(backend=backend))
    clean.train(progress=False)
    assert not np.array_equal(clean.params, straight.params)   # the corruption reached the step


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="input_noise"):
        settings(input_noise=1.5)
    with pytest.raises(ValueError, match="input_jitter"):
        Trainer(CFG, clips(), settings(input_noise=0.1, input_jitter=128))
