"""The study's parts: triggers counted as they fire, the plan pricing exactly the activities'
costs, a curriculum registered here alone running through a study and its report, and the
typed record reading back a study written before the record had a schema."""
import json
import os
import shutil

import numpy as np
import pytest
from conftest import cli
from test_study import CFG, tiny_settings, two_clips

from wavecore.analysis.verbatim import VERDICTS
from wavecore.cli.main import build_parser
from wavecore.study import Record, Study, load
from wavecore.study.activities import Every, activities, priced
from wavecore.study.plan import _Costing, rescaled
from wavecore.study.record import SCHEMA
from wavecore.study.report import build
from wavecore.training import curriculum

OLD = os.path.join(os.path.dirname(__file__), "data", "study_9e0c730")


@pytest.mark.parametrize("k,doubling", [(1, False), (7, False), (50, True), (64, True), (3, True)])
def test_a_trigger_counts_what_it_fires(k, doubling):
    t = Every(k, doubling)
    for steps in (0, 1, 5, 63, 64, 65, 200):
        assert t.count(steps) == sum(t.fires(n) for n in range(1, steps + 1)), steps
    assert Every(50, True).count(120) == 2 + 6            # 50, 100; and 1, 2, 4, 8, 16, 32


def test_the_plan_is_the_sum_of_the_activities_costs():
    """Each activity's cost, priced at given rates, is the plan's line for it (nothing restated)."""
    from test_plan import _fake_plan
    p = _fake_plan()
    st = p.settings
    for a in activities(_Costing(p.config, st, p.clips)):
        want = sum(priced(a.cost(s, p.steps[s - 1] if s else 0), p.rates["eval_flops_per_s"],
                          p.rates["sampler"], 1) for s in range(len(p.clips) + 1))
        assert p.seconds[a.name] == pytest.approx(want), a.name
    assert list(p.seconds) == ["training", "checks", "timeline", "trajectory", "monitor", "scoring",
                               "renders", "report"]
    more = rescaled(p, st, steps=[2 * n for n in p.steps])
    assert more.seconds["timeline"] == pytest.approx(2 * p.seconds["timeline"])   # one per step
    assert more.seconds["renders"] == pytest.approx(p.seconds["renders"])          # one per stage


def _toy_weights(stage, base, replay):
    """Every held clip alike (whatever their lengths)."""
    return np.ones_like(base) / len(base)


def test_a_curriculum_registered_here_runs_a_study_and_its_report(tmp_path):
    toy = curriculum.register(curriculum.Curriculum(
        "toy-even", "stage k trained on clips 1..k, each alike", lambda s, K: s, _toy_weights))
    try:
        sub = build_parser()._subparsers._group_actions[0].choices["study"]
        assert "toy-even" in sub.format_help()
        st = tiny_settings(timeline_every=0, curriculum=toy.name)
        rec = Study(CFG, two_clips(), st, out_dir=tmp_path).run(progress=False, log=lambda *a: None)
        assert rec.curriculum.name == "toy-even" and len(rec.stages) == 2
        page = build(str(tmp_path), rec.record)
        html = open(page, encoding="utf-8").read()
        assert "<b>toy-even</b> (stage k trained on clips 1..k, each alike)" in html
    finally:
        del curriculum.CURRICULA["toy-even"]
    # without the registration (another process): the report still builds, naming it
    assert "<b>toy-even</b>;" in open(build(str(tmp_path), load(str(tmp_path))),
                                      encoding="utf-8").read()


