"""Audio I/O, resampling, trimming, μ-law, and every bad-input case with a file the test writes."""
import numpy as np
import pytest
import soundfile as sf

from wavecore import AudioError
from wavecore.engine import audio
from wavecore.engine.backends import cpu_kernel
from wavecore.engine.ops import mu_law as mu_ref


def tone(sr=16000, sec=0.5, f=440.0):
    t = np.arange(int(sr * sec)) / sr
    return (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def test_save_load_roundtrip_16bit(tmp_path):
    p = tmp_path / "a.wav"
    audio.save(p, tone(), 16000)
    info = sf.info(p)
    assert info.subtype == "PCM_16" and info.samplerate == 16000 and info.channels == 1
    y = audio.load(p, 16000)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, tone(), atol=1 / 32768 + 1e-6)


@pytest.mark.parametrize("fmt,ext", [("FLAC", "flac"), ("OGG", "ogg"), ("MP3", "mp3")])
def test_load_other_formats_stereo_mixed_down(tmp_path, fmt, ext):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    x = tone(sec=1.0)
    st = np.stack([x, 0.5 * x], axis=1)
    p = tmp_path / f"a.{ext}"
    sf.write(p, st, 16000, format=fmt)
    y = audio.load(p, 16000)
    assert y.ndim == 1 and len(y) == len(x)
    want = 0.75 * x                                   # the mean of the two channels
    corr = np.corrcoef(y[200:-200], want[200:-200])[0, 1]
    assert corr > (0.99999 if fmt == "FLAC" else 0.995), corr    # lossy codecs: close, not equal
    assert np.sqrt(np.mean(y ** 2)) == pytest.approx(np.sqrt(np.mean(want ** 2)), rel=0.02)
    assert np.abs(y).max() <= 1.0


def test_resample_to_model_rate(tmp_path):
    p = tmp_path / "a.wav"
    sf.write(p, tone(sr=44100, sec=1.0, f=300.0), 44100)
    y = audio.load(p, 8000)
    assert len(y) == 8000
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) - 300) <= 1            # 1 Hz bins: the tone is still at 300 Hz


def test_trim_silence_reports_cut():
    sr = 8000
    x = np.concatenate([np.zeros(800), tone(sr, 0.5), np.zeros(1600)]).astype(np.float32)
    y, rep = audio.trim_silence(x, sr)
    assert rep.cut_start == 800 and rep.cut_end == 1600 and len(y) == 4000
    assert "0.100 s from the start" in str(rep) and "0.200 s from the end" in str(rep)


def bad(tmp_path, name, data=None, raw=None):
    p = tmp_path / name
    if raw is not None:
        p.write_bytes(raw)
    elif data is not None:
        sf.write(p, data, 16000, subtype="FLOAT")
    return p


@pytest.mark.parametrize("case,match", [
    ("missing", "no such file"),
    ("corrupt", "unreadable or corrupt"),
    ("truncated", "unreadable or corrupt|zero length"),
    ("empty", "zero length"),
    ("nan", "non-finite"),
    ("short", "shorter than"),
])
def test_bad_files_raise_audio_error_naming_file(tmp_path, case, match):
    good = tmp_path / "good.wav"
    audio.save(good, tone(), 16000)
    p = {
        "missing": lambda: tmp_path / "nope.wav",
        "corrupt": lambda: bad(tmp_path, "c.wav", raw=b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 3),
        "truncated": lambda: bad(tmp_path, "t.wav", raw=good.read_bytes()[:30]),
        "empty": lambda: bad(tmp_path, "e.wav", data=np.zeros(0, dtype=np.float32)),
        "nan": lambda: bad(tmp_path, "n.wav", data=np.array([0.1, np.nan, 0.2], dtype=np.float32)),
        "short": lambda: good,
    }[case]()
    with pytest.raises(AudioError, match=match) as e:
        audio.load(p, 16000, min_samples=10 ** 6 if case == "short" else 1)
    assert str(p) in str(e.value)
    assert isinstance(e.value, ValueError)


