"""Presets, the plan and --hours, the essay preset end to end, the report after every stage and
``wavecore report``, subset checks, the optimizer reset."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import cli, spawned

from wavecore import Adam, WaveNetConfig
from wavecore.analysis import clips
from wavecore.engine import layout
from wavecore.study import StudySettings, demo_setup, plan, presets
from wavecore.training import Trainer, TrainSettings
from wavecore.training.checkpoint import latest, load

MODEL = ["--layers", "3", "--stacks", "1", "--residual", "8", "--dilation", "8", "--skip", "16",
         "--sample-rate", "8000"]


def songs(d, names=("hype", "breakbeat"), rate=16000, seconds=3.0):
    paths = []
    for i, name in enumerate(names):
        p = os.path.join(d, f"{i + 1}_{name}.wav")
        sf.write(p, clips.get(name, rate, seconds), rate)
        paths.append(p)
    return paths


def test_presets_are_the_essays_recipe_and_the_demo():
    cfg, st = presets.get("essay")
    assert cfg.n_layers == 70 and cfg.receptive_field == 40962 and cfg.skip_channels == 1024
    assert (cfg.dilations[:14] == (1, 1) + tuple(2 ** i for i in range(1, 13))
            and cfg.dilations == cfg.dilations[:14] * 5)
    assert ((st.train.batch, st.train.window, st.train.lr, st.train.adam_eps)
            == (2, 96000, 1e-3, 1e-4))
    assert st.train.schedule == "constant" and st.reset_optimizer and st.trim_db == -20.0
    assert (st.steps_per_stage, st.later_steps, st.memorise) == (100_000, 20_000, False)
    assert ((st.prime, st.prime_from, st.render_seconds, st.temperatures)
            == ("rf", "first", 6.0, (0.9, 0.7, 0.6)))
    assert layout.size(cfg) == 4_057_920                              # "about 4.06 M"
    demo_cfg, demo_st = presets.get("demo")
    cfg2, songs2, st2 = demo_setup()
    assert (demo_cfg, demo_st) == (cfg2, st2)
    # the demo: the regime map's kept cell, on the full-length songs, with input noise
    assert layout.size(demo_cfg) == 67_392 and demo_cfg.receptive_field == 512
    assert [n for n, _ in songs2] == list(clips.FULL_SONGS) and len(songs2[0][1]) == 139_636
    assert ((demo_st.memorise, demo_st.steps(1), demo_st.steps(3), demo_st.trajectory)
            == (False, 1200, 1200, 3))
    assert demo_st.train.input_noise == 0.1 and demo_st.prime == "rf"
    cfg3, st3 = presets.get("sketch")        # the map's M-17.5s-noise0.1-8000steps for ~30 s songs
    assert (layout.size(cfg3) == 215_936
            and 240_000 * 8 / layout.size(cfg3) == pytest.approx(8.9, abs=0.05))
    assert ((st3.steps(1), st3.steps(3), st3.train.input_noise, st3.trajectory,
             st3.render_seeds) == (8000, 8000, 0.1, 4, 3))    # a verdict is a count over seeds
    with pytest.raises(ValueError,
                       match="unknown preset 'nope'; the presets are demo, sketch, essay"):
        presets.get("nope")


def test_study_plan_of_the_essay_preset(tmp_path):
    """--plan says the model, schedule, samples, memory, measured speed and time, and exits (it
    times a few steps of the essay's model: 35 s on a quiet 2-core Xeon, over 2 min on a busy
    AVX2-only EPYC; the bound only proves that it ends)."""
    code, out, err = cli("study", *songs(tmp_path), "--preset", "essay", "--plan", "--out",
                         tmp_path / "s", timeout=900)
    assert code == 0, err
    assert "70 layers, dilations 5x[1, 1, 2, ..., 4096]" in out
    assert "4,057,920 parameters; receptive field 40,962 samples = 2.56 s" in out
    assert "stage 1: 100,000 steps on 1_hype; stage 2: 20,000 steps on 1_hype, 2_breakbeat" in out
    # the window is clamped to the shortest clip: 3 s of hype less 30 ms trimmed at -20 dB
    assert "2 x 47,520 loss samples per step" in out
    assert f"trained   {120_000 * 2 * 47_520:,} samples" in out
    assert "recomputing gate activations" in out or "keeping every activation" in out
    assert "trained samples/s" in out and "about" in out
    assert not os.path.exists(tmp_path / "s" / "study.json")        # nothing ran


def _fake_plan(steps=(100, 20, 20), step_s=(0.5, 0.5, 0.5)):
    """A plan whose rates are given, not measured: forward FLOP/s, the sampler's seconds per
    (forced, generated) step, the report's seconds per figure and spectrogram."""
    cfg = WaveNetConfig(layers=3, stacks=1, sample_rate=8000)
    st = StudySettings(memorise=False, steps_per_stage=steps[0], later_steps=steps[1], eval_every=0,
                       timeline_every=1, timeline_seconds=0.05, temperatures=(0.7,),
                       render_seconds=0.5, unprimed_seconds=0.5)
    cl = [Trainer(cfg, [np.sin(np.arange(4000.0))]).clips[0]] * len(steps)
    p = plan.Plan(cfg, st, cl, 1, "cpu", 2, list(steps), [2000] * len(steps), False, 1, 1, 1,
                  1 << 34, 2000, list(step_s), measure_s=3.0,
                  rates={"eval_flops_per_s": 1e9, "sampler": {1: (1e-4, 1e-3)},
                         "report": (0.5, 0.25)})
    return plan.rescaled(p, st)                 # the estimate, from those rates


