"""The regime map: where a WaveNet's reproduction of song 1 is a copy, kept, merged, texture or
noise, as a function of the data (song seconds), the capacity (parameters), the receptive field,
the training length and input corruption.

Each cell is one two-stage study (wavecore.study) on cuts of the built-in full-length songs:
stage 1 trains on song 1 (``hype_full``'s first S seconds) for --steps steps, with renders of
song 1 at 1/2^k .. 1/2 of the stage (--trajectory k: the training-length sweep) and at its end;
stage 2 adds song 2 (``truss_full``, the same length) for --later steps. Every render is primed
with one receptive field of its song and continued for --render-seconds, at T = 0.9, 0.7, 0.6,
--render-seeds times each (streams of one sampler call), and judged by
wavecore.analysis.verbatim.verdict (thresholds fixed in that module, not here; the JSON names
the measure, and a cell judged by an earlier one is run again).

For every cell it records:
- after each stage and temperature, every seed's verdict, shares, longest run, fragment share,
  shared share and credit to unheard songs, and the cell's verdict counts with a 90 % Wilson
  interval on the most frequent;
- the verdicts along stage 1's trajectory (one render per temperature and step);
- stage 2's move of song 1's reproduction: the change in song 2's share, and in the share of
  frames taken from song 1's chorus bars (wavecore.analysis.clips.moments): toward song 2, or toward
  song 1's own repeated phrase;
- the data-to-capacity ratio: song 1's samples x 8 bits (one μ-law byte each) / parameters
  (wavecore.study.plan.data_to_capacity);
- each render's level against song 1's (dB, RMS) and whether it collapsed
  (wavecore.analysis.measures.collapse: more than 20 dB under, or 80 % of its frames noise);
- the cell's wall time and the machine it ran on (a map may be run in parts on different machines).

The real recordings' rows (``--real DIR``, ``real_cells``) run the same study on songs 1 and 2
of each set that bench/real_songs.py fetched into DIR (three game soundtracks; song 2 is the
unheard song of stage 1, from the same soundtrack), with levers of their own: 10 / 30 / 60 s,
capacity, a 260 ms and a 1 s field, 16 kHz at the same seconds of field, the learning rate,
8000 steps.

    python bench/regime_map.py --out regime            # the map of docs/findings.md (about 75 min)
    python bench/real_songs.py --out real && python bench/regime_map.py --out regime --real real
    python bench/regime_map.py --out /tmp/r --quick    # a smoke test (about a minute)

It writes DIR/regime_map.json (every cell), DIR/regime_map.md (the table) and DIR/regime_map.png
(the phase diagram), or with --real DIR/regime_map_real.json and .md; each cell's study stays
in DIR/cells/NAME. A run goes on from the JSON it finds.
"""
from __future__ import annotations

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
from common import SIZES, grid_config, machine, save_json  # noqa: E402

from wavecore import WaveNetConfig
from wavecore.analysis import clips
from wavecore.analysis.measures import collapse
from wavecore.analysis.verbatim import MEASURE, VERDICTS
from wavecore.engine import layout
from wavecore.study import Study, StudySettings
from wavecore.study.plan import data_to_capacity
from wavecore.study.rates import cells as by_cell
from wavecore.study.rates import unseen, verdict_counts, wilson
from wavecore.study.settings import study_train_settings

TEMPS = (0.9, 0.7, 0.6)
COLOURS = dict(zip(VERDICTS, ("#d62728", "#e377c2", "#2ca02c", "#9467bd", "#17becf", "#ff7f0e",
                              "#7f7f7f")))


@dataclasses.dataclass
class Cell:
    name: str
    seconds: float          # song 1's (and song 2's) length
    size: str               # common.SIZES key
    rf: str = "64ms"        # common.DILATIONS key
    input_noise: float = 0.0
    steps: int | None = None    # stage 1's steps (default --steps), renders at 1/2^k .. 1/2 of them
    trajectory: int | None = None   # k (default --trajectory)
    songs: str = "builtin"      # or a set of bench/real_songs.py (its songs 1 and 2)
    rate: int = 8000            # sample rate (Hz)
    lr: float | None = None     # the learning rate (default: the study's, 3e-3)

    def config(self) -> WaveNetConfig:
        return grid_config(self.size, self.rf, self.rate)


