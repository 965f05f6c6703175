"""The study end to end on a tiny model, the measures against hand-computed values,
built-in clips, resume, and the report in a real browser where one is installed."""
import dataclasses
import json
import os
import re
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import browser, open_in_browser

from wavecore import WaveNetConfig
from wavecore.analysis import clips
from wavecore.analysis.measures import closeness, continual_measures
from wavecore.analysis.verbatim import MEASURE, SUMMARY, VERDICTS
from wavecore.study import Study, StudySettings, plan
from wavecore.study.report import build
from wavecore.training import TrainSettings
from wavecore.training.checkpoint import CheckpointError

CFG = WaveNetConfig(layers=4, stacks=1, residual_channels=8, dilation_channels=8,
                    skip_channels=16, sample_rate=8000)


def test_measures_by_hand():
    # rows: untrained, after stage 1, 2, 3; columns: clips 1..3
    R = np.array([[0.1, 0.2, 0.0],
                  [0.9, 0.3, 0.1],
                  [0.6, 0.8, 0.2],
                  [0.7, 0.5, 0.9]])
    m = continual_measures(R)
    assert m["average"] == pytest.approx([0.9, 0.7, 0.7])
    # after stage 2: clip 1 fell from 0.9 to 0.6
    assert m["forgetting"][2][0] == pytest.approx(0.3)
    # after stage 3: clip 1 best 0.9 -> 0.7 (0.2); clip 2 best 0.8 -> 0.5 (0.3)
    assert m["forgetting"][3][:2] == pytest.approx([0.2, 0.3])
    assert m["average_forgetting"][3] == pytest.approx(0.25)
    # BWT = mean(R[3,1]-R[1,1], R[3,2]-R[2,2]) = mean(-0.2, -0.3)
    assert m["bwt"] == pytest.approx(-0.25)
    # FWT = mean(R[1,2]-b2, R[2,3]-b3) = mean(0.1, 0.2)
    assert m["fwt"] == pytest.approx(0.15)


def test_closeness():
    sr = 8000
    t = np.arange(sr) / sr
    a = np.sin(2 * np.pi * 300 * t)
    same = closeness(a, a, sr)
    assert same["lsd_db"] == pytest.approx(0, abs=1e-9) and same["follow_s"] == pytest.approx(1.0)
    b = a.copy()
    b[sr // 2:] = np.random.default_rng(0).standard_normal(sr // 2) * 0.5   # diverges at 0.5 s
    c = closeness(b, a, sr)
    assert 0.4 < c["follow_s"] < 0.55 and c["lsd_db"] > 3


def test_builtin_clips_are_deterministic_and_valid():
    for name in clips.names():
        x = clips.get(name, 8000, 0.5)
        assert x.dtype == np.float32 and len(x) == 4000 and 0.5 < np.abs(x).max() <= 0.9 + 1e-6
        np.testing.assert_array_equal(x, clips.get(name, 8000, 0.5))
    with pytest.raises(ValueError, match="unknown built-in clip"):
        clips.get("nope")


def tiny_settings(**kw):
    train = TrainSettings(steps=10 ** 6, batch=2, window=400, lr=3e-3, schedule="constant",
                          warmup=5, checkpoint_every=0, keep=100, log_every=5, threads=2)
    return StudySettings(**{**dict(steps_per_stage=20, check_every=10, timeline_every=10,
                                   timeline_seconds=0.05, unprimed_seconds=0.1,
                                   prime=0.02, render_seconds=0.23, train=train), **kw})


def two_clips():
    return [("chant", clips.get("chant", 8000, 0.25)), ("shriek", clips.get("shriek", 8000, 0.25))]


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("study"))
    M = Study(CFG, two_clips(), tiny_settings(), out_dir=out).run(progress=False,
                                                                  log=lambda *a: None)
    build(out, M.record)
    return out


