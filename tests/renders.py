"""Constructed renders of the built-in songs (8 kHz), each with the answer a measure must give:
the cases tests/test_runs.py judges with wavecore's verdict and tests/test_second_opinion.py
with a library's cross-recurrence. Every one is seeded, so both see the same audio."""
import numpy as np

SR = 8000
PIECE = SR // 4


def verbatim(song):
    """3 s of the song from 0.1 s on, 37 samples off the frame grid: a copy."""
    start = 800 + 37
    return song[start:start + 3 * SR], start


def loop_of(song):
    """(the song's first second played four times, a copy of 3 s of it from 0.3 s on)."""
    loop = np.tile(song[:SR], 4)
    start = int(0.3 * SR) + 13
    return loop, loop[start:start + 3 * SR]


def shuffle(song, seed=0):
    """Its first sixteen 0.25 s pieces (as many as it has) in a shuffled order (4 s): pieces,
    no copy."""
    k = min(16, len(song) // PIECE)
    pieces = song[:k * PIECE].reshape(k, PIECE)
    return pieces[np.random.default_rng(seed).permutation(k)].ravel()


def splice(a, b, seed=1):
    """Eight 0.25 s pieces of each of two songs, alternating (4 s)."""
    rng = np.random.default_rng(seed)
    pa = a[:16 * PIECE].reshape(16, PIECE)[rng.permutation(16)[:8]]
    pb = b[:16 * PIECE].reshape(16, PIECE)[rng.permutation(16)[:8]]
    return np.stack([pa, pb], axis=1).reshape(-1)


def white_noise(seed=2):
    return (0.1 * np.random.default_rng(seed).standard_normal(3 * SR)).astype(np.float32)


def shaped_noise(song, seed=3):
    """3 s of stationary noise with the spectrum and level of the song's quietest (non-silent)
    0.25 s."""
    starts = range(0, len(song) - PIECE, PIECE // 4)
    rms = np.array([np.sqrt(np.mean(song[s:s + PIECE] ** 2)) for s in starts])
    s0 = list(starts)[int(np.argmin(np.where(rms > 1e-3, rms, np.inf)))]
    quiet = song[s0:s0 + PIECE]
    n = 3 * SR
    spec = np.abs(np.fft.rfft(quiet * np.hanning(PIECE), n))
    x = np.fft.irfft(np.fft.rfft(np.random.default_rng(seed).standard_normal(n)) * spec, n)
    x *= np.sqrt(np.mean(quiet ** 2)) / np.sqrt(np.mean(x ** 2))
    return x.astype(np.float32)


def partial_copy(song, seed=4):
    """4 s of quiet noise with 1.5 s of the song (from 0.625 s on) verbatim at 1 s: a copy in
    part, shorter than half the render."""
    x = (0.05 * np.random.default_rng(seed).standard_normal(4 * SR)).astype(np.float32)
    x[SR:SR + int(1.5 * SR)] = song[5000:5000 + int(1.5 * SR)]
    return x


def loop_event(song, at_s=0.0, seconds=0.15):
    """One 0.15 s drum event of the song (its first kick, hats and bass) played over and over
    for 4 s: one moment of the song, not pieces of it."""
    a = int(at_s * SR)
    return np.tile(song[a:a + int(seconds * SR)], int(4 / seconds) + 1)[:4 * SR]


def drums(name="hype_song", seconds=4.0):
    """The drums of a two-bar song alone (no voice, no bass), as loud as they are in the song:
    the kit every two-bar song shares, in this song's pattern. Built by the song's own calls
    (wavecore.analysis.clips.song draws its kit first from the song's generator)."""
    from wavecore.analysis import clips
    seed, bpm, pattern = DRUMS[name]
    rng = np.random.default_rng(seed)
    kit = {"k": clips.kick(SR, rng), "s": 0.7 * clips.snare(SR, rng), "h": 0.4 * clips.hat(SR, rng)}
    six = int(round(SR * 60 / bpm / 4))
    out = np.zeros(int(seconds * SR))
    for i in range(len(out) // six + 1):
        for c in pattern[i % 16]:
            clips._place(out, 0.5 * kit[c], i * six)
    raw = clips.CLIPS[name](SR)                          # the song before get's normalisation
    return (out * 0.9 / np.abs(raw).max()).astype(np.float32)


DRUMS = {"hype_song": (11, 110, ["kh", "h", "kh", "h", "sh", "h", "h", "kh",
                                 "h", "kh", "kh", "h", "sh", "h", "h", "sh"])}


def short_clip(song, seconds=2.0):
    """(a clip of the song's first ``seconds``, a render of it: the clip after a 0.1 s prime,
    then quiet noise to 4 s): the whole clip copied, though the copy is shorter than half the
    render."""
    clip = song[:int(seconds * SR)]
    x = (0.01 * np.random.default_rng(5).standard_normal(4 * SR)).astype(np.float32)
    x[:len(clip) - 800] = clip[800:]
    return clip, x


def shared_phrase(songs, seconds=1.5, seed=6):
    """(three clips that all hold one phrase, a render made of that phrase's 0.25 s pieces):
    song 1 as it is, songs 2 and 3 with song 1's first ``seconds`` appended, and twelve pieces
    of that phrase in two shuffled rounds (3 s): material every clip has, credited to none."""
    (n1, a), (n2, b), (n3, c) = songs
    phrase = a[:int(seconds * SR)]
    clips3 = [(n1, a), (n2, np.concatenate([b, phrase])), (n3, np.concatenate([c, phrase]))]
    k = len(phrase) // PIECE
    pieces = phrase[:k * PIECE].reshape(k, PIECE)
    rng = np.random.default_rng(seed)
    return clips3, np.concatenate([pieces[rng.permutation(k)].ravel() for _ in range(2)])