def real_cells() -> list[Cell]:
    """The real recordings' rows (bench/real_songs.py), in the order they are worth running:
    the built-in map's kept recipe (M, 64 ms, input noise 0.1) on each set at 30 and 10 s, and
    the 446 k model at 10 s, with and without input noise; then per set one lever at a time at
    30 s: no input noise, the 67 k model, a 260 ms field, a 1 s field, 16 kHz at the same
    seconds of field, a learning rate of 1e-3, 60 s of song; then 8000 steps (the sketch
    preset's length) with the trajectory on each set."""
    def cell(songs, size, sec, noise=0.1, rf="64ms", rate=8000, steps=None, trajectory=None,
             lr=None):
        name = (f"{songs}-{size}-{sec:g}s" + (f"-noise{noise:g}" if noise else "")
                + (f"-rf{rf}" if rf != "64ms" else "") + (f"-{rate // 1000}k" if rate != 8000
                                                          else "")
                + (f"-{steps}steps" if steps else "") + (f"-lr{lr:g}" if lr else ""))
        return Cell(name, sec, size, rf=rf, input_noise=noise, steps=steps,
                    trajectory=trajectory, songs=songs, rate=rate, lr=lr)
    sets = ("drascula", "etr", "wesnoth")
    out = [cell(s, size, sec) for size, sec in (("M", 30), ("M", 10), ("L", 10)) for s in sets]
    out += [cell(s, "L", 10, noise=0) for s in sets]
    for s in sets:
        out += [cell(s, "M", 30, noise=0), cell(s, "S", 30), cell(s, "M", 30, rf="260ms"),
                cell(s, "M", 30, rf="1s"), cell(s, "M", 30, rate=16000),
                cell(s, "M", 30, lr=1e-3), cell(s, "M", 60)]
    return out + [cell(s, "M", 30, steps=8000, trajectory=6) for s in sets]


def cells(quick: bool, family: str = "builtin") -> list[Cell]:
    if quick:
        return [Cell("q", 1.0, "S")] if family == "builtin" else \
            [Cell("q-real", 1.0, "S", songs="drascula")]
    if family == "real":
        return real_cells()
    out = [Cell(f"{s}-{sec:g}s", sec, s) for s in SIZES for sec in (2.2, 4.4, 8.7, 17.5)]
    out += [Cell(f"M-8.7s-rf{rf}", 8.7, "M", rf=rf) for rf in ("0.5s", "1s")]
    out += [Cell(f"M-{sec:g}s-noise0.1", sec, "M", input_noise=0.1) for sec in (4.4, 17.5)]
    # training length: 8000 steps (4x the old demo's 2000), renders at 125, 250, ..., 4000
    out += [Cell("S-17.5s-8000steps", 17.5, "S", steps=8000, trajectory=6),
            Cell("M-17.5s-noise0.1-8000steps", 17.5, "M", input_noise=0.1, steps=8000,
                 trajectory=6)]
    return out


def chorus_share(render, clip, seconds) -> float:
    """The share of a render's frames matched to the chorus phrase of ``clip``'s song (its
    chorus and break bars), from the resemblance measure's per-moment counts."""
    res = render.resemblance
    counts = np.asarray(res["moments"].get(clip, []), dtype=np.float64)
    if not counts.size:
        return 0.0
    t = (np.arange(len(counts)) + 0.5) * res["moment_bin_s"]
    song = "hype_full" if clip == "song1" else "truss_full"
    bars = [(a, b) for kind, a, b in clips.moments(song)
            if kind in ("chorus", "break") and a < seconds]
    inside = np.zeros(len(counts), bool)
    for a, b in bars:
        inside |= (t >= a) & (t < b)
    return float(counts[inside].sum() / max(1, res["frames"]))


