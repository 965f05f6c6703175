"""bench/regime_map.py: its chorus measure on constructed renders, and a quick run end to end
(every cell's verdicts, trajectory and stage-2 move in the JSON; the table and the figure)."""
import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import bench_script, run

from wavecore.analysis import clips, measures
from wavecore.analysis.verbatim import MEASURE, VERDICTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "bench", "regime_map.py")


def regime_map():
    return bench_script("regime_map")


def test_chorus_share_on_constructed_renders():
    """A render that is song 1's chorus bar draws most of its frames from the chorus moments; one
    that is a verse bar, few; 50/50 of the two, about half of what the chorus alone gets."""
    sr, mod = 8000, regime_map()
    seconds = 8.7
    song1 = clips.get("hype_full", sr)[:int(seconds * sr)]
    song2 = clips.get("truss_full", sr)[:int(seconds * sr)]
    src = measures.Sources([("song1", song1), ("song2", song2)], sr)
    bars = {k: (a, b) for k, a, b in reversed(clips.moments("hype_full"))}   # the first of each

    def share(x):
        render = SimpleNamespace(resemblance=measures.resemblance(x, src))
        return mod.chorus_share(render, "song1", seconds)

    def cut(kind, shift=37):
        a, b = bars[kind]
        return song1[int(a * sr) + shift:int(b * sr) - 200]
    chorus, verse = share(cut("chorus")), share(cut("verse"))
    half = share(np.concatenate([cut("chorus")[:8000], cut("verse")[:8000]]))
    assert chorus > 0.8 and verse < 0.15
    assert abs(half - chorus / 2) < 0.15


def test_quick_map_end_to_end(tmp_path):
    code, out, err = run([sys.executable, SCRIPT, "--out", str(tmp_path), "--quick",
                          "--render-seeds", "2"], timeout=600)
    assert code == 0, err[-2000:]
    assert "regime map: 1 cells" in out
    data = json.load(open(tmp_path / "regime_map.json", encoding="utf-8"))
    (cell,) = data["cells"]
    assert set(cell["stage1"]) == {"0.9", "0.7", "0.6"} == set(cell["stage2"])
    assert cell["measure"] == MEASURE and "cores" in data["machine"]
    assert "out" not in data["settings"]                   # no path of the machine it ran on
    for v in cell["stage1"].values():
        assert v["verdict"] in VERDICTS and sum(v["counts"].values()) == len(v["seeds"]) == 2
        assert [x["seed"] for x in v["seeds"]] == [0, 1] and 0 <= v["unseen_credit"] <= 1
        assert v["interval"][0] <= v["counts"][v["verdict"]] / 2 <= v["interval"][1]
    assert {p["step"] for p in cell["trajectory"]} == {20}              # 1/2 of 40 steps
    assert all("toward_song2" in v and "toward_chorus" in v for v in cell["stage2"].values())
    assert cell["ratio"] == pytest.approx(cell["cell"]["seconds"] * 8000 * 8 / cell["params"])
    table = (tmp_path / "regime_map.md").read_text(encoding="utf-8")
    assert "| q |" in table and (tmp_path / "regime_map.png").stat().st_size > 5000
    # a second run goes on from the JSON: nothing to train again
    code, out, _ = run([sys.executable, SCRIPT, "--out", str(tmp_path), "--quick",
                        "--render-seeds", "2"], timeout=120)
    assert code == 0 and "regime map: 1 cells" in out
    assert json.load(open(tmp_path / "regime_map.json", encoding="utf-8")) == data
    # a cell judged by an earlier measure is run again
    json.dump({**data, "cells": [{**cell, "measure": MEASURE - 1}]},
              open(tmp_path / "regime_map.json", "w", encoding="utf-8"))
    code, out, _ = run([sys.executable, SCRIPT, "--out", str(tmp_path), "--quick",
                        "--render-seeds", "2"], timeout=600)
    again = json.load(open(tmp_path / "regime_map.json", encoding="utf-8"))
    assert code == 0 and again["cells"][0]["measure"] == MEASURE