def test_a_study_written_before_the_schema_is_read_and_its_report_rebuilt(tmp_path):
    """tests/data/study_9e0c730: a tiny study (replay, in-order windows, EWC, within-stage
    curves) as wavecore wrote it before the record was typed; `wavecore report` rebuilds it."""
    d = tmp_path / "old"
    shutil.copytree(OLD, d)
    before = json.load(open(d / "metrics.json"))
    assert "schema" not in before
    rec = load(str(d))
    assert isinstance(rec, Record) and rec.curriculum.ewc.strength == 1.0 and len(rec.stages) == 2
    code, out, err = cli("report", d, timeout=300)
    assert code == 0, err
    assert "(2 of 2 stages)" in out
    after = json.load(open(d / "metrics.json"))
    assert after.pop("schema") == SCHEMA and after.pop("held_out") is None   # no tail was held out
    assert after.pop("trajectory") == []                                # nor renders inside stages
    assert after.pop("moments") == {}                                   # nor moments
    assert after.pop("references") == after.pop("reference_files") == []   # nor references
    for r in after["renders"] + after["unprimed"]:             # measured since, so unknown here
        assert r.pop("runs") is None and r.pop("verdict", None) is None
        assert r.pop("moments", None) is None
        assert r.pop("seed") == 0                              # one render per cell then
    assert after == before                                     # the same numbers, now with a schema
    html = open(d / "report.html", encoding="utf-8").read()
    assert html.count("<audio") == (len(before["renders"]) + len(before["unprimed"]) + 2
                                    + len(before["timeline"]))
    for r in before["renders"] + before["unprimed"]:
        assert os.path.exists(d / r["spectrogram"]), r["spectrogram"]


def test_a_record_from_a_newer_wavecore_is_refused(tmp_path):
    d = tmp_path / "new"
    shutil.copytree(OLD, d)
    M = json.load(open(d / "metrics.json"))
    json.dump({**M, "schema": 99}, open(d / "metrics.json", "w"))
    with pytest.raises(ValueError, match=r"metrics.json: written by a newer wavecore \(schema 99"):
        load(str(d))


def test_a_held_out_tail_is_never_trained_on_and_scored_beside_the_trained_part(tmp_path):
    st = tiny_settings(timeline_every=0, holdout=0.25, score_positions=None)
    s = Study(CFG, two_clips(), st, out_dir=tmp_path)
    n = [len(c.classes) for c in s.clips]
    cut = [st.trained(k) for k in n]
    assert (cut == [k - round(0.25 * k) for k in n]
            and all(len(h.classes) == c for h, c in zip(s.heads, cut)))
    windows = []
    real = s._stage_set

    def spied(stage):                     # what the trainer is given to draw windows from
        held, w = real(stage)
        windows.append([len(c.classes) for c in held])
        return held, w
    s._stage_set = spied
    said = []
    rec = s.run(progress=False, log=said.append)
    assert windows and all(lengths == cut[:len(lengths)] for lengths in windows)
    assert "held out" not in said[0]                     # the plan's one line; its lines say it:
    assert "the last 25 % of each held out of training" in "\n".join(s.plan.lines())
    h = rec.held_out
    assert h["fraction"] == 0.25 and h["samples"] == cut
    for part in ("trained", "tail"):
        assert (np.array(h[part]["bits"]).shape == (3, 2)
                and np.array(h[part]["accuracy"]).shape == (3, 2))
    # every position scored: the whole clip's bits are the trained part's and the tail's, weighted
    for stage in range(3):
        for j in range(2):
            whole = (cut[j] * h["trained"]["bits"][stage][j]
                     + (n[j] - cut[j]) * h["tail"]["bits"][stage][j]) / n[j]
            assert whole == pytest.approx(rec.bits[stage][j], rel=1e-9)
    html = open(tmp_path / "report.html", encoding="utf-8").read()
    assert "held-out-table" in html and "The last 25 % of every clip was never trained on" in html
    assert load(str(tmp_path)).held_out == h                  # through metrics.json


