"""wavecore.study.rejudge: a study's renders judged again from their files. By the measure
that judged them it gives back every number exactly (the 16-bit files hold the μ-law samples
whole); by another measure it rewrites the verdicts and says which changed; a render file that
is gone is an error naming it, and the record is left as it was."""
import json
import os
import shutil

import numpy as np
import pytest
from conftest import cli
from test_study import CFG, tiny_settings

from wavecore.analysis import clips
from wavecore.study import Study, activities
from wavecore.study.loop import ALONE
from wavecore.study.record import read_state
from wavecore.study.rejudge import heard, rejudge, said


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    """Two stages on two 0.5 s built-in clips, 2 render seeds, a trajectory point per stage."""
    out = str(tmp_path_factory.mktemp("rejudge"))
    two = [(n, clips.get(n, 8000, 0.5)) for n in ("hype_song", "truss_song")]
    Study(CFG, two, tiny_settings(render_seeds=2, trajectory=1, timeline_every=0),
          out_dir=out, report=False).run(progress=False, log=lambda *a: None)
    return out


def judged_items(d):
    _, rec = read_state(d)
    return ([(r.path, r.verdict, r.runs, r.resemblance, r.moments) for r in rec.renders],
            [(p.path, p.verdict, p.runs, p.shares, p.moments) for p in rec.trajectory],
            [(u.path, u.runs, u.resemblance) for u in rec.unprimed])


def test_the_same_measure_gives_back_every_number(study_dir, tmp_path):
    d = str(tmp_path / "s")
    shutil.copytree(study_dir, d)
    before = judged_items(d)
    went = rejudge(d)
    assert sum(went.values()) == len(before[0]) + len(before[1]) > 0
    assert all(a == b for a, b in went)                       # no verdict changed
    assert json.loads(json.dumps(judged_items(d))) == json.loads(json.dumps(before))
    assert said(went).endswith("no verdict changed")


def test_the_files_hold_the_judged_samples_whole(study_dir):
    """Encoding a render's file again gives back its μ-law samples: decoding twice is the same."""
    _, rec = read_state(study_dir)
    x = heard(os.path.join(study_dir, rec.renders[0].path), 8000, 256)
    from wavecore.engine.audio import mu_law_decode, mu_law_encode
    np.testing.assert_array_equal(mu_law_decode(mu_law_encode(x)), x)


def test_another_measure_rewrites_the_verdicts_and_says_which(study_dir, tmp_path, monkeypatch):
    d = str(tmp_path / "s")
    shutil.copytree(study_dir, d)
    monkeypatch.setattr(activities, "verdict", lambda *a, **k: "merged")
    went = rejudge(d)
    _, rec = read_state(d)
    assert {r.verdict for r in rec.renders} == {p.verdict for p in rec.trajectory} == {"merged"}
    n = len(rec.renders) + len(rec.trajectory)
    assert sum(went.values()) == n and all(b == "merged" for _, b in went)
    changed = sum(c for (a, b), c in went.items() if a != b)
    line = said(went)
    assert line.startswith(f"judged {n} renders again by measure ")
    assert (f"{changed} changed (" in line) if changed else line.endswith("no verdict changed")


def test_the_command_rebuilds_the_report_and_a_missing_render_loses_nothing(study_dir, tmp_path):
    d = str(tmp_path / "s")
    shutil.copytree(study_dir, d)
    code, out, err = cli("report", d, "--rejudge", timeout=300)
    assert code == 0, err[-2000:]
    assert "again by measure" in out and "report:" in out
    assert os.path.exists(os.path.join(d, "report.html"))
    _, rec = read_state(d)
    gone = os.path.join(d, rec.trajectory[0].path)
    os.remove(gone)
    state = open(os.path.join(d, "study.json"), encoding="utf-8").read()
    code, out, err = cli("report", d, "--rejudge", timeout=300)
    assert code == 1 and err.count("\n") == 1
    assert os.path.basename(gone) in err and "cannot read the render" in err
    assert open(os.path.join(d, "study.json"), encoding="utf-8").read() == state


def test_a_clip_never_trained_on_tells_shared_material_apart(study_dir, tmp_path):
    """A render that continues hype_song verbatim reads as a copy against the study's clips
    alone; judged beside a clip it never trained on that holds the same material (a twin), it
    is shared. A clip of ``also`` named like one of the study's is refused, the record kept."""
    import soundfile as sf
    d = str(tmp_path / "s")
    shutil.copytree(study_dir, d)
    _, rec = read_state(d)
    r = next(r for r in rec.renders if r.clip == r.primed_by == "hype_song" and r.stage == 1)
    song = clips.get("hype_song", 8000, 0.5)
    path = os.path.join(d, r.path)
    n = len(sf.read(path)[0])
    sf.write(path, song[:n], 8000, subtype="PCM_16")          # prime + the song itself
    rejudge(d)
    alone = next(x for x in read_state(d)[1].renders if x.path == r.path)
    assert alone.verdict == "copy", alone.verdict
    rejudge(d, also=[("twin", song)])
    beside = next(x for x in read_state(d)[1].renders if x.path == r.path)
    assert beside.verdict == "shared", beside.verdict
    assert "twin" in beside.resemblance["shares"]
    state = open(os.path.join(d, "study.json"), encoding="utf-8").read()
    with pytest.raises(ValueError, match="already has a clip named hype_song"):
        rejudge(d, also=[("hype_song", song)])
    assert open(os.path.join(d, "study.json"), encoding="utf-8").read() == state


def test_a_study_with_references_judges_as_rejudge_beside_them(tmp_path):
    """Study(references=...) trains on its clips alone and judges every render beside the
    references from the start: the same numbers as the study without them judged again beside
    them (rejudge's also); their files and names are in the record and the report plays them.
    A reference named like a clip is refused before anything is written."""
    song, other = clips.get("hype_song", 8000, 0.5), clips.get("truss_song", 8000, 0.5)
    st = tiny_settings(render_seeds=2, trajectory=1, timeline_every=0)
    run = dict(progress=False, log=lambda *a: None)
    with_refs, alone = str(tmp_path / "with"), str(tmp_path / "alone")
    Study(CFG, [("hype_song", song)], st, out_dir=with_refs,
          references=[("truss_song", other)]).run(**run)
    said = []
    Study(CFG, [("hype_song", song)], st, out_dir=alone).run(progress=False, log=said.append)
    assert f"note: {ALONE}" in said                            # the verdicts cannot say shared
    page = open(os.path.join(alone, "report.html"), encoding="utf-8").read()
    assert "One clip and no references" in page
    rejudge(alone, also=[("truss_song", other)])
    assert json.loads(json.dumps(judged_items(with_refs))) == \
        json.loads(json.dumps(judged_items(alone)))
    _, rec = read_state(with_refs)
    assert rec.clips == ["hype_song"] and rec.references == ["truss_song"]
    assert all("truss_song" in r.resemblance["shares"] for r in rec.renders)
    assert os.path.exists(os.path.join(with_refs, rec.reference_files[0]))
    page = open(os.path.join(with_refs, "report.html"), encoding="utf-8").read()
    assert f"src=\"{rec.reference_files[0]}\"" in page and "One clip and no" not in page
    assert rejudge(with_refs)                                  # reads its references back
    assert json.loads(json.dumps(judged_items(with_refs))) == \
        json.loads(json.dumps(judged_items(alone)))
    with pytest.raises(ValueError, match="names must be unique"):
        Study(CFG, [("hype_song", song)], st, out_dir=str(tmp_path / "clash"),
              references=[("hype_song", other)])
    assert not os.path.exists(tmp_path / "clash")
