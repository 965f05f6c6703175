"""Rates, not samples: the Wilson interval and the verdicts' counts of a cell that holds several
renders (wavecore.study.rates), and the report, the page comparing studies and the Jupyter view
showing every render seed's player of a cell with its counts line."""
import json
import math
import os
import shutil
from types import SimpleNamespace

import pytest

from wavecore.study import compare as _compare
from wavecore.study import load
from wavecore.study.rates import cells, counts_line, unseen, verdict_counts, wilson
from wavecore.study.report import build
from wavecore.study.view import study_html

OLD = os.path.join(os.path.dirname(__file__), "data", "study_9e0c730")
Z = 1.6449


def closed_form(k, n, z=Z):
    """Wilson's interval as it is usually written: (k + z²/2 ± z √(k(n-k)/n + z²/4)) / (n + z²)."""
    mid, half = k + z * z / 2, z * math.sqrt(k * (n - k) / n + z * z / 4)
    return (mid - half) / (n + z * z), (mid + half) / (n + z * z)


@pytest.mark.parametrize("k,n", [(0, 3), (3, 3), (2, 3), (1, 2), (7, 20), (0, 1)])
def test_wilson_is_the_closed_form(k, n):
    lo, hi = wilson(k, n)
    assert (lo, hi) == pytest.approx(closed_form(k, n), abs=1e-12)
    assert 0 <= lo <= k / n <= hi <= 1


def test_wilson_on_known_values():
    assert wilson(0, 3)[0] == 0 and wilson(0, 3)[1] == pytest.approx(Z * Z / (3 + Z * Z))
    assert wilson(3, 3)[1] == 1 and wilson(3, 3)[0] == pytest.approx(3 / (3 + Z * Z))
    assert wilson(0, 3) == pytest.approx((0.0, 0.4742), abs=1e-4)
    assert wilson(3, 3) == pytest.approx((0.5258, 1.0), abs=1e-4)
    assert wilson(2, 3) == pytest.approx((0.2535, 0.9217), abs=1e-4)
    lo, hi = wilson(2, 3, z=1.96)                          # a 95 % interval is wider
    assert lo < wilson(2, 3)[0] and hi > wilson(2, 3)[1]
    for k, n in [(-1, 3), (4, 3), (0, 0)]:
        with pytest.raises(ValueError, match="not a proportion"):
            wilson(k, n)


@pytest.mark.parametrize("k,n", [(0, 3), (3, 3), (2, 3), (5, 12)])
def test_wilson_agrees_with_scipy(k, n):
    stats = pytest.importorskip("scipy.stats")
    if not hasattr(stats, "binomtest"):
        pytest.skip("this scipy has no binomtest")
    ci = stats.binomtest(k, n).proportion_ci(0.90, method="wilson")
    # scipy's z is the exact 95th percentile (1.64485...); ours is rounded to 1.6449
    assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-4)


def _r(verdict, seed=0, **kw):
    return SimpleNamespace(verdict=verdict, seed=seed, **kw)


def test_verdict_counts_most_frequent_first_ties_in_the_verdicts_order():
    rs = [_r(v) for v in ["noise", "copy", "texture", "noise", "copy", "kept", None, "merged"]]
    assert verdict_counts(rs) == [("copy", 2), ("noise", 2), ("kept", 1), ("merged", 1),
                                  ("texture", 1)]
    assert verdict_counts([_r("texture"), _r("kept"), _r("texture")]) == [("texture", 2),
                                                                          ("kept", 1)]
    assert verdict_counts([_r("zzz"), _r("aaa"), _r("noise")]) == [("noise", 1), ("aaa", 1),
                                                                   ("zzz", 1)]
    assert verdict_counts([_r(None)]) == [] and verdict_counts([]) == []


def test_the_counts_line_and_the_cells():
    three = [_r("kept", 0), _r("texture", 1), _r("kept", 2)]
    assert counts_line(three) == ("kept 2, texture 1 of 3 · kept 2 of 3: 0.67, "
                                  "90 % interval 0.25–0.92")
    assert counts_line(three[:1]) is None                 # one render: a sample, not a rate
    assert counts_line([_r(None), _r(None, 1)]) is None   # measured before verdicts were
    rs = [_r("kept", 1, k="a"), _r("copy", 0, k="b"), _r("noise", 0, k="a")]
    assert unseen(rs) is None                             # judged before the credit was kept
    by = cells(rs, key=lambda r: r.k)
    assert list(by) == ["a", "b"] and [r.seed for r in by["a"]] == [0, 1]


def _judged(verdict, own, other, shared):
    """A render after stage 1 of clips a, b: own frames in a's fragments, other in b's."""
    total = own + other + shared
    return _r(verdict, runs={"fragments": {"a": own, "b": other}, "shared": shared,
                             "unseen_credit": other / total if total else 0.0})


