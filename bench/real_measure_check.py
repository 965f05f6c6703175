"""The verdict checked on real recordings before the map's real rows are read: constructed
renders of each set's songs (bench/real_songs.py), each with the answer the measure must give,
judged as the map judges song 1's renders (wavecore.analysis.verbatim.verdict against songs 1
and 2 of the set, 30 s at 8 kHz; song 2 not yet trained on). Real songs differ from place to
place (a held chord, a drum break), so each case is built at PLACES places of its song (evenly
from 0.1 s to 4 s before the shortest song's end) and the result is a rate: how many of them
give the right answer. ``--builtin`` adds the built-in full songs as a fourth set, for
comparison.

The cases (tests/renders.py builds them, as for the built-in songs in tests/test_runs.py):
- ``copy``: 3 s of song 1 verbatim, off the frame grid: *copy*;
- ``hiss 20 dB``, ``hiss 10 dB``: that copy with white noise 20 and 10 dB under it (what an
  imperfect network adds): still song 1 (*copy*, *copy in part* or *kept*);
- ``pieces``: sixteen 0.25 s pieces of song 1 from the offset on, shuffled: *kept*;
- ``unheard``: 3 s of song 3, from the same soundtrack but in neither source: not *copy*,
  *copy in part* or *kept* (a network that never heard a song cannot be said to keep song 1);
- ``song 2``: 3 s of song 2 verbatim: more than half its fragment frames credited to the
  unheard song 2 (the measure tells the other song of the same soundtrack apart, so a map
  cell's 0 % is not blindness);
- ``loop``: one 0.15 s event of song 1 over and over: not *kept* (one place of the song);
- ``noise``: noise shaped like the quietest 0.25 s of the 2 s of song 1 from the offset: *noise*;
- ``quiet``: the copy 26 dB down: flagged as collapsed (wavecore.analysis.measures.collapse).

    python bench/real_measure_check.py --real real --out bench/results

writes real_measure_check.json (every render's result) and .md (each case's rate, and its
verdicts, per set), whatever they say.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))   # the constructed renders
import real_songs  # noqa: E402
import renders  # noqa: E402

from wavecore.analysis import clips  # noqa: E402
from wavecore.analysis.measures import Sources, collapse  # noqa: E402
from wavecore.study.activities import judged  # noqa: E402
from wavecore.study.rates import wilson  # noqa: E402

SR = renders.SR
NOT_KEPT = ("copy", "copy in part", "kept")


PLACES = 10


def hiss(x, snr_db, seed=7):
    """x with white noise ``snr_db`` under its RMS level."""
    rms = np.sqrt(np.mean(np.asarray(x, np.float64) ** 2))
    noise = np.random.default_rng(seed).standard_normal(len(x)) * rms * 10 ** (-snr_db / 20)
    return (x + noise).astype(np.float32)


def cases(songs, at_s):
    """[(name, render, the right answer in words, check(result) -> bool)] at ``at_s`` s."""
    (_, a), (_, b), (_, c) = songs
    at = int(at_s * SR)
    copy = renders.verbatim(a[at:])[0]
    return [
        ("copy", copy, "copy", lambda r: r["verdict"] == "copy"),
        ("hiss 20 dB", hiss(copy, 20), "copy, copy in part or kept",
         lambda r: r["verdict"] in NOT_KEPT),
        ("hiss 10 dB", hiss(copy, 10), "copy, copy in part or kept",
         lambda r: r["verdict"] in NOT_KEPT),
        ("pieces", renders.shuffle(a[at:]), "kept", lambda r: r["verdict"] == "kept"),
        ("unheard", renders.verbatim(c[at:])[0], "not copy, copy in part or kept",
         lambda r: r["verdict"] not in NOT_KEPT),
        ("song 2", renders.verbatim(b[at:])[0], "credit to song 2 over half",
         lambda r: r["unseen_credit"] > 0.5),
        ("loop", renders.loop_event(a, at_s=at_s), "not kept", lambda r: r["verdict"] != "kept"),
        ("noise", renders.shaped_noise(a[at:at + 2 * SR]), "noise",
         lambda r: r["verdict"] == "noise"),
        ("quiet", copy * 10 ** (-26 / 20), "collapsed", lambda r: r["collapse"] is not None),
    ]


def judge(x, sources) -> dict:
    """A render judged as the map judges song 1's (wavecore.study.activities.judged, song 2 not
    yet trained on)."""
    like, found, v, _ = judged(x, "song1", sources, SR, 1)
    return {"verdict": v, "song1": round(like["shares"]["song1"], 3),
            "noise": round(like["shares"]["noise"], 3),
            "longest_s": round(found["longest_s"], 2),
            "fragment_share": round(found["fragment_share"], 3),
            "unseen_credit": round(found["unseen_credit"], 3),
            "collapse": collapse(like["shares"], found["level_db"], found["clip_level_db"])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", required=True, help="the directory bench/real_songs.py wrote")
    ap.add_argument("--out", required=True, help="directory for real_measure_check.json, .md")
    ap.add_argument("--seconds", type=float, default=30.0, help="the songs' length")
    ap.add_argument("--places", type=int, default=PLACES, help="places per case")
    ap.add_argument("--builtin", action="store_true",
                    help="also the built-in full songs (wavecore.analysis.clips.FULL_SONGS)")
    args = ap.parse_args(argv)
    with open(os.path.join(args.real, "manifest.json"), encoding="utf-8") as f:
        sets = list(json.load(f)["sets"])
    rows = []
    for name in sets + (["builtin"] if args.builtin else []):
        if name == "builtin":
            songs = [(f"song{k + 1}", clips.get(n, SR)) for k, n in enumerate(clips.FULL_SONGS)]
        else:
            songs = real_songs.load(args.real, name, args.seconds, SR)
        sources = Sources(songs[:2], SR)
        last = min(len(a) for _, a in songs) / SR - 4.0
        for at in np.round(np.linspace(0.1, last, args.places), 2):
            for case, x, want, ok in cases(songs, float(at)):
                got = judge(np.asarray(x, np.float32), sources)
                rows.append({"set": name, "case": case, "at_s": float(at), "want": want,
                             "ok": bool(ok(got)), **got})
        print(name + ": " + ", ".join(
            f"{case} {sum(r['ok'] for r in rows if r['set'] == name and r['case'] == case)}"
            f"/{args.places}" for case, *_ in cases(songs, 0.1)), flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "real_measure_check.json"), "w", encoding="utf-8") as f:
        json.dump({"seconds": args.seconds, "places": args.places, "rows": rows}, f, indent=1)
    lines = [f"Each case built at {args.places} places of its song; right: how "
             "many give the answer it must; the verdicts of all of them.", "",
             "| set | case | must be | right | 90 % interval | verdicts |",
             "|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["set"] for r in rows):
        for case in dict.fromkeys(r["case"] for r in rows):
            got = [r for r in rows if r["set"] == name and r["case"] == case]
            k = sum(r["ok"] for r in got)
            lo, hi = wilson(k, len(got))
            counts = {}
            for r in got:
                counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
            lines.append(f"| {name} | {case} | {got[0]['want']} | {k} of {len(got)} | "
                         f"{lo:.2f}–{hi:.2f} | "
                         + ", ".join(f"{v} {n}" for v, n in sorted(counts.items(),
                                                                   key=lambda kv: -kv[1]))
                         + " |")
    with open(os.path.join(args.out, "real_measure_check.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{sum(r['ok'] for r in rows)} of {len(rows)} renders right; "
          f"{os.path.join(args.out, 'real_measure_check.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
