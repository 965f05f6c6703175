"""bench/real_songs.py on a constructed package tree (no download): the cut, the manifest's
licence, hashes and descriptions, ``load`` at two rates, the errors; and bench/regime_map.py's
real-recordings rows end to end on such a set (each render's level and collapse recorded)."""
import hashlib
import json
import os
import sys

import numpy as np
import pytest
import soundfile as sf
from conftest import bench_script, run

from wavecore.analysis.measures import level_db
from wavecore.study.record import read_state

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 8000


def real_songs():
    return bench_script("real_songs")


def package_tree(root, name="drascula", seconds=81.0, freqs=(220.0, 330.0, 495.0)):
    """An unpacked package holding set ``name``'s three tracks: silence for the cut's offset,
    then a sine of amplitude 0.5 (ogg, 8 kHz stereo)."""
    mod = real_songs()
    _, folder, _, tracks = mod.SETS[name]
    os.makedirs(os.path.join(root, folder))
    t = np.arange(int(seconds * SR)) / SR
    for f, track in zip(freqs, tracks):
        a = np.where(t >= mod.OFFSET_S, 0.5 * np.sin(2 * np.pi * f * t), 0.0)
        sf.write(os.path.join(root, folder, track), np.stack([a, a], 1), SR, format="OGG")
    return [os.path.join(root, folder, tr) for tr in tracks]


