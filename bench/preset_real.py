"""A preset's verdict rates on the real recordings: what ``wavecore study --preset NAME`` does
to each set of bench/real_songs.py, stage by stage.

Each set's three songs (their first ``--seconds``, at the preset's rate) are trained as the
preset says (cumulative: stage k adds song k); after every stage every seen song is rendered at
the preset's temperatures from its seeds, primed as the preset says, and judged by the
verdict (wavecore.analysis.verbatim's measure). Per stage, song and temperature: the verdicts'
counts, the kept rate with its 90 % Wilson interval, the credit to songs not yet heard, the
renders' level against their song's and how many collapsed; the preset's renders inside each
stage (its trajectory) with their verdicts; the teacher-forced accuracy after each stage; the
wall time and the machine. A set already in ``--out``'s JSON (same preset, same measure) is not
run again, so a run cut short, or one set at a time, goes on from it; with ``--rejudge`` a set
judged by an earlier measure is judged again from its study's files (wavecore.study.rejudge),
keeping the wall time and machine of its training. ``--seeds N`` renders from N seeds instead of
the preset's; ``--songs N`` trains the first N songs only (stages 1..N) and judges the renders
beside the rest of the set too (the study's references), as the whole set's study does:
without the unheard songs, what the songs share cannot be told from song 1.

    python bench/real_songs.py --out real
    python bench/preset_real.py --real real --out preset                 # sketch, every set
    python bench/preset_real.py --real real --out preset --sets etr      # one set
    python bench/preset_real.py --real real --out seeds --sets drascula --songs 1 --seeds 18
    python bench/preset_real.py --real real --out lr --sets drascula --songs 1 --seeds 18 --lr 1e-3
"""
import argparse
import dataclasses
import json
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import real_songs  # noqa: E402
from common import machine, save_json  # noqa: E402

from wavecore.analysis.measures import collapse  # noqa: E402
from wavecore.analysis.verbatim import MEASURE  # noqa: E402
from wavecore.study import Study, presets  # noqa: E402
from wavecore.study.rates import cells as by_cell  # noqa: E402
from wavecore.study.rates import unseen, verdict_counts, wilson  # noqa: E402
from wavecore.study.record import read_state  # noqa: E402
from wavecore.study.rejudge import rejudge, said  # noqa: E402
from wavecore.study.report import build  # noqa: E402


def quick_settings(st):
    """A smoke test of the same path: 20 + 10 steps, 0.5 s renders from 2 seeds."""
    return dataclasses.replace(st, steps_per_stage=20, later_steps=10, trajectory=1,
                               render_seconds=0.5, render_seeds=2)


def judged(rs) -> dict:
    """The renders of one (stage, song, temperature): counts, kept rate, levels, collapse."""
    counts = dict(verdict_counts(rs))
    held = [r.moments for r in rs if r.moments]           # tones: held pitches (moments)
    level = [r.runs["level_db"] - r.runs["clip_level_db"] for r in rs]
    why = [collapse(r.resemblance["shares"], r.runs["level_db"], r.runs["clip_level_db"])
           for r in rs]
    return {"counts": counts, "kept": counts.get("kept", 0), "renders": len(rs),
            "kept_interval": [round(v, 2) for v in wilson(counts.get("kept", 0), len(rs))],
            "unseen_credit": round(unseen(rs) or 0.0, 3),
            "fragment_share": round(float(np.mean([r.runs["fragment_share"] for r in rs])), 3),
            "level_db": round(float(np.mean(level)), 1),
            "collapsed": sum(w is not None for w in why),
            "tone_share": round(float(np.mean([m["tone_share"] for m in held])), 3)
            if held else None,
            "tone_hz": sorted({round(t[2]) for m in held for t in m["tones"]}),
            "seeds": [{"seed": r.seed, "verdict": r.verdict, "level_db": round(x, 1),
                       "longest_s": r.runs["longest_s"], "collapse": w}
                      for r, x, w in zip(rs, level, why)]}


def settings(args):
    """The preset's config and settings as the flags change them (--quick, --seeds, --lr)."""
    cfg, st = presets.get(args.preset)
    if args.quick:
        st = quick_settings(st)
    if args.lr:
        st = dataclasses.replace(st, train=dataclasses.replace(st.train, lr=args.lr))
    return cfg, dataclasses.replace(st, render_seeds=args.seeds or st.render_seeds)


