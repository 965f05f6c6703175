"""Runs and verdicts (wavecore.analysis.verbatim) on constructed renders (tests/renders.py),
each asserting its numbers: a verbatim copy off the frame grid, a copy of a clip that repeats
itself, a shuffle of 0.25 s pieces, a 50/50 splice of two clips, white noise, noise shaped like
the clip's quietest passage (which must not come out kept); and the cases where the answer is
"no": a loop of one 0.15 s event, the songs' shared drums alone, a phrase every clip holds,
another song's pieces judged as this one's, a partial copy, a copy of a clip shorter than the
render."""
import importlib.util
import json
import os

import pytest
import renders

from wavecore.analysis import clips
from wavecore.analysis.measures import Sources, resemblance
from wavecore.analysis.verbatim import (
    FRAGMENT_S,
    MARGIN,
    PART_S,
    VERDICTS,
    runs,
    summary,
    unseen_credit,
    verdict,
)

SR = renders.SR


@pytest.fixture(scope="module")
def songs():
    return [(n, clips.get(n, SR)) for n in clips.SONGS]


@pytest.fixture(scope="module")
def sources(songs):
    return Sources(songs, SR)


def judged(x, sources, clip="hype_song", available=None):
    found, like = runs(x, sources), resemblance(x, sources)
    return found, like, verdict(clip, like["shares"], found, len(x) / SR, available,
                                sources.seconds)


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
    assert found["fragment_share"] > 0.75 and found["fragments"]["truss_song"] == 0
    assert 0.05 < found["shared_share"] < 0.25    # where the other songs' (shared) kick follows
    assert found["places"]["hype_song"] >= 4
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


def test_a_loop_of_one_event_is_not_kept(songs, sources):
    """0.15 s of the song's first beat (kick, hats, bass), looped for 4 s: its fragments are one
    moment of the song, however often they play (and the kick in them is the other songs' too)."""
    found, like, v = judged(renders.loop_event(songs[0][1]), sources)
    assert found["fragment_share"] >= 0.2 and found["places"]["hype_song"] == 1
    assert found["shared_share"] > 0.2                    # the kick every two-bar song has
    assert v == "shared"                 # not kept: what is its own comes from one place


def test_a_loop_of_one_event_is_one_place_wherever_the_song_plays_it():
    """A loop of one 0.15 s event at ten places of the full song 1 (17.5 s, its bars played
    again and again): the song plays each event at many clip times more than PLACE_S apart, so
    counted by clip time (measure 2) a loop read as kept at 3 of these 10 places; counted by
    material it is one place at each, and never kept. Sixteen 0.25 s pieces from the same
    places are still kept at every one."""
    import numpy as np
    full = [(n, clips.get(n, SR)) for n in clips.FULL_SONGS[:2]]
    src, song = Sources(full, SR), full[0][1]
    name = full[0][0]
    for at in np.round(np.linspace(0.1, 9.33, 10), 2):
        at_s = int(at * SR) / SR
        found, _, v = judged(renders.loop_event(song, at_s=at_s), src, name)
        assert found["places"][name] <= 2 and v != "kept", at
        found, _, v = judged(renders.shuffle(song[int(at_s * SR):]), src, name)
        assert found["places"][name] >= 3 and v == "kept", at


def test_material_is_alike_however_far_apart_in_the_clip(songs):
    """_alike: a stretch of the clip's frames and the same stretch shifted by a few frames are
    alike; two passages of different sound are not; stretches shorter than k frames never are."""
    from wavecore.analysis.verbatim import _alike
    C = Sources(songs, SR).fine[0][::4]                     # hype_song's frames, hop by hop
    assert _alike(C[40:60], C[43:70], 7)
    other = Sources(songs, SR).fine[2][::4]                 # noise_song: another kit and voice
    assert not _alike(C[40:60], other[40:60], 7)
    assert not _alike(C[40:45], C[40:45], 7)


def test_the_songs_drums_alone_are_not_kept(songs, sources):
    """Song 1's drums without voice or bass (the kit the two-bar songs share), as loud as in the
    song: no song ever plays its drums alone, so their frames are new sound and follow nothing
    (a frame of a mix with voice and bass is far from the drums alone): noise, not kept."""
    found, like, v = judged(renders.drums(), sources)
    assert found["fragment_share"] == 0 and found["longest_s"] < FRAGMENT_S
    assert like["shares"]["novel"] > 0.6
    assert v == "noise"


def test_a_phrase_every_clip_holds_is_shared(songs):
    """Pieces of a 1.5 s phrase that all three clips hold: every run ties with another clip's,
    so nothing is credited to song 1 and the render is shared."""
    clips3, x = renders.shared_phrase(songs)
    found, like, v = judged(x, Sources(clips3, SR))
    assert sum(found["fragments"].values()) == 0
    assert found["shared_share"] > 0.9
    assert all(r["rival_frames"] * MARGIN > r["frames"] for r in found["runs"] if r["counts"])
    assert v == "shared"


def test_another_songs_pieces_are_merged_not_kept(songs, sources):
    """Song 3's 0.25 s pieces judged as a render of song 1."""
    found, like, v = judged(renders.shuffle(songs[2][1]), sources)
    f = found["fragments"]
    assert f["noise_song"] > 0.8 * found["frames"] and f["hype_song"] == 0
    assert found["places"]["noise_song"] >= 3
    assert v == "merged"


