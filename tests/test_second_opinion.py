"""A second opinion on the copy question: the constructed renders of tests/renders.py judged by
wavecore's verbatim runs (wavecore.analysis.verbatim) and, independently, by librosa's
cross-recurrence and its Smith-Waterman alignment (``librosa.segment.cross_similarity`` with
``librosa.sequence.rqa``: Serrà et al. 2009's Qmax, the cover-song measure), on MFCCs of the same
audio. Nothing of wavecore's measure is shared: another front end (librosa's mel filterbank and
DCT), another notion of a match (each frame's nearest neighbours, not a distance in dB) and
another path (a local alignment with gaps, not runs of following frames).

The library's parameters are its own defaults and the literature's (k nearest neighbours as
librosa chooses; gap onset and extension 0.5, as Serrà et al. and essentia's
CoverSongSimilarity use), not fitted to these cases. A render is a copy, by either, when its
longest aligned stretch covers at least ``COPY_SHARE`` of it. Both must agree on copy and
not-copy on every case, and on the length of every copy, whole or in part, within 0.1 s.
Needs librosa (in the test extra); skipped without it."""
import numpy as np
import pytest
import renders

from wavecore.analysis import clips
from wavecore.analysis.measures import Sources
from wavecore.analysis.verbatim import COPY_SHARE, runs

librosa = pytest.importorskip("librosa", reason="the second opinion needs librosa")

SR, HOP = renders.SR, 128                 # 16 ms frames, as wavecore's measures hop
GAP = 0.5                                 # Qmax's gap onset and extension (Serrà et al. 2009)


def mfcc(x):
    """(20, frames) MFCCs of x: librosa's 40-band mel spectrogram over 32 ms windows, in dB."""
    mel = librosa.feature.melspectrogram(y=np.asarray(x, np.float32), sr=SR, n_fft=256,
                                         hop_length=HOP, n_mels=40)
    return librosa.feature.mfcc(S=librosa.power_to_db(mel, ref=1.0, top_db=80.0), n_mfcc=20)


def aligned_s(x, clip) -> float:
    """The longest stretch of x that librosa aligns with clip, in seconds of x."""
    sim = librosa.segment.cross_similarity(mfcc(x), mfcc(clip), mode="affinity",
                                           metric="cosine")          # sim: (clip frames, x frames)
    _, path = librosa.sequence.rqa(sim, gap_onset=GAP, gap_extend=GAP, knight_moves=False,
                                   backtrack=True)
    return 0.0 if len(path) == 0 else (path[-1][1] - path[0][1] + 1) * HOP / SR


@pytest.fixture(scope="module")
def songs():
    return dict((n, clips.get(n, SR)) for n in clips.SONGS)


def cases(songs):
    """{name: (render, the clip it is judged against, the clips' Sources, copy seconds)}: copy
    seconds is the length of the verbatim stretch the render holds (0: none)."""
    hype, truss = songs["hype_song"], songs["truss_song"]
    every = Sources(list(songs.items()), SR)
    loop, looped = renders.loop_of(hype)
    short = renders.short_clip(hype)
    others = [(n, a) for n, a in songs.items() if n != "hype_song"]
    return {
        "verbatim copy": (renders.verbatim(hype)[0], hype, every, 3.0),
        "copy of a loop": (looped, loop, Sources([("loop", loop), *others], SR), 3.0),
        "partial copy": (renders.partial_copy(hype), hype, every, 1.5),
        "shuffle": (renders.shuffle(hype), hype, every, 0.0),
        "splice": (renders.splice(hype, truss), hype, every, 0.0),
        "white noise": (renders.white_noise(), hype, every, 0.0),
        "shaped noise": (renders.shaped_noise(hype), hype, every, 0.0),
        "loop of one event": (renders.loop_event(hype), hype, every, 0.0),
        "drums alone": (renders.drums(), hype, every, 0.0),
        "another song's pieces": (renders.shuffle(songs["noise_song"]), hype, every, 0.0),
        "a clip shorter than the render": (short[1], short[0],
                                           Sources([("short", short[0]), *others], SR), 1.9),
    }


# a copy of a clip is judged against the shorter of the render and what the clip has after the
# prime (wavecore.analysis.verbatim.verdict); the short clip's render starts 0.1 s into it
AVAILABLE = {"a clip shorter than the render": 2.0 - 0.1}


NAMES = ("verbatim copy", "copy of a loop", "partial copy", "shuffle", "splice", "white noise",
         "shaped noise", "loop of one event", "drums alone", "another song's pieces",
         "a clip shorter than the render")


@pytest.mark.parametrize("name", NAMES)
def test_both_measures_agree_on_the_copy_question(songs, name):
    x, clip, sources, copied = cases(songs)[name]
    seconds = min(len(x) / SR, AVAILABLE.get(name, len(x) / SR))
    ours, theirs = runs(x, sources)["longest_s"], aligned_s(x, clip)
    print(f"{name}: verbatim runs {ours:.2f} s, librosa's alignment {theirs:.2f} s "
          f"of {seconds:g} s")
    assert (ours >= COPY_SHARE * seconds) == (theirs >= COPY_SHARE * seconds) \
        == (copied >= COPY_SHARE * seconds)
    if copied:                                     # a copy, whole or in part: its length
        assert ours == pytest.approx(copied, abs=0.1) and theirs == pytest.approx(copied, abs=0.1)
    else:                                          # no verbatim stretch: both find pieces at most
        assert ours <= 0.45 and theirs <= 0.45


def test_the_second_opinion_can_say_no():
    """The library's alignment of a song against another song is short: it does not call
    everything a copy (a check of the check)."""
    hype, truss = clips.get("hype_song", SR), clips.get("truss_song", SR)
    assert aligned_s(truss[:3 * SR], hype) < 0.5
