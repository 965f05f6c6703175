"""The hunt for the essay's moments: which part of song 1 its reproduction keeps, stage by stage.

The essay tells of song 1's chorus surfacing when song 2 arrives, and of its shrieks and tones
when song 3 does. Each cell trains the built-in full songs (hype_full, truss_full, noise_full:
each its own kit) one stage at a time, cumulatively, and renders song 1 after every stage at
T = 0.9 / 0.7 / 0.6 from ``--render-seeds`` seeds, primed by its first receptive field. Every
render's lift per kind of moment (wavecore.analysis.moments: the share of its song-1-credited
fragment frames from that kind over the kind's share of the song; chance 1; shared frames left
out) is averaged over the seeds with a 90 % t interval; tones (share of frames), loops and the
verdicts come with it.

The base cell is the demo's recipe (wavecore.study.presets.demo: 2 x 8 layers, R = D = 16,
67 k parameters, 64 ms, 1200 steps per stage, input noise 0.1); every other cell moves one
lever:
- stage 2's length: 300 steps, and 2400 (two stages only: the chorus moment is stage 2's; the
  learning rate is constant, so these are also renders inside a longer stage 2);
- Adam's moments restarted at every stage (the essay's runs did);
- input noise 0 and 0.2 (every stage);
- capacity: the 216 k model (R = D = 32, S = 128);
- the receptive field: 260 ms (16 layers, so that a syllable fits);
- how much song 1 repeats its chorus: a form with a quarter of its bars chorus or break
  ("iVCVVbVV"; the song's own form "iVCVCbCC" has 5 of 8);
- the learning rate at the boundary: stages 2 and 3 at 1e-3 and 3e-4 (stage 1 at 3e-3);
- song 1 inside stage 2 (the stability gap: an old song's dip right after a new one arrives):
  a 4800-step stage 2 with song 1 rendered at 300, 600, 1200 and 2400 steps into it, from as
  many seeds as after a stage (--trajectory-clips seen).

A cell meets the chorus target at a temperature when its chorus lift after stage 2 is at least
1.5 times its lift after stage 1 with the intervals apart; the shriek target likewise from stage
2 to stage 3, for the shriek lift or the tone share. Every cell is reported, whatever it says,
with its wall time and machine.

    python bench/moment_hunt.py --out hunt                 # every cell
    python bench/moment_hunt.py --out hunt --only base reset
"""
import argparse
import dataclasses
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import grid_config, machine, save_json  # noqa: E402

from wavecore import WaveNetConfig  # noqa: E402
from wavecore.analysis import clips, moments  # noqa: E402
from wavecore.analysis.verbatim import MEASURE  # noqa: E402
from wavecore.study import Study, StudySettings  # noqa: E402
from wavecore.study.rates import cells as by_cell  # noqa: E402
from wavecore.study.rates import mean_interval, unseen, verdict_counts  # noqa: E402
from wavecore.study.settings import study_train_settings  # noqa: E402

TEMPS = (0.9, 0.7, 0.6)
KINDS = ("intro", "verse", "shriek", "chorus", "break")
FACTOR = 1.5                        # the target: a lift at least this many times the last stage's


@dataclasses.dataclass
class Cell:
    name: str
    lever: str
    size: str = "S"
    rf: str = "64ms"
    later: int = 1200               # steps of stages 2..
    songs: int = 3
    reset: bool = False
    input_noise: float = 0.1
    form: str | None = None         # song 1's form (default its own, "iVCVCbCC")
    later_lr: float | None = None   # the learning rate of stages 2.. (default stage 1's, 3e-3)
    inside: bool = False            # render song 1 inside stage 2 too (the trajectory)

    def config(self) -> WaveNetConfig:
        return grid_config(self.size, self.rf)


def cells(quick: bool) -> list[Cell]:
    if quick:
        return [Cell("q", "a smoke test", later=10, songs=2, inside=True)]
    return [Cell("base", "the demo's recipe"),
            Cell("later300", "stage 2 and 3: 300 steps", later=300),
            Cell("later2400", "stage 2: 2400 steps (two stages)", later=2400, songs=2),
            Cell("reset", "Adam restarted per stage", reset=True),
            Cell("noise0", "input noise 0", input_noise=0.0),
            Cell("noise0.2", "input noise 0.2", input_noise=0.2),
            Cell("M", "216 k parameters", size="M"),
            Cell("rf260ms", "receptive field 260 ms", rf="260ms"),
            Cell("chorus25", "chorus and break 2 of 8 bars", form="iVCVVbVV"),
            Cell("lr1e-3", "stages 2 and 3 at learning rate 1e-3", later_lr=1e-3),
            Cell("lr3e-4", "stages 2 and 3 at learning rate 3e-4", later_lr=3e-4),
            Cell("gap", "song 1 inside a 4800-step stage 2 (two stages)", later=4800, songs=2,
                 inside=True)]


