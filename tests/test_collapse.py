"""A render that collapses: its level against its clip's and its noise share
(wavecore.analysis.measures.level_db, collapse) on constructed renders, including those that must
not be flagged; the line beside its player in the report and the Jupyter view
(wavecore.study.rates.collapse_line); and a study's renders recording both levels."""
import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from test_rates import OLD, _cell

from wavecore.analysis import clips, measures
from wavecore.analysis.measures import collapse, level_db
from wavecore.study import load
from wavecore.study.rates import LEVERS, collapse_line
from wavecore.study.report import build
from wavecore.study.view import study_html

SR = 8000


def test_level_db_on_known_signals():
    t = np.arange(SR) / SR
    assert level_db(np.sin(2 * np.pi * 440 * t)) == pytest.approx(-3.01, abs=0.01)
    assert level_db(0.1 * np.sin(2 * np.pi * 440 * t)) == pytest.approx(-23.01, abs=0.01)
    assert level_db(np.full(100, 0.5)) == pytest.approx(-6.02, abs=0.01)
    assert level_db(np.zeros(100)) == pytest.approx(-120.0)
    assert level_db(np.zeros(0)) == -120.0


@pytest.fixture(scope="module")
def song():
    """The built-in song 1's first 6 s, its resemblance sources (with song 2's), and its level."""
    a = clips.get("hype_full", SR)[:6 * SR]
    b = clips.get("truss_full", SR)[:6 * SR]
    src = measures.Sources([("song1", a), ("song2", b)], SR)
    return a, src


def judge(x, src):
    return collapse(measures.resemblance(x, src)["shares"], level_db(x), src.levels["song1"])


def test_collapse_on_constructed_renders(song):
    """The clip itself and the clip 15 dB down are not collapsed; the clip 26 dB down is, by its
    level; white noise at the clip's level is, by its noise share; silence is, by its level."""
    a, src = song
    assert src.levels["song1"] == pytest.approx(level_db(a))
    x = a[SR:4 * SR]
    assert judge(x, src) is None
    assert judge(x * 10 ** (-15 / 20), src) is None          # quieter, still the song
    why = judge(x * 0.05, src)
    assert why is not None and why.startswith("its level is ") and "under its clip's" in why
    assert abs(float(why.split()[3]) - (src.levels["song1"] - level_db(x * 0.05))) < 1
    rms = 10 ** (src.levels["song1"] / 20)
    noise = np.random.default_rng(0).normal(0, rms, 3 * SR)
    why = judge(noise, src)
    assert why is not None and why.endswith("% of its frames are noise")
    assert judge(np.zeros(3 * SR), src).startswith("its level is ")


def test_collapse_thresholds_exactly():
    assert collapse({"noise": 0.79}, -30.0, -10.0) is None          # 20 dB under: not more
    assert collapse({"noise": 0.79}, -30.1, -10.0) == "its level is 20 dB under its clip's"
    assert collapse({"noise": 0.8}, -10.0, -10.0) == "80 % of its frames are noise"
    assert collapse({"noise": 0.0}, 0.0, -10.0) is None             # louder than its clip


def test_collapse_line_on_renders_and_points():
    r = SimpleNamespace(runs={"level_db": -45.0, "clip_level_db": -15.0},
                        resemblance={"shares": {"noise": 0.1}})
    assert collapse_line(r) == f"collapsed: its level is 30 dB under its clip's; " \
                               f"what can help: {LEVERS}"
    p = SimpleNamespace(runs={"level_db": -15.0, "clip_level_db": -15.0},
                        shares={"noise": 0.9})                       # a trajectory point
    assert collapse_line(p).startswith("collapsed: 90 % of its frames are noise")
    ok = SimpleNamespace(runs={"level_db": -16.0, "clip_level_db": -15.0},
                         resemblance={"shares": {"noise": 0.2}})
    assert collapse_line(ok) is None
    old = SimpleNamespace(runs={"longest_s": 0.1}, resemblance={"shares": {"noise": 0.9}})
    assert collapse_line(old) is None                                # recorded before levels


def test_the_report_and_the_view_flag_a_collapsed_render(tmp_path):
    """The committed study with levels added to its stage-2 renders: one 30 dB under its clip,
    the others at its level. Only that render's cell carries the line; a render recorded before
    levels carries none."""
    d = tmp_path / "study"
    shutil.copytree(OLD, d)
    for name in ("metrics.json", "study.json"):
        doc = json.load(open(d / name))
        m = doc if name == "metrics.json" else doc["metrics"]
        for r in m["renders"]:
            if r["stage"] == 2:                         # (recorded before runs were)
                low = (r["clip"], r["temperature"]) == ("hype_song", 0.7)
                r["runs"] = {"longest_s": 0.1, "fragment_share": 0.0, "jumps": 0,
                             "level_db": -45.0 if low else -15.0, "clip_level_db": -15.0}
        with open(d / name, "w") as f:
            json.dump(doc, f)
    rec = load(str(d))
    build(str(d), rec)
    html = open(d / "report.html", encoding="utf-8").read()
    low = next(r for r in rec.renders
               if (r.stage, r.clip, r.temperature) == (2, "hype_song", 0.7))
    assert "collapsed: its level is 30 dB under its clip&#39;s" in _cell(html, low.path)
    assert html.count("collapsed: its level is") == 1
    noisy = [r for r in rec.renders if r.runs and "clip_level_db" in r.runs
             and r.resemblance["shares"]["noise"] >= 0.8 and r is not low]
    assert html.count("class='note collapsed'") == 1 + len(noisy)
    for r in noisy:                              # (this tiny study's renders are mostly noise)
        assert "% of its frames are noise" in _cell(html, r.path)
    view = study_html(rec, str(d))
    assert view.count("collapsed: its level is 30 dB under its clip") == 1


def test_a_study_records_each_render_level(tmp_path):
    """A tiny study's renders record their level and their clip's, and the clip's is its
    μ-law-decoded audio's level."""
    from wavecore import WaveNetConfig, mu_law_decode, mu_law_encode
    from wavecore.study import Study, StudySettings
    from wavecore.study.settings import study_train_settings
    cfg = WaveNetConfig(layers=3, stacks=1, residual_channels=4, dilation_channels=4,
                        skip_channels=8, sample_rate=SR)
    a = clips.get("hype_full", SR)[:SR]
    st = StudySettings(memorise=False, steps_per_stage=4, render_seconds=0.3, render_seeds=1,
                       timeline_every=0, eval_every=0, temperatures=(0.9,),
                       train=study_train_settings(window=400))
    rec = Study(cfg, [("song1", a)], st, out_dir=str(tmp_path / "s"), report=False).run(
        progress=False, log=lambda *a, **k: None)
    (r,) = rec.renders
    heard = mu_law_decode(mu_law_encode(a), cfg.classes)
    assert r.runs["clip_level_db"] == pytest.approx(level_db(heard), abs=0.05)
    assert -120 <= r.runs["level_db"] <= 0
