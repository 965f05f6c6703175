"""How much the built-in songs share, measured the way a render is credited: for every pair of
songs (a, b), the share of a's frames that wavecore's verbatim runs (wavecore.analysis.verbatim)
put in fragments of b, when a itself is judged as a render against b alone. Those are the frames
of a that a render of a could have credited to b without ever having heard b (a drum kit, a bass
timbre or a voice that two songs share is such material). The songs are judged as the model
hears them (μ-law and back), whole.

Before and after: the full songs (what the demo trains on) each have their own kit
(wavecore.analysis.clips.KITS), and bench/results/shared_material.json is their table; before
that they shared the kit of the two-bar songs, and bench/results/shared_material_shared_kit.json
is the table they gave then. The two-bar songs keep the shared kit (the tests measure shared
material on them).

A single frame is no measure of this: the songs' hats and snare are noise too, so white noise
lies near single frames of them; a run must follow a path that stands out from its neighbours,
which noise does not. So the table's control row, white noise at the songs' level judged against
each song, must be near 0, and is printed beside the pairs.

    python bench/shared_material.py                    # the full songs (what the demo trains on)
    python bench/shared_material.py --songs two-bar    # the two-bar songs of the tests
    python bench/shared_material.py --json bench/results/shared_material.json
"""
import argparse
import json
import os
import sys

import numpy as np

from wavecore import mu_law_decode, mu_law_encode
from wavecore.analysis import clips
from wavecore.analysis.measures import Sources
from wavecore.analysis.verbatim import runs

SR = 8000


def in_fragments_of(a, name, b) -> float:
    """The share of a's frames in fragments of b, a judged as a render against b alone."""
    return float(runs(a, Sources([(name, b)], SR))["fragment_share"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--songs", choices=("full", "two-bar"), default="full")
    p.add_argument("--json", metavar="PATH", help="also write the table here")
    args = p.parse_args(argv)
    names = clips.FULL_SONGS if args.songs == "full" else clips.SONGS
    heard = {n: mu_law_decode(mu_law_encode(clips.get(n, SR))) for n in names}
    level = np.sqrt(np.mean(np.concatenate(list(heard.values())) ** 2))
    noise = (level * np.random.default_rng(0).standard_normal(8 * SR)).astype(np.float32)
    table = {a: {b: in_fragments_of(heard[a], b, heard[b]) for b in names if b != a}
             for a in names}
    table["white noise"] = {b: in_fragments_of(noise, b, heard[b]) for b in names}
    print("share of the row's frames in fragments of the column (the row judged as a render "
          "against the column alone)")
    print(f"{'':>14}" + "".join(f"{b:>14}" for b in names))
    for a, row in table.items():
        print(f"{a:>14}" + "".join(f"{100 * row[b]:>13.1f}%" if b in row else f"{'-':>14}"
                                   for b in names))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            given = sys.argv[1:] if argv is None else argv
            json.dump({"command": " ".join(["python bench/shared_material.py", *given]),
                       "songs": list(names), "in_fragments_of": table}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
