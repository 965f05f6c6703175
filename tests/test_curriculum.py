"""Curricula by counting (what each stage draws), in-order windows, and elastic weight
consolidation: the penalty's gradient check in float64, the Fisher against its exact value,
lambda = 0 bit-identical to no EWC, exact resume."""
import numpy as np
import pytest

from wavecore import WaveNetConfig
from wavecore.engine.ops.ewc import ewc_backward, ewc_forward
from wavecore.study import Study, StudySettings
from wavecore.training import Trainer, TrainSettings
from wavecore.training.curriculum import EWC, fisher, stage_clips, stage_weights

# conditioned, so a window's clip id says which clip it came from
CFG = WaveNetConfig(layers=3, stacks=1, residual_channels=4, dilation_channels=4, skip_channels=8,
                    classes=16, sample_rate=8000, gc_ids=3, gc_channels=3)
LENGTHS = (900, 1500, 600)


def ramp_clips():
    """Three clips whose samples encode their position, so a window says where it starts."""
    out = []
    for n in LENGTHS:
        out.append(np.linspace(-0.8, 0.8, n).astype(np.float32))
    return out


def draws(trainer, windows):
    ids, starts = [], []
    for _ in range(windows // trainer.settings.batch):
        b = trainer.sample_windows()
        ids += b.gc.tolist()
        starts += [x.tolist() for x in b.x.T]
    return np.array(ids), starts


def trainer_for(curriculum, stage, order="shuffled", replay=0.0, batch=8, window=50):
    st = TrainSettings(batch=batch, window=window, order=order, threads=1)
    n = stage_clips(curriculum, stage, 3)
    t = Trainer(CFG, ramp_clips()[:n], st)
    t.set_clips(t.clips, stage_weights(curriculum, stage, LENGTHS[:n], st.sampling, replay))
    return t


@pytest.mark.parametrize("order", ["shuffled", "in-order"])
def test_a_sequential_stage_never_draws_an_older_clip(order):
    for stage in (2, 3):
        ids, _ = draws(trainer_for("sequential", stage, order), 4000)
        assert set(ids.tolist()) == {stage - 1}


@pytest.mark.parametrize("order", ["shuffled", "in-order"])
def test_replay_lands_on_its_fraction(order):
    ids, _ = draws(trainer_for("replay", 3, order, replay=0.3), 60000)
    older = (ids < 2).mean()
    assert abs(older - 0.3) <= 0.05 * 0.3, older             # within ±5 % of F
    # the older clips share their part by length (sampling="length"): 900 : 1500
    assert (ids == 0).sum() / (ids < 2).sum() == pytest.approx(900 / 2400, abs=0.03)


def test_joint_sees_every_clip_from_step_1_and_cumulative_grows():
    t = trainer_for("joint", 1)
    assert len(t.clips) == 3
    ids, _ = draws(t, 8)                                   # the first step's windows
    ids_more, _ = draws(t, 4000)
    assert set(ids_more.tolist()) == {0, 1, 2} and len(set(ids.tolist())) >= 2
    for k in (0, 1, 2):                                     # by length
        assert (ids_more == k).mean() == pytest.approx(LENGTHS[k] / sum(LENGTHS), abs=0.03)
    assert [stage_clips("cumulative", s, 3) for s in (1, 2, 3)] == [1, 2, 3]
    assert stage_weights("cumulative", 2, LENGTHS[:2]).tolist() == pytest.approx([0.375, 0.625])


def test_in_order_feeds_a_clip_whole_in_consecutive_windows():
    noise = np.random.default_rng(0).uniform(-0.9, 0.9, 1500).astype(np.float32)   # windows unique
    t = Trainer(CFG, [ramp_clips()[0], noise],
                TrainSettings(batch=3, window=200, order="in-order", threads=1))
    t.set_clips(t.clips, [0, 1])
    RF, T = CFG.receptive_field, t.T
    pad = t.padded[1]
    N = RF + T
    expect = list(range(0, len(pad) - N + 1, T))
    if expect[-1] != len(pad) - N:
        expect.append(len(pad) - N)                             # the last window ends at the end
    _, windows = draws(t, 3 * 2 * len(expect))                  # two passes and more
    starts = []
    for w in windows:
        hits = [s for s in range(len(pad) - N + 1) if pad[s:s + N].tolist() == w]
        assert len(hits) == 1
        starts.append(hits[0])
    assert starts[:2 * len(expect)] == expect + expect


def test_ewc_penalty_gradient_check_in_float64():
    rng = np.random.default_rng(0)
    P = 257
    A = rng.random(P) * 3
    theta_star = rng.standard_normal((2, P))
    F = rng.random((2, P))
    b = (F * theta_star).sum(0)
    c = float((F * theta_star ** 2).sum())
    lam = 0.7
    theta = rng.standard_normal(P)
    A = F.sum(0)
    value, cache = ewc_forward(theta, A, b, c, lam)
    direct = 0.5 * lam * sum((F[k] * (theta - theta_star[k]) ** 2).sum() for k in range(2))
    assert value == pytest.approx(direct, rel=1e-12)
    g = ewc_backward(cache)
    v = rng.standard_normal(P)
    eps = 1e-6
    num = (ewc_forward(theta + eps * v, A, b, c, lam)[0]
           - ewc_forward(theta - eps * v, A, b, c, lam)[0]) / (2 * eps)
    assert num == pytest.approx(float(g @ v), rel=1e-7)
    # and through the EWC object, on a float32 gradient buffer
    from wavecore.engine.backends import make
    e = EWC(lam, P, make("numpy"))
    for k in range(2):
        e.consolidate(F[k], theta_star[k])
    grads = np.zeros(P, np.float32)
    assert e.add_to(theta.astype(np.float32), grads) == pytest.approx(direct, rel=1e-5)
    np.testing.assert_allclose(grads, g, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["true", "empirical"])
def test_fisher_matches_its_exact_value(kind):
    """A clip of two samples: two positions, 16 classes. The exact Fisher is a finite sum:
    true: mean over positions of sum_y p(y|x) g_y^2; empirical: mean of g_{x_next}^2."""
    cfg = WaveNetConfig(layers=2, stacks=1, residual_channels=3, dilation_channels=3,
                        skip_channels=4, classes=16, sample_rate=8000)
    t = Trainer(cfg, [np.array([0.3, -0.5], np.float32)],
                TrainSettings(batch=1, window=1, threads=1, backend="numpy"))
    from wavecore.engine.model import Batch
    RF = cfg.receptive_field
    exact = np.zeros(t.net.size)
    for p in range(2):
        x = t.padded[0][p:p + RF + 1].copy()[:, None]
        z = t.net.logits(t.weights, x[:RF])[0, 0].astype(np.float64)
        prob = np.exp(z - z.max())
        prob /= prob.sum()
        labels = range(cfg.classes) if kind == "true" else [int(x[-1, 0])]
        for y in labels:
            x[-1, 0] = y
            g = t.net.loss_and_grads(t.weights, Batch(x, None))[1].astype(np.float64)
            exact += (prob[y] if kind == "true" else 1.0) * g ** 2 / 2
    F = fisher(t, 3000, kind, seed=1)
    assert F.sum() == pytest.approx(exact.sum(), rel=0.1)
    assert np.corrcoef(F, exact)[0, 1] > 0.95


def tiny(**kw):
    train = TrainSettings(batch=2, window=120, lr=3e-3, schedule="constant", warmup=0,
                          checkpoint_every=0, keep=100, threads=1)
    return StudySettings(**{**dict(memorise=False, steps_per_stage=6, later_steps=6,
                                   timeline_every=0, prime=0.01, render_seconds=0.05,
                                   unprimed_seconds=0.05, eval_every=3, eval_positions=64,
                                   ewc_positions=16, train=train), **kw})


def test_ewc_zero_is_bit_identical_to_none_and_a_strength_moves_the_weights(tmp_path):
    cfg = WaveNetConfig(layers=3, stacks=1, residual_channels=4, dilation_channels=4,
                        skip_channels=8, classes=32, sample_rate=8000)
    two = ramp_clips()[:2]
    params = {}
    for name, kw in (("none", {}), ("zero", {"ewc": 0.0}), ("strong", {"ewc": 100.0})):
        st = tiny(**kw)
        s = Study(cfg, two, st, out_dir=tmp_path / name, report=False)
        s.run(progress=False, log=lambda *a: None)
        from wavecore.training.checkpoint import latest, load
        params[name] = load(latest(tmp_path / name / "checkpoints"))[1]["params"]
    np.testing.assert_array_equal(params["zero"], params["none"])
    assert not np.array_equal(params["strong"], params["none"])


def test_in_order_and_ewc_resume_exactly(tmp_path):
    cfg = WaveNetConfig(layers=3, stacks=1, residual_channels=4, dilation_channels=4,
                        skip_channels=8, classes=32, sample_rate=8000)
    st = TrainSettings(steps=14, batch=2, window=100, order="in-order", checkpoint_every=5,
                       threads=1)
    c = ramp_clips()[:2]

    def start(d):
        t = Trainer(cfg, c, st, out_dir=d)
        t.set_clips(t.clips, [0.2, 0.8])
        t.ewc = EWC(5.0, t.net.size, t.net.backend)
        t.ewc.consolidate(np.full(t.net.size, 0.01), t.params * 0)
        return t
    straight = start(tmp_path / "a")
    straight.train(progress=False)
    part = start(tmp_path / "b")
    part.train(7, progress=False)
    resumed = Trainer.resume(tmp_path / "b", c)
    assert resumed.cursor == part.cursor and resumed.ewc.stages == 1
    resumed.train(progress=False)
    np.testing.assert_array_equal(resumed.params, straight.params)
