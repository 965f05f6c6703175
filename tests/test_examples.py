import os
import runpy
import sys

import soundfile as sf

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def test_train_and_sample_example_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["train_and_sample.py", "--out", str(tmp_path),
                                      "--steps", "10", "--tiny"])
    runpy.run_path(os.path.join(EXAMPLES, "train_and_sample.py"), run_name="__main__")
    assert sf.info(tmp_path / "clip1_T0.6.wav").frames == 4000
