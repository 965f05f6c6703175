"""Moments of a clip (wavecore.analysis.moments): Audacity label files, the built-in songs' bars
with the verse's shriek, repetitions found from the clip's self-similarity, and the lift of a
render's fragments from a kind of moment against chance, each on constructed cases asserting a
number."""
import numpy as np
import pytest

from wavecore.analysis import clips
from wavecore.analysis import moments as M
from wavecore.analysis.measures import Sources
from wavecore.analysis.verbatim import runs

SR, PIECE = 8000, 2000


@pytest.fixture(scope="module")
def full():
    return {n: clips.get(n, SR) for n in clips.FULL_SONGS}


def test_an_audacity_label_file_is_read(tmp_path):
    p = tmp_path / "song.txt"
    p.write_text("0.000000\t2.500000\tintro\n\\\t100.0\t4000.0\n2.5\t6\tchorus one\n\n",
                 encoding="utf-8")
    assert M.read_labels(p) == [("intro", 0.0, 2.5), ("chorus one", 2.5, 6.0)]


@pytest.mark.parametrize("text,says", [
    ("0\t1\tintro\n1\tverse\n", ":2: expected start<TAB>end<TAB>label"),
    ("0\tone\tintro\n", ":1: start and end must be seconds"),
    ("2\t1\tintro\n", ":1: a region runs from 0 s on and ends after it starts"),
    ("0\t1\t \n", ":1: the region 0-1 s has no label"),
    ("\n\n", ": no labelled region in it"),
])
def test_a_bad_label_file_is_one_line_naming_the_file_and_line(tmp_path, text, says):
    p = tmp_path / "bad.txt"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as e:
        M.read_labels(p)
    assert str(e.value).startswith(str(p)) and says in str(e.value) and "\n" not in str(e.value)


def test_the_built_in_moments_name_the_shriek_and_cover_the_song(full):
    mom = M.builtin("hype_full")
    kinds = [k for k, _, _ in mom]
    assert kinds[:4] == ["intro", "verse", "shriek", "chorus"] and kinds.count("shriek") == 2
    seconds = len(full["hype_full"]) / SR
    p = M.chance(mom, seconds)
    assert sum(p.values()) == pytest.approx(1.0, abs=1e-3)
    assert p["chorus"] == pytest.approx(0.5, abs=1e-3)            # 4 of its 8 bars
    assert p["shriek"] == pytest.approx(1 / 16, abs=1e-3)          # a beat of each of 2 verses


def test_what_a_song_repeats_is_found_without_labels(full):
    """hype_full ("iVCVCbCC"): its chorus bars and the break that carries the chorus are
    repeated, the verses' rapped syllables (drawn anew each verse) are not; its shrieks are the
    same scratch in both verses."""
    x = full["hype_full"]
    rep = M.repetitions(x, SR)
    hop = 0.016
    for kind, a, b in M.builtin("hype_full"):
        share = (rep[int(a / hop):int(b / hop)] > 0).mean()
        if kind in ("chorus", "break", "shriek"):
            assert share > 0.95, (kind, a, share)
        elif kind == "verse":
            assert share < 0.05, (kind, a, share)
    chorus = [int(a / hop) for k, a, _ in M.builtin("hype_full") if k == "chorus"]
    assert rep[chorus[-1] + 40] >= 3              # the last chorus: the other three and the break


def test_a_loop_repeats_and_noise_and_a_held_tone_do_not():
    rng = np.random.default_rng(0)
    phrase = clips.get("hype_song", SR)[:SR // 2]                     # a 0.5 s phrase
    loop = np.tile(phrase, 8)                                          # 4 s of it
    assert (M.repetitions(loop, SR) > 0).mean() > 0.95
    noise = (0.1 * rng.standard_normal(4 * SR)).astype(np.float32)
    assert (M.repetitions(noise, SR) > 0).mean() == 0
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(4 * SR) / SR)).astype(np.float32)
    assert (M.repetitions(tone, SR) > 0).mean() == 0        # alike at every lag: no repetition
    assert M.repeated(noise, SR) == [("once", 0.0, pytest.approx(len(M.repetitions(noise, SR))
                                                                 * 0.016))]


