"""bench/moment_hunt.py: its target on constructed lifts (including the cases where it must say
no), song 1 in another form with its label file, and a quick hunt end to end."""
import json
import os
import sys

import pytest
from conftest import bench_script, run

from wavecore.analysis import moments
from wavecore.analysis.verbatim import MEASURE, VERDICTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "bench", "moment_hunt.py")


def hunt():
    return bench_script("moment_hunt")


def test_a_lift_rises_only_by_the_factor_with_the_intervals_apart():
    rose = hunt().rose
    before = [1.0, 0.8, 1.2, 4]
    assert rose(before, [2.0, 1.6, 2.4, 4])
    assert not rose(before, [1.4, 1.3, 1.5, 4])           # apart, but under 1.5 times
    assert not rose(before, [2.0, 1.0, 3.0, 4])           # 2 times, but the intervals overlap
    assert not rose(before, [3.0, 3.0, 3.0, 1])           # one render is not a rate
    assert not rose(before, None)                         # no fragment of it after
    assert rose(None, [0.5, 0.1, 0.9, 3]) and not rose(None, [0.5, 0.0, 1.0, 3])


def test_targets_read_the_right_stages():
    mod = hunt()
    lifts = {k: None for k in mod.KINDS}

    def cell(chorus, shriek, tones):
        return {"lift": {**lifts, "chorus": chorus, "shriek": shriek}, "tone_share": tones}
    low, high = [1.0, 0.9, 1.1, 4], [2.0, 1.8, 2.2, 4]
    row = {"stages": {"1": {"0.7": cell(low, low, low)}, "2": {"0.7": cell(high, low, low)},
                      "3": {"0.7": cell(high, low, high)}}}
    assert mod.targets(row)["0.7"] == {"chorus": True, "shriek": True}     # by the tones
    row["stages"]["3"]["0.7"] = cell(low, low, low)
    assert mod.targets(row)["0.7"] == {"chorus": True, "shriek": False}
    del row["stages"]["3"]                                # two stages: no shriek target
    assert mod.targets(row)["0.9"] == {"chorus": False, "shriek": False}


def test_song_one_in_another_form_comes_with_its_labels(tmp_path):
    mod = hunt()
    (cell,) = [c for c in mod.cells(False) if c.name == "chorus25"]
    got, labels = mod.songs(cell, 8000, str(tmp_path))
    name, x = got[0]
    (path,) = labels.values()
    assert list(labels) == [name] and len(got) == 3
    marks = moments.read_labels(path)
    share = sum(b - a for k, a, b in marks if k in ("chorus", "break")) / marks[-1][2]
    assert share == pytest.approx(0.25)
    assert len(x) / 8000 == pytest.approx(marks[-1][2], abs=1e-3)
    assert [k for k, _, _ in marks].count("shriek") == 5           # one per verse bar


def test_quick_hunt_end_to_end(tmp_path):
    code, out, err = run([sys.executable, SCRIPT, "--out", str(tmp_path), "--quick",
                          "--render-seeds", "2"], timeout=600)
    assert code == 0, err[-2000:]
    assert "moment hunt: 1 cells" in out
    (cell,) = json.load(open(tmp_path / "moment_hunt.json", encoding="utf-8"))["cells"]
    assert cell["measure"] == MEASURE and "cores" in cell["machine"]
    assert set(cell["stages"]) == {"1", "2"}
    for temps in cell["stages"].values():
        assert set(temps) == {"0.9", "0.7", "0.6"}
        for v in temps.values():
            assert v["renders"] == 2 and set(v["verdicts"]) <= set(VERDICTS)
            assert set(v["lift"]) == set(hunt().KINDS) and 0 <= v["unseen_credit"] <= 1
    assert set(cell["targets"]["0.7"]) == {"chorus", "shriek"}
    assert set(cell["inside"]) == {"1", "2", "5"}        # 10 / 2^k steps into stage 2
    for temps in cell["inside"].values():                # song 1 from both seeds at each
        assert set(temps) == {"0.9", "0.7", "0.6"} and all(
            v["renders"] == 2 and set(v["lift"]) == set(hunt().KINDS) for v in temps.values())
    md = (tmp_path / "moment_hunt.md").read_text()
    assert "| q (a smoke test) | 1 | 0.9 |" in md
    assert md.index("| q (a smoke test) | 2, 1 steps in | 0.9 |") < md.index(
        "| q (a smoke test) | 2 | 0.9 |")
    code, _, err = run([sys.executable, SCRIPT, "--out", str(tmp_path), "--only", "nope"],
                       timeout=120)
    assert code == 2 and "--only nope: no such cell" in err
