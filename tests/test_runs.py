"""Runs and verdicts (wavecore.analysis.verbatim) on constructed renders, each asserting its
numbers: a verbatim copy off the frame grid, a copy of a clip that repeats itself, a shuffle of
0.25 s pieces, a 50/50 splice of two clips, white noise, and noise shaped like the clip's
quietest passage (which must not come out kept)."""
import importlib.util
import json
import os

import pytest
import renders

from wavecore.analysis import clips
from wavecore.analysis.measures import Sources, resemblance
from wavecore.analysis.verbatim import FRAGMENT_S, VERDICTS, runs, verdict

SR = renders.SR


@pytest.fixture(scope="module")
def songs():
    return [(n, clips.get(n, SR)) for n in clips.SONGS]


@pytest.fixture(scope="module")
def sources(songs):
    return Sources(songs, SR)


def judged(x, sources, clip="hype_song"):
    found, like = runs(x, sources), resemblance(x, sources)
    return found, like, verdict(clip, like["shares"], found, len(x) / SR)


def test_a_verbatim_copy_off_the_frame_grid_is_one_run(songs, sources):
    x, start = renders.verbatim(songs[0][1])     # a prime of 0.1 s, and 37 samples off the hop
    found, like, v = judged(x, sources)
    assert v == "copy"
    (run,) = [r for r in found["runs"] if r["counts"]]
    assert run["clip"] == "hype_song" and run["start_s"] == 0
    assert run["seconds"] == pytest.approx(3.0, abs=0.05)                      # all of it
    assert run["clip_time_s"] == pytest.approx(start / SR, abs=0.002)          # where it is from
    assert found["fragment_share"] > 0.97 and found["jumps"] == 0
    assert like["shares"]["hype_song"] < 0.9      # nearest frames alone miss a fifth of the copy


def test_a_copy_of_a_clip_that_repeats_itself_is_one_run_not_four(songs):
    loop, x = renders.loop_of(songs[0][1])        # a 1 s loop played four times
    src = Sources([("loop", loop), songs[1], songs[2]], SR)
    found, _, v = judged(x, src, "loop")
    assert v == "copy" and found["longest_s"] == pytest.approx(3.0, abs=0.05)
    assert sum(r["counts"] for r in found["runs"]) == 1


def test_a_shuffle_of_quarter_second_pieces_is_kept(songs, sources):
    x = renders.shuffle(songs[0][1])                                        # 4 s
    found, like, v = judged(x, sources)
    assert v == "kept"
    assert 0.2 <= found["longest_s"] <= 0.4       # a piece, not the song
    assert found["fragment_share"] > 0.8 and found["fragments"]["truss_song"] == 0
    assert found["jumps"] >= 12                   # about one per piece
    assert all(r["seconds"] < 0.45 for r in found["runs"] if r["counts"])


def test_a_splice_of_two_clips_is_merged(songs, sources):
    x = renders.splice(songs[0][1], songs[1][1])                               # a b a b ...
    found, _, v = judged(x, sources)
    assert v == "merged"
    f = found["fragments"]
    assert 0.35 < f["hype_song"] / (f["hype_song"] + f["truss_song"]) < 0.65
    assert found["longest_s"] <= 0.4 and found["fragment_share"] > 0.7


def test_white_noise_is_noise(sources):
    found, _, v = judged(renders.white_noise(), sources)
    assert v == "noise" and found["fragment_share"] == 0 and found["longest_s"] < FRAGMENT_S


def test_noise_shaped_like_the_quietest_passage_is_not_kept(songs, sources):
    """Stationary noise with the spectrum and level of the clip's quietest (non-silent) 0.25 s:
    its frames lie nearest the clip's quiet frames, so shares alone call it the clip; it follows
    nothing, so it is texture."""
    found, like, v = judged(renders.shaped_noise(songs[0][1]), sources)
    assert like["shares"]["hype_song"] >= 0.5     # by nearest frames it is "the song"
    assert v == "texture" and found["fragment_share"] < 0.05


def test_verdicts_follow_their_definitions():
    none = {"longest_s": 0.0, "fragment_share": 0.0, "fragments": {"a": 0, "b": 0}}
    assert verdict("a", {"a": 0.9}, {**none, "longest_s": 2.0}, 4.0) == "copy"
    assert verdict("a", {"a": 0.9}, {**none, "longest_s": 1.9, "fragment_share": 0.5,
                                      "fragments": {"a": 70, "b": 30}}, 4.0) == "kept"
    assert verdict("a", {"a": 0.4}, {**none, "fragment_share": 0.5,
                                      "fragments": {"a": 70, "b": 30}}, 4.0) \
        == "noise"                                # fragments of its own, but most frames are not
    assert verdict("a", {"a": 0.9}, {**none, "fragment_share": 0.5,
                                      "fragments": {"a": 60, "b": 40}}, 4.0) \
        == "merged"
    assert verdict("a", {"a": 0.3, "b": 0.3}, none, 4.0) == "texture"
    assert verdict("a", {"a": 0.2}, none, 4.0) == "noise"
    assert set(VERDICTS) == {"copy", "kept", "merged", "texture", "noise"}


def test_shared_material_is_measured_and_noise_shares_none(tmp_path):
    """bench/shared_material.py on the two-bar songs: each song judged as a render against
    another alone puts some of its frames in that song's fragments (their kit is shared), and
    white noise puts none (the control)."""
    path = os.path.join(os.path.dirname(__file__), "..", "bench", "shared_material.py")
    spec = importlib.util.spec_from_file_location("shared_material", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "shared.json"
    assert bench.main(["--songs", "two-bar", "--json", str(out)]) == 0
    table = json.load(open(out))["in_fragments_of"]
    assert 0.2 < table["hype_song"]["truss_song"] < 0.35        # 27 %: the kit is shared
    assert all(v == 0 for v in table["white noise"].values())