def _pieces(song, spans, seconds, seed=0):
    """0.25 s pieces of ``song`` from ``spans`` (s), shuffled, the first ``seconds`` of them."""
    ps = [song[s:s + PIECE] for a, b in spans
          for s in range(int(a * SR), int(b * SR) - PIECE + 1, PIECE)]
    order = np.random.default_rng(seed).permutation(len(ps))
    return np.concatenate([ps[k] for k in order])[:int(seconds * SR)]


def test_lift_against_chance(full):
    """A render of the chorus bars alone has chorus lift 1 / p(chorus) = 2; an even draw over
    the whole song is near 1 where the song's moments are distinct and shows where they are
    not (the break carries the chorus phrase, so some of its pieces are credited to the chorus;
    the intro's hats and bass follow too little to count); another song's pieces give no lift."""
    songs = list(full.items())
    src = Sources(songs, SR)
    h = full["hype_full"]
    mom, seconds = M.builtin("hype_full"), len(h) / SR
    chorus = [(a, b) for k, a, b in mom if k == "chorus"]
    lift = M.lift(runs(_pieces(h, chorus, 8), src), "hype_full", mom, seconds)
    assert lift["chorus"] == pytest.approx(2.0, abs=0.1)
    assert lift["verse"] == 0 and lift["intro"] == 0
    even = M.lift(runs(_pieces(h, [(0, seconds)], 17), src), "hype_full", mom, seconds)
    assert even["verse"] == pytest.approx(1.0, abs=0.2)
    assert even["shriek"] == pytest.approx(1.0, abs=0.2)
    assert 1.0 < even["chorus"] < 1.4 and even["break"] < 0.6 and even["intro"] < 0.8
    other = M.lift(runs(_pieces(full["truss_full"], [(0, 15)], 8), src), "hype_full", mom,
                   seconds)
    assert all(v is None for v in other.values())


def test_a_looped_phrase_is_a_loop_and_the_songs_verse_is_not(full):
    phrase = clips.get("hype_song", SR)[:SR // 2]
    assert M.loop(np.tile(phrase, 8), SR) == pytest.approx(0.5, abs=0.02)
    h = full["hype_full"]
    (a, b) = next((a, b) for k, a, b in M.builtin("hype_full") if k == "verse")
    assert M.loop(h[int(a * SR):int(b * SR) + 4000], SR) is None     # a verse and its shriek
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * SR) / SR)).astype(np.float32)
    assert M.loop(tone, SR) is None                                   # a tone, not a loop


@pytest.mark.parametrize("hz", [100.0, 190.0, 333.0, 600.0, 950.0])
def test_a_sine_is_one_tone_at_its_pitch(hz):
    x = 0.3 * np.sin(2 * np.pi * hz * np.arange(SR) / SR)
    ((a, b, f),) = M.tones(x, SR)
    assert a == 0 and b > 0.9 and f == pytest.approx(hz, rel=0.005)


def test_noise_and_the_songs_bars_as_played_hold_no_tone(full):
    """White noise has no pitch; the chorus's sung syllables glide (190 to 142 Hz), the verses'
    vary, the scratch sweeps: none holds one pitch for 0.3 s."""
    assert M.tones(np.random.default_rng(0).standard_normal(2 * SR), SR) == []
    h = full["hype_full"]
    for kind, a, b in M.builtin("hype_full"):
        assert M.tones(h[int(a * SR):int(b * SR)], SR) == [], kind


def test_a_tone_is_matched_to_the_moment_with_its_pitch(full):
    """The scratch's pitch (its detected frames lie near 800 Hz) is the shriek's; the chorus
    phrase's vowel (150-165 Hz, where its glide spends most frames) is the break's and the
    chorus's, the break having no kick over it; the bass's 82 Hz is the intro's (bass and hats
    only); a pitch the song never has is no moment's."""
    h, mom = full["hype_full"], M.builtin("hype_full")
    assert M.tone_moment(800.0, h, SR, mom) == "shriek"
    assert M.tone_moment(165.0, h, SR, mom) in ("break", "chorus")
    assert M.tone_moment(82.4, h, SR, mom) == "intro"
    assert M.tone_moment(440.0, h, SR, mom) is None
