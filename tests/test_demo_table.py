"""bench/demo_table.py, the README's demo table, on a constructed metrics.json: the verdicts
counted per (stage, temperature), the credit to clips not yet trained on over every fragment
frame (shared ones too), and no such credit column once every clip has been heard."""
import importlib.util
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "bench", "demo_table.py")


def demo_table():
    spec = importlib.util.spec_from_file_location("demo_table", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def render(stage, verdict, a, b, shared, t=0.7):
    n = 250
    return {"stage": stage, "clip": "a", "temperature": t, "verdict": verdict,
            "runs": {"fragments": {"a": a, "b": b}, "shared": shared, "shared_share": shared / n,
                     "longest_s": 0.2, "fragment_share": (a + b) / n},
            "resemblance": {"shares": {"a": 0.6, "b": 0.1, "noise": 0.2, "novel": 0.1}}}


M = {"clips": ["a", "b"], "temperatures": [0.7],
     "stages": [{"stage": 1, "clips": ["a"]}, {"stage": 2, "clips": ["a", "b"]}],
     "renders": [render(1, "kept", 80, 10, 10), render(1, "kept", 90, 0, 0),
                 render(1, "texture", 0, 0, 0), render(2, "merged", 20, 60, 20)]}


def test_the_rows_count_verdicts_and_credit_unheard_clips_over_all_fragment_frames():
    rows = demo_table().rows(M, "a")
    one, two = rows
    assert one["verdicts"] == {"kept": 2, "texture": 1} and one["main"] == "kept"
    assert one["interval"] == pytest.approx((0.25, 0.92), abs=0.01)
    assert one["unseen_credit"] == pytest.approx(10 / (80 + 10 + 10 + 90))
    assert one["shared_share"] == pytest.approx(10 / 250 / 3)
    assert two["unseen_credit"] == 0                     # b was heard at stage 2
    table = demo_table().markdown(M, rows)
    assert "| 1 | 0.7 | kept 2, texture 1 of 3 | kept 0.25–0.92 |" in table
    assert table.splitlines()[-1].endswith("| – |")      # every clip heard: no unheard credit
    assert demo_table().lifts(M, "a") is None             # no moments recorded


def test_the_moments_table_gives_each_kinds_mean_lift_with_its_interval():
    def kept(chorus, verse, tone, loop):
        return {"lift": {"chorus": chorus, "verse": verse}, "tone_share": tone, "loop_s": loop}
    rs = [dict(render(1, "kept", 80, 0, 0), moments=kept(2.0, 0.5, 0.1, None)),
          dict(render(1, "kept", 80, 0, 0), moments=kept(1.0, None, 0.0, 0.5)),
          dict(render(1, "kept", 80, 0, 0), moments=kept(1.5, 0.7, 0.2, None))]
    M2 = {**M, "renders": rs, "moments": {"a": {"from": "built in", "moments": [
        ["chorus", 0, 1], ["verse", 1, 2], ["chorus", 2, 3]]}}}
    table = demo_table().lifts(M2, "a")
    # chorus: mean 1.5, sd 0.5, t(0.95, 2) = 2.92: 1.5 +- 0.84; verse: two values, the
    # interval's foot at 0 (a lift is never negative)
    assert table.splitlines()[0] == "| after stage | T | chorus lift | verse lift | tones | loops |"
    assert table.splitlines()[2] == ("| 1 | 0.7 | 1.50 (0.66–2.34, 3) | 0.60 (0.00–1.23, 2) "
                                     "| 10 % | 1 of 3 |")