def songs(cell: Cell, sr: int, out_dir: str):
    """The cell's songs and, for song 1 in another form, its label file."""
    names = list(clips.FULL_SONGS[:cell.songs])
    got = [(n, clips.get(n, sr)) for n in names]
    labels = {}
    if cell.form:
        bpm, _ = clips.FORMS["hype_full"]
        x = clips.hype_song(sr, len(cell.form) * 240 / bpm, 21, form=cell.form,
                            kit=clips.KITS["hype_full"])
        got[0] = ("hype_" + cell.form, x)
        path = os.path.join(out_dir, "hype_" + cell.form + ".txt")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(f"{a:.6f}\t{b:.6f}\t{k}\n"
                         for k, a, b in moments.builtin("hype_full", cell.form))
        labels[got[0][0]] = path
    return got, labels


def interval(values) -> list | None:
    """[mean, lo, hi, n] of values (90 % t interval, no lower than 0), None for none."""
    if not values:
        return None
    return [round(v, 3) for v in mean_interval(values, low=0.0)] + [len(values)]


def run_cell(cell: Cell, args, out_dir) -> dict:
    shutil.rmtree(out_dir, ignore_errors=True)          # a cell cut short starts again
    os.makedirs(out_dir)
    cfg = cell.config()
    got, labels = songs(cell, cfg.sample_rate, out_dir)
    train = study_train_settings(input_noise=cell.input_noise, seed=args.seed)
    st = StudySettings(memorise=False, steps_per_stage=args.steps, later_steps=cell.later,
                       later_lr=cell.later_lr, trajectory=4 if cell.inside else 0,
                       trajectory_clips="seen", trajectory_seeds=args.render_seeds,
                       temperatures=TEMPS, prime="rf",
                       render_seconds=args.render_seconds, render_seeds=args.render_seeds,
                       reset_optimizer=cell.reset, timeline_every=0, eval_every=0, train=train,
                       seed=args.seed)
    t0 = time.perf_counter()
    rec = Study(cfg, got, st, out_dir=os.path.join(out_dir, "study"), report=False,
                moments=labels).run(progress=False, log=lambda *a, **k: None)
    wall = time.perf_counter() - t0
    song1 = got[0][0]
    row = {"cell": dataclasses.asdict(cell), "measure": MEASURE, "song1": song1,
           "wall_s": round(wall, 1), "machine": machine(), "stages": {}}
    for (stage, _, t), rs in sorted(by_cell([r for r in rec.renders
                                             if r.clip == song1]).items()):
        row["stages"].setdefault(str(stage), {})[f"{t:g}"] = summary(rs)
    inside = {}
    for p in rec.trajectory:
        if p.stage == 2 and p.clip == song1:
            inside.setdefault((p.step - args.steps, p.temperature), []).append(p)
    if inside:                                   # steps into stage 2 -> T -> as a stage's
        row["inside"] = {}
        for (n, t), ps in sorted(inside.items()):
            row["inside"].setdefault(str(n), {})[f"{t:g}"] = summary(ps)
    row["targets"] = targets(row)
    return row


def summary(rs) -> dict:
    """What a cell's renders of song 1 (after a stage, or at a point inside one) keep: verdict
    counts, credit to unheard songs, fragment share, lift per kind, tone share, loops."""
    kept = [r.moments for r in rs if r.moments]
    return {"renders": len(rs), "verdicts": dict(verdict_counts(rs)),
            "unseen_credit": round(unseen(rs), 3),
            "fragment_share": round(sum(r.runs["fragment_share"] for r in rs) / len(rs), 3),
            "lift": {k: interval([m["lift"][k] for m in kept if m["lift"].get(k) is not None])
                     for k in KINDS},
            "tone_share": interval([m["tone_share"] for m in kept]),
            "loops": sum(m["loop_s"] is not None for m in kept)}


def rose(before, after) -> bool:
    """Whether ``after`` ([mean, lo, hi, n]) is at least FACTOR times ``before`` with the
    intervals apart (a lift after none before counts when its interval clears 0)."""
    if after is None or after[3] < 2:
        return False
    if before is None:
        return after[1] > 0
    return after[0] >= FACTOR * before[0] and after[1] > before[2]


