"""A study told its clips' moments: Audacity label files for two clips (one beside its audio,
one by --moments), recorded with where they came from; every reproduction records its lift per
kind of moment, its tones and whether it loops, in metrics.json and the report; a bad label file
or an unknown clip is a one-line error before anything trains."""
import json

import pytest
from conftest import cli
from test_study import CFG, tiny_settings

from wavecore import save
from wavecore.analysis import clips
from wavecore.study import Study, load
from wavecore.study.report import build


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    d = tmp_path_factory.mktemp("labelled")
    for name in ("chant", "shriek"):
        save(d / f"{name}.wav", clips.get(name, 8000, 0.5), 8000)
    (d / "chant.txt").write_text("0\t0.25\tfirst\n0.25\t0.5\tsecond\n", encoding="utf-8")
    (d / "shriek labels.txt").write_text("0\t0.1\tattack\n0.1\t0.5\ttail\n", encoding="utf-8")
    return d


def test_a_study_records_the_lift_of_every_render_per_kind(labelled, tmp_path):
    out = tmp_path / "st"
    st = Study(CFG, [str(labelled / "chant.wav"), str(labelled / "shriek.wav")],
               tiny_settings(render_seeds=2), out_dir=str(out),
               moments={"shriek": str(labelled / "shriek labels.txt")})
    st.run(progress=False, log=lambda *a: None)
    rec = load(str(out))
    assert rec.moments["chant"]["from"] == f"labels {labelled / 'chant.txt'}"
    assert rec.moments["shriek"]["moments"] == [["attack", 0.0, 0.1], ["tail", 0.1, 0.5]]
    kinds = {"chant": {"first", "second"}, "shriek": {"attack", "tail"}}
    assert len(rec.renders) == 2 * 3 * 3                   # stages 1 and 2: 1 + 2 clips
    for r in rec.renders:
        assert set(r.moments["lift"]) == kinds[r.clip]
        assert all(v is None or v >= 0 for v in r.moments["lift"].values())
        assert 0 <= r.moments["tone_share"] <= 1 and "loop_s" in r.moments
    M = json.load(open(out / "metrics.json", encoding="utf-8"))
    assert M["moments"]["chant"]["moments"][0] == ["first", 0.0, 0.25]
    assert all("lift" in r["moments"] for r in M["renders"])
    page = build(str(out), rec)
    text = open(page, encoding="utf-8").read()
    assert "Its moments, labels" in text and "lift (2 seeds)" in text


def test_bad_labels_are_one_line_before_anything_trains(labelled, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("0\t0.2\tok\n0.3\tx\tverse\n", encoding="utf-8")
    wav = str(labelled / "chant.wav")
    with pytest.raises(ValueError, match=rf"^{bad}:2: start and end must be seconds"):
        Study(CFG, [wav], tiny_settings(), out_dir=str(tmp_path / "a"), moments={"chant": bad})
    with pytest.raises(ValueError, match=r"--moments song=.*: no clip is named 'song'"):
        Study(CFG, [wav], tiny_settings(), out_dir=str(tmp_path / "a"), moments={"song": bad})
    code, out, err = cli("study", wav, "--moments", "chant", "--out", tmp_path / "b", "--plan")
    assert code != 0 and err.strip().splitlines()[-1].endswith(
        "--moments chant: expected CLIP=FILE (a clip and its Audacity label file)")
    code, out, err = cli("study", wav, "--moments", f"{wav}={bad}", "--out", tmp_path / "c",
                         "--plan")
    assert code != 0 and f"{bad}:2: start and end must be seconds" in err
    assert not (tmp_path / "c" / "checkpoints").exists()