def test_silent_after_trimming(tmp_path):
    p = tmp_path / "silent.wav"
    audio.save(p, np.zeros(8000, dtype=np.float32) + 1e-5, 16000)
    x = audio.load(p, 16000)
    with pytest.raises(AudioError, match="silent") as e:
        audio.trim_silence(x, 16000, source=p)
    assert str(p) in str(e.value)


def test_save_refuses_nan_and_leaves_nothing(tmp_path):
    p = tmp_path / "x.wav"
    with pytest.raises(AudioError, match="non-finite"):
        audio.save(p, np.array([0.0, np.inf], dtype=np.float32), 16000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("classes", [256, 16, 1024])
def test_mu_law_roundtrip_within_curve_bound(classes):
    x = np.concatenate([np.linspace(-1, 1, 20001), [0.0, 1e-7, -1e-7]]).astype(np.float32)
    c = audio.mu_law_encode(x, classes)
    assert c.min() == 0 and c.max() == classes - 1
    err = np.abs(audio.mu_law_decode(c, classes).astype(np.float64) - x)
    bound = audio.mu_law_error_bound(x, classes) + 1e-6
    assert np.all(err <= bound)
    assert err.max() > 0.3 * bound.max()               # the bound is tight, not vacuous
    np.testing.assert_array_equal(audio.mu_law_encode(audio.mu_law_decode(c, classes), classes), c)


def test_mu_law_kernel_matches_reference():
    kernel = cpu_kernel("mu_law")
    if kernel is None:
        pytest.skip("compiled kernels not built")
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = np.clip(rng.standard_normal(10007) * 0.3, -1.2, 1.2).astype(dtype)
        np.testing.assert_array_equal(kernel.mu_law_encode(x, 256, 255.0), mu_ref.mu_law_encode(x))
    c = rng.integers(0, 256, 10007)
    np.testing.assert_array_equal(kernel.mu_law_decode(c, 256, 255.0), mu_ref.mu_law_decode(c))


def test_mu_law_refuses_nan_and_bad_classes():
    with pytest.raises(AudioError):
        audio.mu_law_encode(np.array([0.0, np.nan]))
    with pytest.raises(ValueError):
        audio.mu_law_decode(np.array([256]))


def test_full_songs_have_a_songs_form():
    """The full-length songs: 10-30 s, the same samples on every call, the kick absent from the
    intro and the break (it enters twice), the chorus bars the same notes, the verses not."""
    from wavecore.analysis import clips
    sr = 8000
    for name in clips.FULL_SONGS:
        x = clips.get(name, sr)
        assert 10 <= len(x) / sr <= 30
        np.testing.assert_array_equal(x, clips.get(name, sr))
        bars = clips.moments(name)
        assert ([k for k, _, _ in bars][:3] == ["intro", "verse", "chorus"]
                and "break" in [k for k, _, _ in bars])
        assert bars[-1][2] == pytest.approx(len(x) / sr, abs=1e-3)

        def low(kind, which=0):                      # energy at 30-60 Hz: the kick alone
            a, b = [(s, e) for k, s, e in bars if k == kind][which]
            seg = x[int(a * sr):int(b * sr)].astype(np.float64)
            spec = np.abs(np.fft.rfft(seg)) ** 2
            f = np.fft.rfftfreq(len(seg), 1 / sr)
            return spec[(f >= 30) & (f < 60)].sum()
        assert low("intro") < 0.05 * low("verse") and low("break") < 0.05 * low("chorus")

        def bar(kind, which):
            a, b = [(s, e) for k, s, e in bars if k == kind][which]
            return x[int(round(a * sr)):int(round(a * sr)) + int(1.5 * sr)].astype(np.float64)
        same = np.corrcoef(bar("chorus", 0), bar("chorus", 1))[0, 1]
        other = np.corrcoef(bar("verse", 0), bar("verse", 1))[0, 1]
        assert same > 0.75 and same > other        # (the drum grid drifts by a sample a bar)
    with pytest.raises(ValueError, match="has no form"):
        clips.moments("hype_song")