def test_renders_inside_a_stage_trace_the_way_to_a_copy_with_their_verdicts(tmp_path):
    st = tiny_settings(timeline_every=0, trajectory=3, memorise=False, steps_per_stage=16,
                       later_steps=8, temperatures=(0.9, 0.7))
    s = Study(CFG, two_clips(), st, out_dir=tmp_path)
    rec = s.run(progress=False, log=lambda *a: None)
    want = [(1, 2), (1, 4), (1, 8), (2, 17), (2, 18), (2, 20)]    # 16/8, 16/4, 16/2; 8/8, 8/4, 8/2
    assert [(p.stage, p.step) for p in rec.trajectory] == [w for w in want for _ in (0.9, 0.7)]
    assert [p.fraction for p in rec.trajectory[::2]] == [0.125, 0.25, 0.5, 0.125, 0.25, 0.5]
    assert all(p.verdict in VERDICTS and p.clip == ("chant" if p.stage == 1 else "shriek")
               for p in rec.trajectory)
    assert all(os.path.exists(tmp_path / p.path) for p in rec.trajectory)
    one = [p for p in s.activities if p.name == "trajectory"][0]
    # what the plan prices
    assert one.cost(1, 16).samples == 3 * 2 * round(st.render_seconds * 8000)
    assert all(st.time["trajectory"] > 0 for st in rec.stages)
    html = open(tmp_path / "report.html", encoding="utf-8").read()
    assert "trajectory-table" in html and html.count("class='verdict'") >= len(rec.trajectory)
    assert load(str(tmp_path)).trajectory == rec.trajectory


def test_the_trajectory_of_every_seen_clip_renders_song_1_inside_stage_2(tmp_path):
    """--trajectory-clips seen --trajectory-seeds 2: stage 2's points hold the old clip beside
    the newest, two seeds each; the newest clip's seed-0 points are those of the run that renders
    it alone from one seed (the same seeds, the same training); the plan prices 2 x 2 times the
    renders in stage 2; the report has a row per clip, each cell two players and their counts."""
    kw = dict(timeline_every=0, trajectory=1, memorise=False, steps_per_stage=8, later_steps=8,
              temperatures=(0.9, 0.7))
    alone = Study(CFG, two_clips(), tiny_settings(**kw), out_dir=tmp_path / "a").run(
        progress=False, log=lambda *a: None)
    st = tiny_settings(**kw, trajectory_clips="seen", trajectory_seeds=2)
    s = Study(CFG, two_clips(), st, out_dir=tmp_path / "b")
    rec = s.run(progress=False, log=lambda *a: None)
    assert [(p.stage, p.step, p.clip, p.temperature, p.seed) for p in rec.trajectory] == [
        (stage, step, clip, t, seed) for stage, step, clip in
        ((1, 4, "chant"), (2, 12, "chant"), (2, 12, "shriek"))
        for seed in (0, 1) for t in (0.9, 0.7)]
    newest = [p for p in rec.trajectory if p.seed == 0
              and p.clip == ("chant" if p.stage == 1 else "shriek")]
    assert [(p.verdict, p.shares) for p in newest] == [(p.verdict, p.shares)
                                                        for p in alone.trajectory]
    assert len({p.path for p in rec.trajectory}) == len(rec.trajectory)
    old = [p for p in rec.trajectory if p.stage == 2 and p.clip == "chant"]
    assert all(p.verdict in VERDICTS and p.moments and "lift" in p.moments for p in old)
    one = [a for a in s.activities if a.name == "trajectory"][0]
    n = round(st.render_seconds * 8000)              # 1 point x 2 temperatures x 2 seeds
    assert one.cost(2, 8).samples == 2 * one.cost(1, 8).samples == 2 * 2 * 2 * n
    html = open(tmp_path / "b" / "report.html", encoding="utf-8").read()
    assert html.count("<tr><td>2</td><td>12 (50 %)</td>") == 2
    table = html.split("id='trajectory-table'")[1].split("</table>")[0]
    assert table.count("<audio") == len(rec.trajectory) and " of 2 · " in table
    assert load(str(tmp_path / "b")).trajectory == rec.trajectory