def test_a_partial_copy_is_a_copy_in_part(songs, sources):
    """1.5 s of the song verbatim inside 4 s of quiet noise: short of half the render, but a
    phrase copied, never noise."""
    found, like, v = judged(renders.partial_copy(songs[0][1]), sources)
    assert found["longest_s"] == pytest.approx(1.5, abs=0.05)
    assert found["longest_clip"] == "hype_song"
    assert PART_S <= found["longest_s"] < 0.5 * 4
    assert v == "copy in part"


def test_a_copy_of_a_clip_shorter_than_the_render_is_a_copy(songs):
    """A 2 s clip copied whole after its 0.1 s prime, then quiet noise to 4 s: the copy is 1.9 s
    of the 1.9 s the clip has after the prime, so it is a copy, though under half the render."""
    clip, x = renders.short_clip(songs[0][1])
    src = Sources([("short", clip), songs[1], songs[2]], SR)
    found, like, v = judged(x, src, "short", available=(len(clip) - 800) / SR)
    assert found["longest_s"] == pytest.approx(1.9, abs=0.05)
    assert v == "copy"
    assert judged(x, src, "short")[2] == "copy in part"      # unbounded, it would be in part


def test_credit_to_clips_not_yet_heard(songs, sources):
    """unseen_credit: fragment frames credited to clips outside the trained ones, over all
    fragment frames (shared ones too)."""
    splice = runs(renders.splice(songs[0][1], songs[1][1]), sources)
    f = splice["fragments"]
    share = f["truss_song"] / (f["hype_song"] + f["truss_song"] + splice["shared"])
    assert unseen_credit(summary(splice), ["hype_song"]) == pytest.approx(share)
    assert 0.4 < share < 0.6
    assert unseen_credit(splice, ["hype_song", "truss_song"]) == 0
    copy = runs(renders.verbatim(songs[0][1])[0], sources)
    assert unseen_credit(copy, ["hype_song"]) == 0 and unseen_credit(copy, []) == 1
    assert unseen_credit(runs(renders.white_noise(), sources), []) == 0     # no fragments


def test_verdicts_follow_their_definitions():
    none = {"longest_s": 0.0, "longest_clip": None, "fragment_share": 0.0, "shared_share": 0.0,
            "fragments": {"a": 0, "b": 0}, "places": {"a": 3, "b": 3}}
    some = {**none, "fragment_share": 0.5}
    assert verdict("a", {"a": 0.9}, {**none, "longest_s": 2.0, "longest_clip": "a"},
                   4.0) == "copy"
    assert verdict("a", {"a": 0.9}, {**none, "longest_s": 1.0, "longest_clip": "a"}, 4.0,
                   available=1.9) == "copy"               # half of what the clip has left
    assert verdict("a", {"a": 0.9}, {**none, "longest_s": 1.0, "longest_clip": "b"}, 4.0,
                   available=1.9, lengths={"b": 10.0}) == "copy in part"
    assert verdict("a", {"a": 0.9}, {**some, "longest_s": 0.5, "longest_clip": "a",
                                      "fragments": {"a": 70, "b": 30}}, 4.0) == "kept"
    assert verdict("a", {"a": 0.9}, {**some, "fragments": {"a": 70, "b": 30},
                                      "places": {"a": 2, "b": 1}}, 4.0) \
        == "texture"                              # fragments from too few places
    assert verdict("a", {"a": 0.4}, {**some, "fragments": {"a": 70, "b": 30}}, 4.0) \
        == "noise"                                # fragments of its own, but most frames are not
    assert verdict("a", {"a": 0.9}, {**some, "fragments": {"a": 60, "b": 40}}, 4.0) == "merged"
    assert verdict("a", {"a": 0.3, "b": 0.3}, {**none, "shared_share": 0.3}, 4.0) == "shared"
    assert verdict("a", {"a": 0.3, "b": 0.3}, none, 4.0) == "texture"
    assert verdict("a", {"a": 0.2}, none, 4.0) == "noise"
    assert VERDICTS == ("copy", "copy in part", "kept", "merged", "shared", "texture", "noise")


def _shared_material():
    """bench/shared_material.py as a module."""
    path = os.path.join(os.path.dirname(__file__), "..", "bench", "shared_material.py")
    spec = importlib.util.spec_from_file_location("shared_material", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_shared_material_is_measured_and_noise_shares_none(tmp_path):
    """bench/shared_material.py on the two-bar songs: each song judged as a render against
    another alone puts some of its frames in that song's fragments (their kit is shared), and
    white noise puts none (the control)."""
    bench = _shared_material()
    out = tmp_path / "shared.json"
    assert bench.main(["--songs", "two-bar", "--json", str(out)]) == 0
    table = json.load(open(out))["in_fragments_of"]
    assert 0.2 < table["hype_song"]["truss_song"] < 0.35        # 27 %: the kit is shared
    assert all(v == 0 for v in table["white noise"].values())


def test_the_full_songs_each_have_their_own_kit(tmp_path):
    """The same measure on the full songs (what the demo and the map train on), each with its
    own drums, bass and voice (clips.KITS): at most 5 % of one song's frames in another's
    fragments, where the shared kit gave 20-57 %."""
    bench = _shared_material()
    out = tmp_path / "shared.json"
    assert bench.main(["--json", str(out)]) == 0
    table = json.load(open(out))["in_fragments_of"]
    assert all(v <= 0.05 for row in table.values() for v in row.values())
    assert len(table) == 4 and all(len(row) in (2, 3) for row in table.values())
