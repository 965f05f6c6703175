"""Render seeds: N renders per (stage, clip, temperature) as streams of one sampler call, each
judged and kept in the record; the first is the render a one-seed study makes, bit for bit."""
import dataclasses
import os

import numpy as np
import soundfile as sf
from test_study import CFG, tiny_settings, two_clips

from wavecore.study import Study
from wavecore.study.activities import Renders


def _run(tmp_path, name, seeds):
    st = dataclasses.replace(tiny_settings(), memorise=False, temperatures=(0.9, 0.6),
                             render_seeds=seeds, timeline_every=0)
    out = str(tmp_path / name)
    return Study(CFG, two_clips(), st, out_dir=out).run(progress=False, log=lambda *a: None), out


def test_every_cell_holds_its_seeds_and_the_first_is_the_one_seed_render(tmp_path):
    one, d1 = _run(tmp_path, "one", 1)
    three, d3 = _run(tmp_path, "three", 3)
    cells = {(r.stage, r.clip, r.temperature) for r in one.renders}
    assert len(three.renders) == 3 * len(one.renders)
    assert len(three.unprimed) == 3 * len(one.unprimed)
    for cell in cells:
        got = sorted(r.seed for r in three.renders if (r.stage, r.clip, r.temperature) == cell)
        assert got == [0, 1, 2]
    by = {(r.stage, r.clip, r.temperature, r.seed): r for r in three.renders}
    for r in one.renders:                   # seed 0 of three is the one-seed render, bit for bit
        a = sf.read(os.path.join(d1, r.path))[0]
        b = sf.read(os.path.join(d3, by[r.stage, r.clip, r.temperature, 0].path))[0]
        np.testing.assert_array_equal(a, b)
        assert by[r.stage, r.clip, r.temperature, 0].verdict == r.verdict
    seeded = by[one.renders[0].stage, one.renders[0].clip, one.renders[0].temperature, 2]
    assert seeded.path.endswith("_seed2.wav") and os.path.exists(os.path.join(d3, seeded.path))
    assert all(r.verdict is not None for r in three.renders)
    other = sf.read(os.path.join(d3, seeded.path))[0]
    assert not np.array_equal(other, sf.read(os.path.join(d3, by[seeded.stage, seeded.clip,
                                                                 seeded.temperature, 0].path))[0])


def test_the_plan_prices_every_seed(tmp_path):
    """The renders' cost (what the plan sums) grows with the seeds: N times the streams."""
    st = dataclasses.replace(tiny_settings(), memorise=False, temperatures=(0.9, 0.6))
    cost = [Renders(Study(CFG, two_clips(), dataclasses.replace(st, render_seeds=n),
                          out_dir=str(tmp_path / str(n)))).cost(2, 20) for n in (1, 3)]
    assert cost[1].samples == 3 * cost[0].samples > 0
    assert [j.streams for j in cost[1].jobs] == [3 * j.streams for j in cost[0].jobs]