def run_cell(cell: Cell, args, out_dir) -> dict:
    cfg = cell.config()
    n = int(round(cell.seconds * cfg.sample_rate))
    if cell.songs == "builtin":
        songs = [("song1", clips.get("hype_full", cfg.sample_rate)[:n]),
                 ("song2", clips.get("truss_full", cfg.sample_rate)[:n])]
    else:
        songs = real_songs.load(args.real, cell.songs, cell.seconds, cfg.sample_rate)[:2]
    train = study_train_settings(input_noise=cell.input_noise, seed=args.seed,
                                 window=min(2000, n // 2), **({"lr": cell.lr} if cell.lr else {}))
    st = StudySettings(memorise=False, steps_per_stage=cell.steps or args.steps,
                       later_steps=args.later, trajectory=cell.trajectory or args.trajectory,
                       temperatures=TEMPS, prime="rf",
                       render_seconds=args.render_seconds, render_seeds=args.render_seeds,
                       timeline_every=0, eval_every=0, train=train, seed=args.seed)
    shutil.rmtree(out_dir, ignore_errors=True)          # a cell cut short starts again
    t0 = time.perf_counter()
    rec = Study(cfg, songs, st, out_dir=out_dir, report=False).run(progress=False,
                                                                   log=lambda *a, **k: None)
    wall = time.perf_counter() - t0
    params = layout.size(cfg)
    row = {"cell": dataclasses.asdict(cell), "measure": MEASURE, "params": params,
           "receptive_field_s": cfg.receptive_field / cfg.sample_rate,
           "ratio": data_to_capacity(cfg, len(songs[0][1])),
           "wall_s": round(wall, 1), "machine": machine(),
           "accuracy": rec.accuracy[1][0],                  # row 0: untrained
           "stage1": {}, "trajectory": [], "stage2": {}}

    def about(r):
        return {"seed": r.seed, "verdict": r.verdict,
                "song1": round(r.resemblance["shares"].get("song1", 0), 3),
                "song2": round(r.resemblance["shares"].get("song2", 0), 3),
                "noise": round(r.resemblance["shares"]["noise"]
                               + r.resemblance["shares"]["novel"], 3),
                "longest_s": r.runs["longest_s"], "fragment_share": r.runs["fragment_share"],
                "shared_share": r.runs["shared_share"], "unseen_credit": r.runs["unseen_credit"],
                "chorus": (round(chorus_share(r, "song1", cell.seconds), 3)
                           if cell.songs == "builtin" else None),
                "level_db": round(r.runs["level_db"] - r.runs["clip_level_db"], 1),
                "collapse": collapse(r.resemblance["shares"], r.runs["level_db"],
                                     r.runs["clip_level_db"])}
    for (stage, _, t), rs in by_cell([r for r in rec.renders if r.clip == "song1"]).items():
        counts = verdict_counts(rs)
        main, k = counts[0]
        seeds = [about(r) for r in rs]
        mean = {key: round(float(np.mean([x[key] for x in seeds])), 3)
                for key in ("song2", "chorus", "fragment_share", "shared_share", "level_db")
                if seeds[0][key] is not None}
        mean["collapsed"] = sum(x["collapse"] is not None for x in seeds)
        row[f"stage{stage}"][f"{t:g}"] = {
            "verdict": main, "counts": dict(counts), "interval": [round(v, 2) for v in
                                                                  wilson(k, len(rs))],
            "unseen_credit": round(unseen(rs), 3), **mean, "seeds": seeds}
    for p in rec.trajectory:
        if p.stage == 1:
            row["trajectory"].append({"step": p.step, "temperature": p.temperature,
                                      "verdict": p.verdict,
                                      "fragment_share": p.runs["fragment_share"],
                                      "longest_s": p.runs["longest_s"],
                                      "level_db": round(p.runs["level_db"]
                                                        - p.runs["clip_level_db"], 1)})
    for t in map("{:g}".format, TEMPS):
        a, b = row["stage1"][t], row["stage2"][t]
        row["stage2"][t]["toward_song2"] = round(b["song2"] - a["song2"], 3)
        if "chorus" in a:
            row["stage2"][t]["toward_chorus"] = round(b["chorus"] - a["chorus"], 3)
    return row


def said(v: dict) -> str:
    """A cell's verdicts at one temperature in words: "kept 2, texture 1"."""
    return ", ".join(f"{k} {n}" for k, n in v["counts"].items())


def table(rows, args) -> str:
    out = [f"Stage 1: {args.steps} steps on song 1 (unless the cell says otherwise); stage 2: "
           f"{args.later} more with song 2. Song 1's renders after stage 1 at T = 0.9 / 0.7 / "
           f"0.6, {args.render_seeds} seeds each: each verdict's count; the credit to song 2 "
           "(unheard at stage 1) as a share of the fragment frames at T = 0.7; the trajectory's "
           "verdicts at T = 0.7 (one render each, steps in brackets); the renders' level against "
           "song 1's after stage 1 at T = 0.7 (mean over seeds, dB) and how many collapsed "
           "(wavecore.analysis.measures.collapse: more than 20 dB under, or 80 % noise); stage "
           "2's change in song 2's share and song 1's chorus share at T = 0.7 (means over "
           "seeds; no chorus for real recordings).",
           "",
           "| cell | params | RF | song s | data/capacity | accuracy | after stage 1: 0.9 "
           "| 0.7 | 0.6 | unheard credit | trajectory (T 0.7) | level, collapsed | stage 2 at 0.7 "
           "| stage 2: song 2 / chorus share | wall, machine |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["cell"]
        s1 = " | ".join(said(r["stage1"][f"{t:g}"]) for t in TEMPS)
        traj = ", ".join(f"{p['verdict']} ({p['step']})" for p in r["trajectory"]
                         if p["temperature"] == 0.7)
        s2 = r["stage2"]["0.7"]
        noise = f", input noise {c['input_noise']:g}" if c["input_noise"] else ""
        noise += f", {c['steps']} steps" if c.get("steps") else ""
        noise += f", {c['rate'] // 1000} kHz" if c.get("rate", 8000) != 8000 else ""
        noise += f", lr {c['lr']:g}" if c.get("lr") else ""
        a = r["stage1"]["0.7"]
        level = (f"{a['level_db']:+.0f} dB, {a['collapsed']} of {sum(a['counts'].values())}"
                 if "level_db" in a else "–")
        chorus = f"{s2['toward_chorus']:+.2f}" if "toward_chorus" in s2 else "–"
        out.append(f"| {c['name']}{noise} | {r['params']:,} | "
                   f"{r['receptive_field_s'] * 1000:.0f} ms | "
                   f"{c['seconds']:g} | {r['ratio']:.2f} | {r['accuracy']:.3f} | {s1} | "
                   f"{100 * r['stage1']['0.7']['unseen_credit']:.0f} % | {traj} | {level} | "
                   f"{said(s2)} | {s2['toward_song2']:+.2f} / {chorus} | "
                   f"{r['wall_s'] / 60:.1f} min, {r['machine'].split(';')[0]} |")
    return "\n".join(out) + "\n"


def figure(rows, path) -> None:
    """The phase diagram: song seconds x parameters, each cell coloured by its most frequent
    verdict at T = 0.7 after stage 1, with the three temperatures' written in it; the grid's
    cells only (64 ms, uncorrupted, --steps)."""
    from wavecore.study.report import pyplot, save_figure
    plt = pyplot()
    colours = COLOURS
    grid = [r for r in rows if r["cell"]["rf"] == "64ms" and not r["cell"]["input_noise"]
            and not r["cell"].get("steps") and r["cell"].get("songs", "builtin") == "builtin"]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for r in grid:
        v = [r["stage1"][f"{t:g}"]["verdict"] for t in TEMPS]
        ax.scatter(r["cell"]["seconds"], r["params"], s=900, marker="s", color=colours[v[1]],
                   alpha=0.8)
        ax.annotate("\n".join(x[:4] for x in v) + f"\n{r['ratio']:.1f}",
                    (r["cell"]["seconds"], r["params"]), ha="center", va="center", fontsize=6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    xs = sorted({r["cell"]["seconds"] for r in grid})
    ys = sorted({r["params"] for r in grid})
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.set_yticks(ys, [f"{y / 1000:.0f} k" for y in ys])
    ax.minorticks_off()
    ax.set_xlabel("song 1 seconds (8 kHz)")
    ax.set_ylabel("parameters")
    ax.set_title("after stage 1: most frequent verdict at T = 0.7 (text: 0.9 / 0.7 / 0.6, "
                 "data/capacity)",
                 fontsize=8)
    for k, c in colours.items():
        ax.scatter([], [], color=c, marker="s", label=k)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.margins(0.25)
    save_figure(plt, fig, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="directory for the map and the cells' studies")
    ap.add_argument("--quick", action="store_true", help="one tiny cell, a smoke test")
    ap.add_argument("--steps", type=int, default=1200, help="stage 1 steps")
    ap.add_argument("--later", type=int, default=300, help="stage 2 steps")
    ap.add_argument("--trajectory", type=int, default=3, help="renders at 1/2^k .. 1/2 of stage 1")
    ap.add_argument("--render-seconds", type=float, default=4.0)
    ap.add_argument("--render-seeds", type=int, default=3, help="renders per (stage, T)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", help="run only these cells (by name)")
    ap.add_argument("--real", metavar="DIR",
                    help="the real recordings' rows instead, on the sets bench/real_songs.py "
                         "wrote to DIR (regime_map_real.json, .md)")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.later, args.trajectory, args.render_seconds = 40, 10, 1, 0.5
    family = "real" if args.real else "builtin"
    if args.real and not os.path.exists(os.path.join(args.real, "manifest.json")):
        ap.error(f"--real {args.real}: no manifest.json there; run bench/real_songs.py --out "
                 f"{args.real} first")
    every = cells(args.quick, family)
    unknown = sorted(set(args.only or ()) - {c.name for c in every})
    if unknown:
        ap.error(f"--only: no cell named {', '.join(unknown)}")
    os.makedirs(args.out, exist_ok=True)
    stem = "regime_map" if family == "builtin" else "regime_map_real"
    path = os.path.join(args.out, stem + ".json")
    done = {}
    if os.path.exists(path):                              # go on where an earlier run stopped
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
        done = {r["cell"]["name"]: {"machine": old["machine"], **r} for r in old["cells"]
                if r.get("measure") == MEASURE}         # judged by an earlier measure: again
    t0 = time.perf_counter()
    todo = [c for c in every if not args.only or c.name in args.only]
    rows = []
    for i, cell in enumerate(todo):
        if cell.name not in done:
            done[cell.name] = run_cell(cell, args, os.path.join(args.out, "cells", cell.name))
            settings = {k: v for k, v in vars(args).items() if k not in ("out", "only", "real")}
            save_json(path, {"settings": settings, "machine": machine(),  # this run's
                             "cells": list(done.values())})               # each its own
        r = done[cell.name]
        rows.append(r)
        print(f"[{i + 1}/{len(todo)}] {cell.name}: ratio {r['ratio']:.2f}, "
              f"accuracy {r['accuracy']:.3f}, "
              "after stage 1 " + " / ".join(said(r["stage1"][f"{t:g}"]) for t in TEMPS)
              + f", {r['wall_s']:.0f} s", flush=True)
    with open(os.path.join(args.out, stem + ".md"), "w", encoding="utf-8") as f:
        f.write(table(rows, args))
    if family == "builtin":
        figure(rows, os.path.join(args.out, "regime_map.png"))
    print(f"regime map: {len(rows)} cells, {time.perf_counter() - t0:.0f} s; "
          f"{os.path.join(args.out, stem + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
