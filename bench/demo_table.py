"""The table of docs/findings.md and the README: what clip 1's reproduction became after every
stage of a study, read from its metrics.json, over the render seeds of each cell.

Per (stage, temperature), over the cell's seeds: the count of each verdict
(wavecore.analysis.verbatim.verdict) with a 90 % Wilson interval on the most frequent one; the
mean share of the renders' frames nearest each clip, noise and novel sound
(wavecore.analysis.measures.resemblance); the longest verbatim run of any seed; the mean share
of frames in fragments and in shared fragments (credited to no clip); and the *unseen credit*:
the share of the fragment frames (shared ones included) credited to clips the network had not
been trained on by that stage, the measure's own false credit (it must be near 0 for a measure
that credits only what was heard; wavecore.analysis.verbatim.unseen_credit).

Then, where the renders hold their clip's moments (wavecore.analysis.moments), a second table:
per (stage, temperature), each kind's mean lift over the seeds with a 90 % t interval (chance:
1), the mean share of frames in held tones, and how many renders loop.

    python bench/demo_table.py wavecore-demo              # the demo's directory
    python bench/demo_table.py DIR --clip truss_full      # another clip's reproduction
"""
import argparse
import json
import os
import sys
from collections import Counter
from types import SimpleNamespace

from wavecore.study.rates import mean_interval, verdict_counts, wilson


def rows(M: dict, clip: str) -> list[dict]:
    """One row per (stage, temperature) of ``clip``'s renders in a study's metrics.json."""
    trained = {st["stage"]: set(st["clips"]) for st in M["stages"]}
    out = []
    for stage in sorted(trained):
        for t in M["temperatures"]:
            rs = [r for r in M["renders"] if r["stage"] == stage and r["clip"] == clip
                  and r["temperature"] == t and r.get("verdict")]
            if not rs:
                continue
            counts = verdict_counts([SimpleNamespace(verdict=r["verdict"]) for r in rs])
            main, k = counts[0]
            frag = Counter()
            for r in rs:
                frag.update(r["runs"]["fragments"])
            unseen = sum(v for c, v in frag.items() if c not in trained[stage])
            shared = sum(r["runs"].get("shared", 0) for r in rs)    # measure 1 kept none
            shares = {s: sum(r["resemblance"]["shares"].get(s, 0.0) for r in rs) / len(rs)
                      for s in [*M["clips"], "noise", "novel"]}
            out.append({"stage": stage, "clips": sorted(trained[stage], key=M["clips"].index),
                        "temperature": t, "renders": len(rs),
                        "verdicts": dict(counts),
                        "main": main, "interval": wilson(k, len(rs)), "shares": shares,
                        "longest_s": max(r["runs"]["longest_s"] for r in rs),
                        "fragment_share": sum(r["runs"]["fragment_share"] for r in rs) / len(rs),
                        "shared_share": sum(r["runs"].get("shared_share", 0.0)
                                            for r in rs) / len(rs),
                        "unseen_credit": unseen / max(1, sum(frag.values()) + shared)})
    return out


def markdown(M: dict, table: list[dict]) -> str:
    names = M["clips"]
    head = ["after stage", "T", "verdicts (seeds)", "90 % interval",
            *[f"song {i + 1}" for i in range(len(names))], "noise", "novel", "longest run",
            "in fragments", "shared", "unseen credit"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        lo, hi = r["interval"]
        said = ", ".join(f"{v} {n}" for v, n in r["verdicts"].items())
        cells = [str(r["stage"]), f"{r['temperature']:g}", f"{said} of {r['renders']}",
                 f"{r['main']} {lo:.2f}–{hi:.2f}",
                 *[f"{100 * r['shares'][c]:.0f}" for c in names],
                 f"{100 * r['shares']['noise']:.0f}", f"{100 * r['shares']['novel']:.0f}",
                 f"{r['longest_s']:.2f} s", f"{100 * r['fragment_share']:.0f} %",
                 f"{100 * r['shared_share']:.0f} %",
                 f"{100 * r['unseen_credit']:.0f} %" if len(r["clips"]) < len(names) else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def lifts(M: dict, clip: str) -> str | None:
    """The moments table of ``clip``'s renders, or None when they hold no moments."""
    kinds = [k for k, _, _ in M.get("moments", {}).get(clip, {}).get("moments", [])]
    kinds = list(dict.fromkeys(kinds))
    rs = [r for r in M["renders"] if r["clip"] == clip and r.get("moments")]
    if not rs or not kinds:
        return None
    head = ["after stage", "T", *[f"{k} lift" for k in kinds], "tones", "loops"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for stage in sorted({r["stage"] for r in rs}):
        for t in M["temperatures"]:
            cell = [r["moments"] for r in rs if r["stage"] == stage and r["temperature"] == t]
            if not cell:
                continue
            row = [str(stage), f"{t:g}"]
            for k in kinds:
                vals = [m["lift"][k] for m in cell if m["lift"].get(k) is not None]
                if not vals:
                    row.append("–")
                    continue
                mean, lo, hi = mean_interval(vals, low=0.0)
                row.append(f"{mean:.2f} ({lo:.2f}–{hi:.2f}, {len(vals)})" if len(vals) > 1
                           else f"{mean:.2f} (1)")
            row.append(f"{100 * sum(m['tone_share'] for m in cell) / len(cell):.0f} %")
            row.append(f"{sum(m['loop_s'] is not None for m in cell)} of {len(cell)}")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", help="a study's --out directory (its metrics.json)")
    p.add_argument("--clip", help="whose reproduction (default: the first clip)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = p.parse_args(argv)
    path = os.path.join(args.dir, "metrics.json")
    try:
        with open(path, encoding="utf-8") as f:
            M = json.load(f)
    except (OSError, ValueError) as e:
        print(f"demo_table: {path}: cannot read ({e})", file=sys.stderr)
        return 1
    clip = args.clip or M["clips"][0]
    if clip not in M["clips"]:
        print(f"demo_table: --clip {clip}: not a clip of {path} ({', '.join(M['clips'])})",
              file=sys.stderr)
        return 1
    table = rows(M, clip)
    print(json.dumps(table, indent=1) if args.json else markdown(M, table))
    moments = lifts(M, clip)
    if moments and not args.json:
        print(f"\nlift per kind of moment of {clip} ({M['moments'][clip]['from']}): the mean "
              "over the seeds with a 90 % t interval and the count of renders with a fragment "
              "of it; tones: share of frames; loops: renders\n")
        print(moments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
