"""The resemblance measure (wavecore.analysis.measures.resemblance) on constructed cases, each
with the number it must reach."""
import numpy as np
import pytest

from wavecore.analysis import clips
from wavecore.analysis.measures import SILENCE_DBFS, Sources, log_mel, mel_filters, resemblance
from wavecore.engine import audio

SR = 8000


def heard(x):
    """As the model hears and renders it: through μ-law."""
    return audio.mu_law_decode(audio.mu_law_encode(np.asarray(x, np.float64)))


@pytest.fixture(scope="module")
def sources():
    t = np.arange(3 * SR) / SR
    sweep = 0.5 * np.sin(2 * np.pi * np.cumsum(200 + 900 * t) / SR)     # every moment unique
    named = [("hype", heard(clips.get("hype", SR, 3.0))),
             ("chant", heard(clips.get("chant", SR, 3.0))), ("sweep", heard(sweep))]
    return Sources(named, SR), dict(named)


def test_mel_filters_cover_every_band_and_log_mel_reads_a_sine_at_its_level():
    W = mel_filters(SR, 512, 64)
    assert W.shape == (64, 257) and (W.sum(axis=1) > 0).all()
    F, level = log_mel(0.5 * np.sin(2 * np.pi * 1000 * np.arange(SR) / SR), SR)
    assert F.shape[1] == 64 and np.allclose(level, 20 * np.log10(0.5 / np.sqrt(2)), atol=0.1)
    ms = 10 * np.log10(0.5 ** 2 / 2)                     # the sine's power, in one or two bands
    assert ms - 3.5 < F.max() < ms + 0.5


def test_a_clip_rendered_verbatim_is_that_clip(sources):
    S, named = sources
    r = resemblance(named["hype"][333:], S)            # off the frame grid by 333 samples
    assert r["shares"]["hype"] >= 0.95
    assert sum(r["shares"].values()) == pytest.approx(1.0)
    # a clip with silent gaps: its gaps read as silence, exactly as often as in the clip
    r = resemblance(named["chant"], S)
    _, level = log_mel(named["chant"], SR)
    assert r["shares"]["chant"] + r["shares"]["silence"] >= 0.95
    assert r["shares"]["silence"] == pytest.approx((level < SILENCE_DBFS).mean(), abs=0.02)


def test_white_noise_is_noise(sources):
    S, _ = sources
    for level in (0.05, 0.2, 0.6):
        x = heard(level * np.random.default_rng(1).standard_normal(2 * SR))
        assert resemblance(x, S)["shares"]["noise"] >= 0.95


def test_quiet_hiss_is_noise_not_new_sound(sources):
    """Hiss far below every clip frame, down to just above the silence gate, is noise."""
    S, _ = sources
    rng = np.random.default_rng(4)
    for db in (-40.0, -50.0, -57.0):
        x = heard(rng.standard_normal(SR) * 10 ** (db / 20))
        sh = resemblance(x, S)["shares"]
        assert sh["noise"] >= 0.9, (db, sh)


def test_half_and_half_splits_evenly(sources):
    S, named = sources
    x = np.concatenate([named["hype"][1000:1000 + SR], named["sweep"][5000:5000 + SR]])
    sh = resemblance(x, S)["shares"]
    assert (sh["hype"] == pytest.approx(0.5, abs=0.05)
            and sh["sweep"] == pytest.approx(0.5, abs=0.05))


def test_a_loop_of_one_segment_draws_its_moments_from_that_segment_alone(sources):
    S, named = sources
    seg = named["sweep"][int(1.2 * SR):int(1.45 * SR)]
    r = resemblance(np.tile(seg, 8), S, moment_bin_s=0.05)
    assert r["shares"]["sweep"] >= 0.85                   # the seams between copies may be new
    at = np.array(r["at"])[np.array(r["source"]) == 2]
    assert at.min() >= 1.2 - 0.02 and at.max() <= 1.45      # the segment's frames, and no other
    hist = np.array(r["moments"]["sweep"])
    assert (hist.sum() == len(at) and hist[:int(1.2 / 0.05)].sum() == 0
            and hist[int(1.45 / 0.05) + 1:].sum() == 0)


def test_silence_is_silence_and_an_unheard_tone_is_novel(sources):
    S, _ = sources
    assert resemblance(np.zeros(SR), S)["shares"]["silence"] == 1.0
    assert resemblance(heard(np.full(SR, 1e-4)), S)["shares"]["silence"] == 1.0   # μ-law's quietest
    tone = heard(0.5 * np.sin(2 * np.pi * 3000 * np.arange(SR) / SR))   # no clip holds 3 kHz
    assert resemblance(tone, S)["shares"]["novel"] >= 0.95
    assert 1.0 < S.tau < 30.0


def test_all_silent_clips_are_refused():
    with pytest.raises(ValueError, match="silent"):
        Sources([("quiet", np.zeros(SR))], SR)