def test_tiny_study_writes_every_artefact(study_dir):
    M = json.load(open(os.path.join(study_dir, "metrics.json")))
    assert np.array(M["bits"]).shape == (3, 2) and np.array(M["accuracy"]).shape == (3, 2)
    assert len(M["traces"]) == 3 and len(M["traces"][0][1]) == 25          # 0.25 s in 10 ms bins
    assert len(M["renders"]) == 3 * (1 + 2) and len(M["unprimed"]) == 3 * 2
    assert M["timeline"] and M["loss_curve"]
    assert M["measures"]["accuracy"]["bwt"] is not None
    for r in M["renders"] + M["unprimed"]:                 # where every render's sound comes from
        sh = r["resemblance"]["shares"]
        assert list(sh) == ["chant", "shriek", "silence", "noise", "novel"]
        assert sum(sh.values()) == pytest.approx(1.0) and r["resemblance"]["frames"] > 0
    assert M["monitor"][0][:2] == [0, 0] and all(len(p[2]) == 2 for p in M["monitor"])
    assert sorted({p[1] for p in M["monitor"]}) == [0, 1, 2]
    for f in ("merge_stage_1.png", "merge_stage_2.png", "sources_1.png", "moments_2.png",
              "monitor.png"):
        assert os.path.exists(os.path.join(study_dir, "figures", f)), f
    for r in M["renders"] + M["unprimed"] + M["timeline"]:
        assert os.path.exists(os.path.join(study_dir, r["path"]))
    assert sorted(f for f in os.listdir(os.path.join(study_dir, "checkpoints"))
                  if f.endswith(".npz")) == ["ckpt-00000020.npz", "ckpt-00000040.npz"]
    for r in M["renders"]:                                  # runs and a verdict beside every player
        assert r["verdict"] in VERDICTS and 0 <= r["runs"]["fragment_share"] <= 1
        assert set(r["runs"]) == {*SUMMARY, "measure", "unseen_credit", "level_db",
                                  "clip_level_db"}
        assert r["runs"]["measure"] == MEASURE and 0 <= r["runs"]["unseen_credit"] <= 1
    assert all("verdict" not in r and r["runs"]["longest_s"] >= 0 for r in M["unprimed"])
    assert all("clip_level_db" not in r["runs"] and r["runs"]["level_db"] <= 0
               for r in M["unprimed"])                     # an unprimed render has no clip
    html = open(os.path.join(study_dir, "report.html")).read()
    assert html.count("class='verdict'") == len(M["renders"])
    refs = [r for _, r in re.findall(r"""(?:src|href)\s*=\s*(["'])(.*?)\1""", html)]
    assert len(refs) >= 3 * 3 + 2 * 3 + 4                    # players and figures, at least
    for ref in refs:
        if ref.startswith("#"):
            assert f"id='{ref[1:]}'" in html or f'id="{ref[1:]}"' in html, ref
            continue
        assert not ref.startswith(("/", "http", "file:")), ref
        assert os.path.exists(os.path.join(study_dir, ref)), ref


def test_study_resume_skips_finished_stages(tmp_path):
    out = str(tmp_path)
    st = tiny_settings(timeline_every=0)
    Study(CFG, two_clips()[:1], st, out_dir=out).run(progress=False, log=lambda *a: None)
    with pytest.raises(FileExistsError):
        Study(CFG, two_clips()[:1], st, out_dir=out).run(progress=False, log=lambda *a: None)
    other = tiny_settings(timeline_every=0, memorised_accuracy=0.5)
    with pytest.raises(CheckpointError,
                       match=r"\(settings.memorised_accuracy: 0.998 there, 0.5 now\)"):
        Study(CFG, two_clips()[:1], other, out_dir=out).run(resume=True, progress=False,
                                                            log=lambda *a: None)
    # an interrupted two-clip study: keep only stage 1's results, then resume
    full = str(tmp_path / "full")
    Study(CFG, two_clips(), st, out_dir=full).run(progress=False, log=lambda *a: None)
    state = json.load(open(os.path.join(full, "study.json")))
    done = str(tmp_path / "cut")
    shutil.copytree(full, done)
    M = state["metrics"]
    M["stages"] = M["stages"][:1]
    for k in ("bits", "accuracy", "traces"):
        M[k] = M[k][:2]
    M["renders"] = [r for r in M["renders"] if r["stage"] <= 1]
    M["unprimed"] = [r for r in M["unprimed"] if r["stage"] <= 1]
    M["loss_curve"] = [c for c in M["loss_curve"] if c[2] <= 1]
    M.pop("measures")
    json.dump(state, open(os.path.join(done, "study.json"), "w"))
    os.unlink(os.path.join(done, "checkpoints", "ckpt-00000040.npz"))
    logs = []
    M2 = Study(CFG, two_clips(), st, out_dir=done).run(resume=True, progress=False, log=logs.append)
    assert any("resuming after stage 1" in line for line in logs)
    np.testing.assert_array_equal(
        M2.accuracy, json.load(open(os.path.join(full, "study.json")))["metrics"]["accuracy"])


@pytest.mark.skipif(browser() is None, reason="no Chromium installed (apt-get install chromium)")
def test_report_renders_in_a_real_browser(study_dir, tmp_path):
    dom, images, broken = open_in_browser(os.path.join(study_dir, "report.html"), tmp_path)
    assert broken == [] and images >= 4 + 3 * 3 + 2 * 3 + 2      # figures, renders, merge maps
    assert "<audio" in dom and dom.count("<audio") >= 3 * 3 + 2 * 3
    assert "measures-table" in dom and "What the reproductions became" in dom
    assert "Forgetting and transfer" in dom