def test_hours_scales_the_schedule_keeping_its_ratio():
    p = _fake_plan()
    # a timeline render after every step: 0.05 s generated after the prime (the silence before
    # it costs no step)
    assert p.seconds["timeline"] == pytest.approx(140 * (800 * 1e-4 + 400 * 1e-3))
    fixed = plan.rescaled(p, p.settings, steps=[0, 0, 0]).total_s    # scoring, renders, report
    assert fixed > 0 and p.seconds["training"] == 70
    fitted, f = plan.fit_hours(p, 0.1)
    q = plan.rescaled(p, fitted)
    assert fitted.later_steps / fitted.steps_per_stage == pytest.approx(0.2, rel=0.01)
    assert q.total_s + p.measure_s == pytest.approx(360, rel=0.01)    # the budget, to rounding
    assert f == pytest.approx(fitted.steps_per_stage / 100, rel=0.01) and not fitted.memorise
    with pytest.raises(plan.PlanError, match="scoring and renders alone take about"):
        plan.fit_hours(p, 0.9 * fixed / 3600)


def test_plan_refuses_a_step_that_does_not_fit(monkeypatch):
    from wavecore.engine import workspace
    monkeypatch.setattr(plan, "available_memory", lambda: 1 << 20)
    cfg, cl, st = demo_setup(quick=True)
    with pytest.raises(plan.PlanError,
                       match=r"the training step needs \d+ MiB .* this machine has 1 MiB"):
        plan.make(cfg, Trainer(cfg, [c for _, c in cl]).clips, st)
    assert workspace.available_memory() > 1 << 20


def test_essay_preset_end_to_end_with_the_schedule_cut(tmp_path):
    """The preset is wired: the 70-layer model, Adam restarted per stage (the step goes on),
    trimming, renders primed by clip 1's first receptive field, file names."""
    paths = songs(tmp_path, seconds=3.0)
    out = tmp_path / "essay"
    code, text, err = cli("study", *paths, "--preset", "essay", "--steps-per-stage", "2",
                          "--later-steps", "1", "--window", "1000", "--render-seconds", "0.05",
                          "--timeline-every", "0", "--temperatures", "0.7", "--out", out,
                          timeout=900)
    assert code == 0, err
    assert text.startswith("plan: 2 stages of 2/1 steps of 2 x 1,000 samples")
    state = json.load(open(out / "study.json"))
    assert state["identity"]["config"]["dilations_override"] == list(presets.essay()[0].dilations)
    M = state["metrics"]
    assert [s["steps"] for s in M["stages"]] == [2, 1]
    meta, _ = load(latest(str(out / "checkpoints")))
    assert meta["step"] == 3 and meta["adam_step"] == 1               # reset at stage 2
    assert all(r["primed_by"] == "1_hype" and r["clip"] == "1_hype" for r in M["renders"])
    assert [r["path"] for r in M["renders"]] == [
        os.path.join("stage_1", "1_hype_stage1_T0.7_step2.wav"),
        os.path.join("stage_2", "1_hype_stage2_T0.7_step3.wav")]
    info = sf.info(str(out / M["renders"][0]["path"]))
    assert info.frames == 40962 + 800                                 # the prime + 0.05 s