def test_a_cells_credit_to_unheard_clips_is_over_its_fragment_frames():
    """Frames, not renders, are averaged: 10 of 100 and 0 of 300 frames are 10 of 400."""
    cell = [_judged("kept", 80, 10, 10), _judged("kept", 250, 0, 50), _judged("noise", 0, 0, 0)]
    assert unseen(cell) == pytest.approx(10 / 400)
    assert counts_line(cell) == ("kept 2, noise 1 of 3 · kept 2 of 3: 0.67, 90 % interval "
                                 "0.25–0.92 · credit to unheard clips 2 %")
    assert unseen([_judged("noise", 0, 0, 0)]) == 0.0


VERDICT_OF_SEED = ["kept", "texture", "kept"]
RUNS = {"longest_s": 0.12, "fragment_share": 0.5, "fragments": {}, "jumps": 3}


def _seeded(r, seed):
    """Render r as the render of seed ``seed`` in its cell, its file named as a study names it."""
    s = dict(r, seed=seed, verdict=VERDICT_OF_SEED[seed], runs=RUNS)
    s.pop("spectrogram", None)                  # the record derives it from the path
    if seed:
        s["path"] = r["path"].replace(".wav", f"_seed{seed}.wav")
    return s


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """The committed study with every render held twice (seeds 0 and 1, other verdicts) and one
    cell (stage 2, hype_song, T = 0.7) three times; its report rebuilt."""
    d = tmp_path_factory.mktemp("seeds") / "study"
    shutil.copytree(OLD, d)
    for name in ("metrics.json", "study.json"):
        doc = json.load(open(d / name))
        m = doc if name == "metrics.json" else doc["metrics"]
        renders = []
        for r in m["renders"]:
            three = (r["stage"], r["clip"], r["temperature"]) == (2, "hype_song", 0.7)
            renders += [_seeded(r, s) for s in range(3 if three else 2)]
        m["renders"] = renders
        with open(d / name, "w") as f:
            json.dump(doc, f)
    for r in renders:
        if r["seed"]:
            shutil.copy(d / r["path"].replace(f"_seed{r['seed']}", ""), d / r["path"])
    rec = load(str(d))
    build(str(d), rec)
    return d, rec


def _cell(html, path):
    """The table cell of the page that plays ``path``."""
    (cell,) = [c for c in html.split("<td")[1:] if f'src="{path}"' in c]
    return cell.split("</td>")[0]


def test_the_report_shows_every_seed_of_a_cell_and_its_counts(seeded):
    d, rec = seeded
    html = open(d / "report.html", encoding="utf-8").read()
    assert html.count("<audio") == (len(rec.renders) + len(rec.unprimed) + len(rec.clips)
                                    + len(rec.timeline))
    assert "A cell holds up to 3 renders, one per render seed" in html
    r = next(r for r in rec.renders if r.stage == 1 and r.seed == 0)
    cell = _cell(html, r.path)
    assert cell.count("<audio") == 2 and r.path.replace(".wav", "_seed1.wav") in cell
    assert cell.count("<b class='verdict'>") == 2 and "seed 1</div>" in cell
    lo, hi = wilson(1, 2)
    assert (f"kept 1, texture 1 of 2 · kept 1 of 2: 0.50, 90 % interval {lo:.2f}–{hi:.2f}"
            in cell)
    r = next(r for r in rec.renders if (r.stage, r.clip, r.temperature) == (2, "hype_song", 0.7))
    cell = _cell(html, r.path)
    assert cell.count("<audio") == 3
    assert "kept 2, texture 1 of 3 · kept 2 of 3: 0.67, 90 % interval 0.25–0.92" in cell
    for r in rec.renders:
        assert os.path.exists(d / r.spectrogram), r.spectrogram


def test_the_compare_page_and_the_view_show_every_seed(seeded, tmp_path):
    d, rec = seeded
    out = _compare.build([str(d)], str(tmp_path / "c.html"))
    html = open(out, encoding="utf-8").read()
    r = next(r for r in rec.renders if (r.stage, r.clip, r.temperature) == (2, "hype_song", 0.7))
    cell = _cell(html, os.path.relpath(d / r.path, tmp_path))
    assert cell.count("<audio") == 3 and "kept 2 of 3: 0.67, 90 % interval 0.25–0.92" in cell
    view = study_html(rec, str(d))
    latest = [r for r in rec.renders + rec.unprimed if r.stage == len(rec.stages)]
    assert view.count("<audio") == len(latest)
    assert "hype_song, T = 0.7, seed 2" in view
    assert view.count("90 % interval") == len({(r.clip, r.temperature) for r in latest
                                              if r.verdict})