def test_a_small_wavenet_memorises_a_loop(tmp_path):
    """A 2 x 8-layer WaveNet (R = D = 32, 64 ms) on the 2 s built-in mix: stage 1 until memorised;
    teacher-forced accuracy high, and the primed T=0.6 reproduction follows the original for at
    least 1.0 s of its 1.9 s (within 12 dB log-spectral distance)."""
    cfg = WaveNetConfig(layers=8, stacks=2, residual_channels=32, dilation_channels=32,
                        skip_channels=128, sample_rate=8000)
    st = StudySettings(memorised_accuracy=0.998, timeline_every=0, temperatures=(0.6,),
                       render_seconds=1.9, steps_per_stage=1500)
    M = Study(cfg, [("hype", clips.get("hype", 8000, 2.0))], st, out_dir=str(tmp_path)).run(
        progress=False, log=lambda *a: None)
    assert M.stages[0].ended == "memorised"
    assert M.accuracy[1][0] >= 0.998
    (r,) = M.renders
    print(f"stage 1: {M.stages[0].steps} steps; T=0.6 render follows {r.follow_s:.2f} s, "
          f"LSD {r.lsd_db:.1f} dB")
    assert r.follow_s >= 1.0
    assert r.resemblance["shares"]["hype"] >= 0.9        # and the frames say it is the mix


def test_cli_study_on_files(tmp_path, capsys):
    import soundfile as sf

    from wavecore.cli.main import main
    paths = []
    for name in ("chant", "shriek", "hype"):
        p = tmp_path / f"{name}.wav"
        sf.write(p, clips.get(name, 8000, 0.25), 8000)
        paths.append(str(p))
    out = str(tmp_path / "st")
    assert main(["study", *paths[:2], "--out", out, "--layers", "3", "--stacks", "1",
                 "--residual", "8", "--dilation", "8", "--skip", "16", "--sample-rate", "8000",
                 "--steps-per-stage", "10",
                 "--later-steps", "5", "--window", "300", "--timeline-every", "5",
                 "--temperatures", "0.7", "0.6", "--reference", paths[2]]) == 0
    out_text = capsys.readouterr().out
    assert "report:" in out_text and "never trained on): hype\n" in out_text
    M = json.load(open(os.path.join(out, "metrics.json")))
    assert M["clips"] == ["chant", "shriek"] and M["references"] == ["hype"]
    # the accuracy check comes every 50 steps, so a 10-step cap always ends stage 1
    assert [(s["steps"], s["ended"]) for s in M["stages"]] == [(10, "cap reached"), (5, "fixed")]
    assert M["temperatures"] == [0.7, 0.6]


def test_conditioned_study_runs(tmp_path):
    cfg = dataclasses.replace(CFG, gc_ids=2, gc_channels=4)
    M = Study(cfg, two_clips(), tiny_settings(timeline_every=0), out_dir=str(tmp_path)).run(
        progress=False, log=lambda *a: None)
    assert np.array(M.accuracy).shape == (3, 2) and len(M.renders) == 3 * 3
    with pytest.raises(ValueError, match="conditioning ids"):
        Study(dataclasses.replace(cfg, gc_ids=1), two_clips(), tiny_settings(),
              out_dir=str(tmp_path / "x"))


def test_later_lr_is_the_learning_rate_of_stages_2_on(tmp_path):
    """Stage 1 trains at --lr (after its warm-up), stage 2 at --later-lr; the plan says so."""
    st = tiny_settings(memorise=False, steps_per_stage=10, later_lr=1e-4, timeline_every=0,
                       eval_every=0, render_seconds=0.05)
    assert (st.lr(1), st.lr(2), st.lr(3)) == (3e-3, 1e-4, 1e-4)
    clip = SimpleNamespace(name="chant", classes=np.zeros(2000, np.int64))
    said = plan.Plan(CFG, st, [clip], 1, "cpu", 2, [10], [400], False, 0, 0, 0, 0,
                     step_s=[0.1]).lines()
    assert any("learning rate 0.003, then 0.0001 from stage 2" in line for line in said)
    out = str(tmp_path / "s")
    Study(CFG, two_clips(), st, out_dir=out).run(progress=False, log=lambda *a: None)
    with open(os.path.join(out, "checkpoints", "train.jsonl"), encoding="utf-8") as f:
        lr = {r["step"]: r["lr"] for r in map(json.loads, f) if "lr" in r}
    assert lr[10] == 3e-3 and lr[15] == lr[20] == 1e-4, lr