def run_set(name: str, args, out_dir) -> dict:
    cfg, st = settings(args)
    every = real_songs.load(args.real, name, args.seconds, cfg.sample_rate)
    songs = every[:args.songs]
    shutil.rmtree(out_dir, ignore_errors=True)          # a set cut short starts again
    t0 = time.perf_counter()
    # judged beside the songs not trained on too, as the whole set's study is (shared material)
    rec = Study(cfg, songs, st, out_dir=out_dir, report=args.report,
                references=every[args.songs:]).run(progress=False, log=lambda *a, **k: None)
    return row_of(rec, {"set": name, "preset": args.preset, "seconds": args.seconds,
                        "quick": args.quick, "steps": [st.steps_per_stage, st.later_steps],
                        "songs": len(songs), "render_seeds": st.render_seeds, "lr": args.lr,
                        "wall_s": round(time.perf_counter() - t0, 1), "machine": machine()})


def kind(r: dict) -> tuple:
    """What makes rows comparable: preset, song length, quick, songs, render seeds and a
    learning rate other than the preset's (rows written before those were options had 3 songs,
    the sketch preset's 3 seeds and its rate)."""
    return (r["preset"], r["seconds"], r["quick"], r.get("songs", 3), r.get("render_seeds", 3),
            r.get("lr"))


def row_of(rec, head: dict) -> dict:
    """A set's row from its study's record: ``head`` (set, preset, seconds, quick, steps, wall
    time, machine) and what the record's renders say, by the measure that judged them."""
    row = {**head, "measure": MEASURE,
           "accuracy": [[round(a, 3) for a in acc] for acc in rec.accuracy[1:]],
           "stages": {}, "trajectory": []}
    for (stage, clip, t), rs in sorted(by_cell(rec.renders).items(),
                                       key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2])):
        row["stages"].setdefault(str(stage), {}).setdefault(clip, {})[f"{t:g}"] = judged(rs)
    for p in rec.trajectory:
        row["trajectory"].append({"stage": p.stage, "step": p.step, "clip": p.clip,
                                  "temperature": p.temperature, "verdict": p.verdict,
                                  "level_db": round(p.runs["level_db"]
                                                    - p.runs["clip_level_db"], 1)})
    return row


def judged_again(row: dict, study: str, args) -> dict:
    """A set's row judged again by the current measure from its study's files (its report
    rebuilt where it has one), keeping the wall time and machine of its training; beside the
    set's songs it did not train on, where the study did not keep them as its references."""
    unheard = []
    if not read_state(study)[1].references:
        rate = settings(args)[0].sample_rate
        unheard = real_songs.load(args.real, row["set"], row["seconds"], rate)[row.get("songs", 3):]
    print(f"{row['set']}: {said(rejudge(study, also=unheard))}", flush=True)
    rec = read_state(study)[1]                            # as rejudge wrote it
    if os.path.exists(os.path.join(study, "report.html")):
        build(study, rec)                                 # its players' verdicts too
    head = {k: row[k] for k in ("set", "preset", "seconds", "quick", "steps", "songs",
                                "render_seeds", "lr", "wall_s", "machine") if k in row}
    return row_of(rec, {**head, "judged_again_from": row["measure"]})


def tones(v) -> str:
    """"97 % at 394 Hz", "0 %", or "–" (the song's moments unknown)."""
    if v.get("tone_share") is None:
        return "–"
    hz = v["tone_hz"]
    return f"{100 * v['tone_share']:.0f} %" + (
        f" at {', '.join(map(str, hz[:3]))} Hz" if hz and v["tone_share"] >= 0.01 else "")