def test_killed_study_has_a_report_and_wavecore_report_rebuilds_it(tmp_path):
    paths = [os.path.join(tmp_path, f"{n}.wav") for n in ("chant", "shriek")]
    for p, n in zip(paths, ("chant", "shriek")):
        sf.write(p, clips.get(n, 8000, 0.25), 8000)
    out = tmp_path / "st"
    args = [*paths, *MODEL, "--fixed", "--steps-per-stage", "10", "--later-steps", "100000",
            "--window", "300", "--temperatures", "0.7", "--timeline-every", "0"]
    with spawned([sys.executable, "-m", "wavecore.cli", "study", *args, "--out", str(out)],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as p:
        t0 = time.time()
        while not os.path.exists(out / "report.html"):
            assert time.time() - t0 < 120 and p.poll() is None
            time.sleep(0.05)
        os.killpg(p.pid, signal.SIGKILL)                               # no chance to tidy up
        p.wait()
    page = open(out / "report.html", encoding="utf-8").read()
    assert "In progress: 1 of 2 stages done." in page and "chant_stage1_T0.7_step10.wav" in page
    os.remove(out / "report.html")
    code, text, err = cli("report", out)
    assert code == 0, err
    assert "(1 of 2 stages)" in text and os.path.exists(out / "report.html")
    code, _, err = cli("report", tmp_path)
    assert code == 1 and "neither metrics.json nor study.json" in err


def test_subset_check_scores_exactly_those_positions():
    cfg = WaveNetConfig(layers=4, stacks=1, residual_channels=8, dilation_channels=8,
                        skip_channels=16, sample_rate=8000)
    tr = Trainer(cfg, [clips.get("chant", 8000, 2.0)], TrainSettings(threads=2))
    full = tr.evaluate(tr.clips[0])
    part = tr.evaluate(tr.clips[0], positions=9000)        # 3 blocks of 4096, spread evenly
    starts = [0, 5952, 11904]
    assert part.starts == starts and part.block == 4096
    want = np.concatenate([full.nll[s:s + 4096] for s in starts])
    np.testing.assert_allclose(part.nll, want, rtol=1e-4, atol=1e-5)
    assert part.bits == pytest.approx(want.mean(), rel=1e-4)


def test_adam_reset_restarts_moments_and_bias_correction():
    a = Adam(4, lr=0.1)
    p = np.ones(4, np.float32)
    for _ in range(3):
        a.step(p, np.full(4, 0.5, np.float32))
    a.reset()
    assert a.step_count == 0 and not a.m.any() and not a.v.any()
    q, fresh = p.copy(), Adam(4, lr=0.1)
    a.step(p, np.full(4, 0.5, np.float32))
    fresh.step(q, np.full(4, 0.5, np.float32))
    np.testing.assert_array_equal(p, q)


def test_eta_is_shown_from_the_steps_left():
    cfg = WaveNetConfig(layers=2, stacks=1, residual_channels=4, dilation_channels=4,
                        skip_channels=8)
    tr = Trainer(cfg, [np.sin(np.arange(3000.0) / 7)],
                 TrainSettings(batch=1, window=100, log_every=2))
    seen = []
    tr.train(6, progress=False, eta=lambda left, rec: seen.append(left) or "1 s")
    assert seen == [4, 2, 0]


def test_data_to_capacity_and_its_warnings():
    """Stage 1's clip samples x 8 bits / parameters, its passes, and the one-line warnings at the
    regime map's bounds: memorise below 1, noise up to 10 unless the inputs are corrupted."""
    from types import SimpleNamespace
    cfg = WaveNetConfig(layers=8, stacks=2, residual_channels=16, dilation_channels=16,
                        skip_channels=64)
    P = layout.size(cfg)                                               # 67 392

    def made(seconds, **train):
        clip = SimpleNamespace(name="song", classes=np.zeros(int(seconds * 8000), np.int64))
        st = StudySettings(train=TrainSettings(**{"batch": 4, "window": 2000, **train}))
        return plan.Plan(cfg, st, [clip], 1, "cpu", 2, [1200], [2000], False, 0, 0, 0, 0)
    p = made(17.5)
    assert (p.ratio == pytest.approx(140_000 * 8 / P)
            and p.passes == pytest.approx(1200 * 8000 / 140_000))
    assert p.warning() is None
    assert "memorise song" in made(0.5).warning()
    assert "rendered noise" in made(4.4).warning()
    assert made(4.4, input_noise=0.1).warning() is None
    assert plan.data_to_capacity(cfg, P) == 8.0