def targets(row) -> dict:
    """Per temperature: the chorus target (stage 1 to 2) and the shriek target (stage 2 to 3,
    the shriek lift or the tone share)."""
    S = row["stages"]
    out = {}
    for t in map("{:g}".format, TEMPS):
        one, two, three = (S.get(str(k), {}).get(t) for k in (1, 2, 3))
        out[t] = {"chorus": bool(one and two and rose(one["lift"]["chorus"],
                                                     two["lift"]["chorus"])),
                  "shriek": bool(two and three and (
                      rose(two["lift"]["shriek"], three["lift"]["shriek"])
                      or rose(two["tone_share"], three["tone_share"])))}
    return out


def said(v) -> str:
    if v is None:
        return "–"
    m, lo, hi, n = v
    return f"{m:.2f} ({lo:.2f}–{hi:.2f}, {n})" if n > 1 else f"{m:.2f} (1)"


def table(rows, args) -> str:
    out = [f"Stage 1: {args.steps} steps on song 1; stages 2 and 3 as the cell says. Song 1's "
           f"renders after each stage, {args.render_seeds} seeds per temperature: verdicts, "
           "lift per kind of moment (mean over the seeds with a fragment of that kind, 90 % t "
           "interval, that count; chance 1), tone share (% of frames), loops; targets: chorus "
           "lift from stage 1 to 2, shriek lift or tone share from stage 2 to 3, at least "
           f"{FACTOR:g} times with the intervals apart.", "",
           "| cell | stage | T | verdicts | chorus | break | verse | shriek | intro | tones | "
           "loops | unheard credit | target met |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["cell"]
        rows_of = [(k, temps) for k, temps in r["stages"].items()]
        rows_of[1:1] = [(f"2, {n} steps in", temps) for n, temps in r.get("inside", {}).items()]
        for stage, temps in rows_of:
            for t, v in temps.items():
                met = [k for k, ok in r["targets"][t].items() if ok
                       and {"chorus": "2", "shriek": "3"}[k] == stage]
                tones = v["tone_share"]
                out.append(
                    f"| {c['name']} ({c['lever']}) | {stage} | {t} | "
                    + ", ".join(f"{k} {n}" for k, n in v["verdicts"].items()) + " | "
                    + " | ".join(said(v["lift"][k]) for k in ("chorus", "break", "verse",
                                                             "shriek", "intro"))
                    + f" | {100 * tones[0]:.0f} % | {v['loops']} | "
                    f"{100 * v['unseen_credit']:.0f} % | {', '.join(met) or '–'} |")
        out.append(f"| {c['name']}: {r['wall_s'] / 60:.1f} min, "
                   f"{r['machine'].split(',')[0]} | | | | | | | | | | | | |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="directory for the hunt and its cells' studies")
    ap.add_argument("--quick", action="store_true", help="one tiny cell, a smoke test")
    ap.add_argument("--steps", type=int, default=1200, help="stage 1 steps")
    ap.add_argument("--render-seconds", type=float, default=4.0)
    ap.add_argument("--render-seeds", type=int, default=4, help="renders per (stage, T)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", help="run only these cells (by name)")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.render_seconds = 40, 0.5
    known = [c.name for c in cells(args.quick)]
    for name in args.only or ():
        if name not in known:
            ap.error(f"--only {name}: no such cell (the cells: {', '.join(known)})")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "moment_hunt.json")
    done = {}
    if os.path.exists(path):                              # go on where an earlier run stopped
        with open(path, encoding="utf-8") as f:
            done = {r["cell"]["name"]: r for r in json.load(f)["cells"]
                    if r.get("measure") == MEASURE}
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "only")}
    t0 = time.perf_counter()
    rows = []
    for cell in cells(args.quick):
        if args.only and cell.name not in args.only:
            if cell.name in done:
                rows.append(done[cell.name])
            continue
        if cell.name not in done:
            done[cell.name] = run_cell(cell, args, os.path.join(args.out, "cells", cell.name))
            save_json(path, {"settings": settings, "cells": list(done.values())})
        r = done[cell.name]
        rows.append(r)
        two = r["stages"].get("2", {}).get("0.7")
        one = r["stages"]["1"]["0.7"]
        print(f"{cell.name}: chorus lift at T 0.7 {said(one['lift']['chorus'])} -> "
              f"{said(two and two['lift']['chorus'])}, targets "
              f"{json.dumps(r['targets'])}, {r['wall_s']:.0f} s", flush=True)
    with open(os.path.join(args.out, "moment_hunt.md"), "w", encoding="utf-8") as f:
        f.write(table(rows, args))
    print(f"moment hunt: {len(rows)} cells, {time.perf_counter() - t0:.0f} s; "
          f"{os.path.join(args.out, 'moment_hunt.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