def table(rows) -> str:
    out = ["Each set's songs trained stage by stage by the preset; every seen song rendered "
           "after every stage at each temperature from the preset's seeds: the verdicts' "
           "counts; kept as a rate with its 90 % Wilson interval; the renders' level against "
           "their song's (mean, dB) and how many collapsed (more than 20 dB under, or 80 % "
           "noise); the share of their frames in held tones (mean) and the tones' pitches; the "
           "teacher-forced accuracy on that song after the stage; the trajectory "
           "(the newest song inside each stage, one render per point at the middle "
           "temperature, steps in brackets).", "",
           "| set | stage | song | T | verdicts | kept | level, collapsed | tones | accuracy |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for stage, by_clip in r["stages"].items():
            for k, (clip, temps) in enumerate(by_clip.items()):
                for t, v in temps.items():
                    lo, hi = v["kept_interval"]
                    out.append(
                        f"| {r['set']} | {stage} | {clip} | {t} | "
                        + ", ".join(f"{n} {c}" for n, c in v["counts"].items())
                        + f" | {v['kept']} of {v['renders']} ({lo:.2f}–{hi:.2f}) | "
                        f"{v['level_db']:+.0f} dB, {v['collapsed']} of {v['renders']} | "
                        f"{tones(v)} | {r['accuracy'][int(stage) - 1][k]:.3f} |")
        temps = sorted({p["temperature"] for p in r["trajectory"]})
        mid = temps[len(temps) // 2] if temps else None
        traj = "; ".join(f"stage {p['stage']} {p['clip']} {p['verdict']} ({p['step']})"
                         for p in r["trajectory"] if p["temperature"] == mid)
        lr = f", lr {r['lr']:g}" if r.get("lr") else ""
        out.append(f"| {r['set']}: {r['preset']}, {r['seconds']:g} s songs, "
                   f"{r.get('render_seeds', 3)} seeds{lr}"
                   f", {r['wall_s'] / 60:.1f} min, {r['machine'].split(';')[0]}; trajectory at "
                   f"T {mid:g}: {traj or '–'} | | | | | | | | |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", required=True, help="a directory bench/real_songs.py wrote")
    ap.add_argument("--out", required=True, help="directory for the table and the studies")
    ap.add_argument("--preset", default="sketch", choices=presets.NAMES)
    ap.add_argument("--sets", nargs="*", help="only these sets (default: every set)")
    ap.add_argument("--seconds", type=float, default=30.0, help="each song's first seconds")
    ap.add_argument("--songs", type=int, default=3, choices=(1, 2, 3),
                    help="train only the first N songs (stages 1..N; default 3); the renders "
                    "are judged beside the set's other songs too, as the whole set's study")
    ap.add_argument("--seeds", type=int, help="render seeds per song and temperature (default: "
                    "the preset's); a rate over more seeds narrows its interval")
    ap.add_argument("--lr", type=float, help="peak learning rate of every stage instead of the "
                    "preset's (a lever the map measured)")
    ap.add_argument("--report", action="store_true", help="write each study's report.html")
    ap.add_argument("--quick", action="store_true", help="20 + 10 steps, a smoke test")
    ap.add_argument("--rejudge", action="store_true",
                    help="judge the studies of sets judged by an earlier measure again, from "
                    "their files (wavecore.study.rejudge), instead of training them again")
    args = ap.parse_args(argv)
    manifest = os.path.join(args.real, "manifest.json")
    if not os.path.exists(manifest):
        ap.error(f"--real {args.real}: no manifest.json there (run bench/real_songs.py)")
    with open(manifest, encoding="utf-8") as f:
        known = list(json.load(f)["sets"])
    for name in args.sets or ():
        if name not in known:
            ap.error(f"--sets {name}: not in {manifest} (its sets: {', '.join(known)})")
    if args.seeds is not None and args.seeds < 1:
        ap.error(f"--seeds {args.seeds}: must be at least 1")
    if args.lr is not None and not args.lr > 0:
        ap.error(f"--lr {args.lr}: must be positive")
    want = kind({"preset": args.preset, "seconds": args.seconds, "quick": args.quick,
                 "songs": args.songs, "render_seeds": settings(args)[1].render_seeds,
                 "lr": args.lr})
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "preset_real.json")
    done, others = {}, []                    # others: rows of another preset or length, kept
    if os.path.exists(path):                              # go on where an earlier run stopped
        with open(path, encoding="utf-8") as f:
            for r in json.load(f)["sets"]:
                if kind(r) != want:
                    others.append(r)
                    continue
                study = os.path.join(args.out, "studies", r["set"])
                if r["measure"] != MEASURE and args.rejudge and os.path.isdir(study):
                    r = judged_again(r, study, args)
                if r["measure"] == MEASURE:
                    done[r["set"]] = r
    for name in known:
        if args.sets and name not in args.sets or name in done:
            continue
        done[name] = run_set(name, args, os.path.join(args.out, "studies", name))
        save_json(path, {"sets": others + [done[n] for n in known if n in done]})
        t = done[name]["stages"]["1"]["song1"]
        print(f"{name}: song 1 after stage 1: "
              + "; ".join(f"T {k}: " + ", ".join(f"{n} {c}" for n, c in v["counts"].items())
                          for k, v in t.items())
              + f" ({done[name]['wall_s'] / 60:.1f} min)", flush=True)
    rows = [done[n] for n in known if n in done]
    save_json(path, {"sets": others + rows})
    with open(os.path.join(args.out, "preset_real.md"), "w", encoding="utf-8") as f:
        f.write(table(rows))
    print(f"preset {args.preset} on {len(rows)} real set(s); "
          f"{os.path.join(args.out, 'preset_real.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