def test_cut_writes_the_excerpts_and_the_manifest(tmp_path):
    mod = real_songs()
    paths = package_tree(tmp_path / "x")
    entry = mod.cut("drascula", str(tmp_path / "x"), str(tmp_path / "out"), "1.0-2")
    assert entry["package"] == "drascula-music" and entry["version"] == "1.0-2"
    assert entry["licence"].startswith("Drascula-License")
    assert entry["source"] == "Debian package drascula-music 1.0-2"
    for k, (s, path, f) in enumerate(zip(entry["songs"], paths, (220, 330, 495))):
        assert s["file"] == f"drascula/{k + 1}_{os.path.basename(path)[:-4]}.wav"
        assert s["sha256"] == hashlib.sha256(open(path, "rb").read()).hexdigest()
        a, sr = sf.read(tmp_path / "out" / s["file"])
        assert sr == mod.RATE and len(a) == int(mod.EXCERPT_S * mod.RATE)
        assert level_db(a[:mod.RATE // 2]) == pytest.approx(-9.03, abs=0.5)   # from 20 s in
        assert s["rms_dbfs"] == pytest.approx(-9.0, abs=0.5)
        assert s["centroid_hz"] == pytest.approx(f, rel=0.05)
        assert (s["from_s"], s["seconds"]) == (mod.OFFSET_S, mod.EXCERPT_S)
    assert not list((tmp_path / "out").rglob("*.tmp*"))


def test_a_track_shorter_than_the_cut_is_an_error_naming_it(tmp_path):
    mod = real_songs()
    package_tree(tmp_path / "x", seconds=50.0)
    with pytest.raises(ValueError, match=r"track1\.ogg: 50\.0 s, shorter than the cut"):
        mod.cut("drascula", str(tmp_path / "x"), str(tmp_path / "out"), "1")


@pytest.fixture(scope="module")
def real_set(tmp_path_factory):
    """A directory as real_songs.py writes it, holding one constructed set (drascula)."""
    d = tmp_path_factory.mktemp("real")
    mod = real_songs()
    package_tree(d / "x")
    entry = mod.cut("drascula", str(d / "x"), str(d / "out"), "1")
    with open(d / "out" / "manifest.json", "w") as f:
        json.dump({"rate": mod.RATE, "sets": {"drascula": entry}}, f)
    return d / "out"


def test_load_gives_the_first_seconds_at_a_rate(real_set):
    mod = real_songs()
    songs = mod.load(str(real_set), "drascula", 10.0, 8000)
    assert [n for n, _ in songs] == ["song1", "song2", "song3"]
    assert all(len(a) == 80000 and a.dtype == np.float32 for _, a in songs)
    assert len(mod.load(str(real_set), "drascula", 2.5, 16000)[0][1]) == 40000
    with pytest.raises(ValueError, match="shorter than 61 s"):
        mod.load(str(real_set), "drascula", 61.0, 8000)


def test_the_map_s_real_rows_end_to_end(real_set, tmp_path):
    script = os.path.join(ROOT, "bench", "regime_map.py")
    code, out, err = run([sys.executable, script, "--out", str(tmp_path), "--quick",
                          "--render-seeds", "2", "--real", str(real_set)], timeout=600)
    assert code == 0, err[-2000:]
    data = json.load(open(tmp_path / "regime_map_real.json", encoding="utf-8"))
    (cell,) = data["cells"]
    assert cell["cell"]["songs"] == "drascula" and "real" not in data["settings"]
    for stage in ("stage1", "stage2"):
        for v in cell[stage].values():
            assert 0 <= v["collapsed"] <= 2 and isinstance(v["level_db"], float)
            for s in v["seeds"]:                   # level: the render's minus its clip's
                assert s["chorus"] is None
                if s["level_db"] < -20.1:
                    assert s["collapse"].startswith("its level is")
                elif s["collapse"] is not None and s["level_db"] > -19.9:
                    assert s["collapse"].endswith("of its frames are noise")
                    assert s["noise"] >= 0.8              # (noise and novel frames)
    assert all("level_db" in p for p in cell["trajectory"])
    table = open(tmp_path / "regime_map_real.md", encoding="utf-8").read()
    assert "| q-real |" in table and " of 2 |" in table
    assert not (tmp_path / "regime_map.png").exists()


def test_the_map_refuses_a_missing_set_or_an_unknown_cell(tmp_path):
    script = os.path.join(ROOT, "bench", "regime_map.py")
    code, _, err = run([sys.executable, script, "--out", str(tmp_path), "--real",
                        str(tmp_path / "nowhere")], timeout=120)
    assert code == 2 and "no manifest.json there" in err
    code, _, err = run([sys.executable, script, "--out", str(tmp_path), "--only", "Z-1s"],
                       timeout=120)
    assert code == 2 and "--only: no cell named Z-1s" in err


def test_the_measure_check_on_a_real_set_rates_every_case(real_set, tmp_path):
    """bench/real_measure_check.py on the constructed set (sines: a copy of a held tone is no
    fragment, so the copy case must come out wrong here): every case at every place, its
    answer and whether it was right, the rates in the table."""
    script = os.path.join(ROOT, "bench", "real_measure_check.py")
    code, out, err = run([sys.executable, script, "--real", str(real_set), "--out",
                          str(tmp_path), "--places", "2"], timeout=600)
    assert code == 0, err[-2000:]
    rows = json.load(open(tmp_path / "real_measure_check.json"))["rows"]
    cases = ["copy", "hiss 20 dB", "hiss 10 dB", "pieces", "unheard", "song 2", "loop", "noise",
             "quiet"]
    assert [(r["case"], r["at_s"]) for r in rows] == [(c, at) for at in (0.1, 26.0)
                                                      for c in cases]       # 30 s songs
    assert all(isinstance(r["ok"], bool) and r["want"] for r in rows)
    copy = [r for r in rows if r["case"] == "copy"]
    assert all(r["verdict"] != "copy" and not r["ok"] for r in copy)      # a held sine
    assert all(r["ok"] for r in rows if r["case"] == "quiet")
    md = (tmp_path / "real_measure_check.md").read_text()
    assert "| drascula | copy | copy | 0 of 2 |" in md
    assert "| drascula | quiet | collapsed | 2 of 2 |" in md


def test_the_preset_s_rates_on_a_real_set_stage_by_stage(real_set, tmp_path):
    """bench/preset_real.py --quick on the constructed set: every stage renders every seen
    song at each of the preset's temperatures from its seeds, with counts that add up, a kept
    interval that holds the rate, levels and the trajectory; a second run goes on from the
    JSON; an unknown set is refused by name."""
    script = os.path.join(ROOT, "bench", "preset_real.py")
    argv = [sys.executable, script, "--real", str(real_set), "--out", str(tmp_path), "--quick",
            "--seconds", "4"]
    code, out, err = run(argv, timeout=600)
    assert code == 0, err[-2000:]
    (row,) = json.load(open(tmp_path / "preset_real.json"))["sets"]
    assert row["set"] == "drascula" and row["preset"] == "sketch" and row["steps"] == [20, 10]
    assert [list(v) for v in row["stages"].values()] == [["song1"], ["song1", "song2"],
                                                        ["song1", "song2", "song3"]]
    for by_clip in row["stages"].values():
        for temps in by_clip.values():
            assert list(temps) == ["0.9", "0.7", "0.6"]
            for v in temps.values():
                assert sum(v["counts"].values()) == v["renders"] == len(v["seeds"]) == 2
                lo, hi = v["kept_interval"]
                assert lo <= v["kept"] / 2 <= hi and 0 <= v["collapsed"] <= 2
                assert v["tone_share"] is None or 0 <= v["tone_share"] <= 1
    assert len(row["accuracy"]) == 3 and len(row["accuracy"][2]) == 3
    assert {p["stage"] for p in row["trajectory"]} == {1, 2, 3}
    md = (tmp_path / "preset_real.md").read_text()
    assert "| drascula | 3 | song3 | 0.6 |" in md and "sketch, 4 s songs" in md
    assert "| level, collapsed | tones | accuracy |" in md
    code, out, _ = run(argv, timeout=300)                  # nothing left to run
    assert code == 0 and "drascula:" not in out and "1 real set(s)" in out
    data = json.load(open(tmp_path / "preset_real.json"))
    data["sets"][0]["measure"] -= 1                       # as if judged by an earlier measure
    other = {"set": "drascula", "preset": "demo", "seconds": 4.0, "quick": True, "measure": 1}
    data["sets"].append(other)                            # another preset's row: kept as it is
    json.dump(data, open(tmp_path / "preset_real.json", "w"))
    code, out, err = run(argv + ["--rejudge"], timeout=300)   # judged again, not trained
    assert code == 0, err[-2000:]
    assert "drascula: judged 45 renders again by measure" in out, out   # 36 + 9 points
    assert out.split("\n")[0].endswith("no verdict changed")
    kept_other, again = json.load(open(tmp_path / "preset_real.json"))["sets"]
    assert kept_other == other
    assert again["judged_again_from"] == row["measure"] - 1
    assert again["stages"] == row["stages"] and again["wall_s"] == row["wall_s"]
    code, out, err = run(argv + ["--songs", "1", "--seeds", "3", "--lr", "1e-3"], timeout=300)
    assert code == 0, err[-2000:]
    assert "drascula: song 1 after stage 1" in out        # another kind of row: trained
    *kept_rows, one = json.load(open(tmp_path / "preset_real.json"))["sets"]
    assert kept_rows == [other, again]
    assert (one["songs"], one["render_seeds"], one["lr"]) == (1, 3, 1e-3)
    assert list(one["stages"]) == ["1"] and len(one["accuracy"]) == 1
    assert all(v["renders"] == 3 for v in one["stages"]["1"]["song1"].values())
    # judged beside the songs it did not train on
    assert read_state(tmp_path / "studies" / "drascula")[1].references == ["song2", "song3"]
    assert "sketch, 4 s songs, 3 seeds, lr 0.001" in (tmp_path / "preset_real.md").read_text()
    code, _, err = run(argv + ["--sets", "nowhere"], timeout=120)
    assert code == 2 and "--sets nowhere: not in" in err
    code, _, err = run(argv + ["--seeds", "0"], timeout=120)
    assert code == 2 and "--seeds 0: must be at least 1" in err
