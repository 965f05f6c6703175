"""Real recordings for the benches: three sets of three songs, fetched from Debian's package
registry at bench time (never by wavecore at run time), cut, mixed to mono, resampled to 16 kHz.

    python bench/real_songs.py --out real          # about 200 MB of downloads, a minute

Each set is one game's soundtrack, chosen for its character:
- ``drascula``: "Drascula: The Vampire Strikes Back" (package drascula-music, Alcachofa Soft,
  a BSD-like DFSG-free licence): an adventure game's synthesised score;
- ``etr``: Extreme Tux Racer (extremetuxracer-data, GPL-2+): electronic racing tracks with
  drum loops;
- ``wesnoth``: The Battle for Wesnoth (wesnoth-1.16-music, GPL-2): orchestral, acoustic
  instruments and percussion.
None of them has sung vocals that this script knows of.

Every song is one excerpt of EXCERPT_S seconds from OFFSET_S into its track; shorter lengths
(10, 30 s) are its first seconds (``load``). DIR/manifest.json records, per set, the package,
its version, its licence (as its Debian copyright file gives it) and, per song, the track, the
source file's SHA-256, the cut, and the excerpt's level (RMS dBFS) and spectral centroid, so
that a reader can tell the sets apart without hearing them.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from urllib.parse import unquote

import numpy as np

RATE = 16000
OFFSET_S = 20.0
EXCERPT_S = 60.0
SETS = {   # name: (package, folder inside it, licence, three tracks)
    "drascula": ("drascula-music", "usr/share/scummvm/drascula/audio",
                 "Drascula-License (BSD-like; Alcachofa Soft S.L.)",
                 ("track1.ogg", "track2.ogg", "track14.ogg")),
    "etr": ("extremetuxracer-data", "usr/share/games/etr/music", "GPL-2+",
            ("spunkyrace-ks.ogg", "calmrace-ks.ogg", "freezingpoint.ogg")),
    "wesnoth": ("wesnoth-1.16-music", "usr/share/games/wesnoth/1.16/data/core/music", "GPL-2",
                ("battle.ogg", "northerners.ogg", "loyalists.ogg")),
}


def fetch(package: str, into: str) -> str:
    """Download a Debian package with apt and unpack it into ``into``; its version."""
    subprocess.run(["apt-get", "download", package], cwd=into, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deb = glob.glob(os.path.join(into, f"{package}_*.deb"))[0]
    subprocess.run(["dpkg-deb", "-x", deb, os.path.join(into, "x")], check=True)
    return unquote(os.path.basename(deb).split("_")[1])      # "1%3a1.16" is epoch 1


def excerpt(path: str, offset_s: float = OFFSET_S, seconds: float = EXCERPT_S,
            rate: int = RATE) -> np.ndarray:
    """(n,) float32 mono at ``rate``: ``seconds`` of the file from ``offset_s`` in."""
    import soundfile as sf
    from scipy.signal import resample_poly
    info = sf.info(path)
    if info.duration < offset_s + seconds:
        raise ValueError(f"{path}: {info.duration:.1f} s, shorter than the cut "
                         f"({offset_s:g} + {seconds:g} s)")
    a, sr = sf.read(path, dtype="float32", always_2d=True,
                    start=int(offset_s * info.samplerate),
                    frames=int(seconds * info.samplerate))
    g = np.gcd(rate, sr)
    return resample_poly(a.mean(axis=1), rate // g, sr // g).astype(np.float32)


def describe(a: np.ndarray, rate: int = RATE) -> dict:
    """An excerpt's level (RMS, dBFS) and spectral centroid (Hz, power-weighted)."""
    spec = np.abs(np.fft.rfft(a)) ** 2
    freqs = np.fft.rfftfreq(len(a), 1 / rate)
    return {"rms_dbfs": round(float(10 * np.log10(np.mean(a.astype(np.float64) ** 2) + 1e-20)), 1),
            "centroid_hz": round(float((spec * freqs).sum() / spec.sum()), 0)}


def cut(name: str, root: str, out: str, version: str) -> dict:
    """Cut set ``name``'s three songs from the unpacked package at ``root`` into out/NAME/;
    its manifest entry."""
    import soundfile as sf
    package, folder, licence, tracks = SETS[name]
    os.makedirs(os.path.join(out, name), exist_ok=True)
    songs = []
    for k, track in enumerate(tracks):
        src = os.path.join(root, folder, track)
        a = excerpt(src)
        dst = os.path.join(name, f"{k + 1}_{track.rsplit('.', 1)[0]}.wav")
        tmp = os.path.join(out, dst + ".tmp.wav")
        sf.write(tmp, a, RATE)
        os.replace(tmp, os.path.join(out, dst))
        with open(src, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        songs.append({"file": dst, "track": f"{folder}/{track}", "sha256": sha,
                      "from_s": OFFSET_S, "seconds": EXCERPT_S, **describe(a)})
    return {"package": package, "version": version, "licence": licence,
            "source": f"Debian package {package} {version}", "songs": songs}


def load(out: str, name: str, seconds: float, sample_rate: int) -> list[tuple[str, np.ndarray]]:
    """Set ``name``'s three songs, their first ``seconds`` at ``sample_rate``, as
    [("song1", audio), ...] from a directory this script wrote."""
    import wavecore
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        songs = json.load(f)["sets"][name]["songs"]
    n = int(round(seconds * sample_rate))
    got = [wavecore.load(os.path.join(out, s["file"]), sample_rate) for s in songs]
    if any(len(a) < n for a in got):
        raise ValueError(f"{out}: set {name}'s excerpts are shorter than {seconds:g} s")
    return [(f"song{k + 1}", a[:n]) for k, a in enumerate(got)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="directory for the sets and manifest.json")
    ap.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "manifest.json")
    manifest = {"rate": RATE, "sets": {}}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    for name in args.sets:
        if name in manifest["sets"] and all(
                os.path.exists(os.path.join(args.out, s["file"]))
                for s in manifest["sets"][name]["songs"]):
            print(f"{name}: already here")
            continue
        with tempfile.TemporaryDirectory() as work:
            version = fetch(SETS[name][0], work)
            manifest["sets"][name] = cut(name, os.path.join(work, "x"), args.out, version)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1)
        os.replace(path + ".tmp", path)
        songs = manifest["sets"][name]["songs"]
        print(f"{name}: {manifest['sets'][name]['source']}, "
              + ", ".join(f"{s['track'].rsplit('/', 1)[1]} ({s['rms_dbfs']:g} dBFS, "
                          f"{s['centroid_hz']:g} Hz)" for s in songs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
