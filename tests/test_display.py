"""What wavecore's objects show in Jupyter (wavecore.display): the HTML parses, the embedded
WAVs decode to the right length and rate, a study's HTML holds its heatmap and one player per
render of its latest stage, and a page of these outputs loads in a real browser."""
import base64
import io
import json
import re
import sys
from html.parser import HTMLParser

import pytest
import soundfile as sf
from conftest import browser, open_in_browser, run
from test_study import CFG, tiny_settings

from wavecore import WaveNet, WaveNetConfig
from wavecore.analysis import clips
from wavecore.engine.sampler import CachedSampler
from wavecore.study import Record, Study


class Tags(HTMLParser):
    """Every start tag with its attributes; fails on unbalanced tags."""

    VOID = {"img", "br", "meta", "source", "input", "hr"}

    def __init__(self, text):
        super().__init__()
        self.tags, self.open = [], []
        self.feed(text)
        self.close()
        assert self.open == [], f"unclosed tags {self.open}"

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()


def wavs(text):
    """The embedded WAVs of an HTML output: [(samples, sample rate)]."""
    out = []
    for tag, a in Tags(text).tags:
        if tag == "audio":
            head, b64 = a["src"].split(",", 1)
            assert head == "data:audio/wav;base64"
            x, sr = sf.read(io.BytesIO(base64.b64decode(b64)))
            out.append((len(x), sr))
    return out


def test_generation_shows_a_player_per_stream_with_temperature_and_seed():
    net = WaveNet(CFG)
    g = CachedSampler(net, net.init_params(0)).generate(1234, streams=3,
                                                        temperature=[0.9, 0.7, 0.6],
                                                        seed=[5, 6, 7])
    text = g._repr_html_()
    assert wavs(text) == [(1234, 8000)] * 3
    for t, s in ((0.9, 5), (0.7, 6), (0.6, 7)):
        assert f"T = {t:g}, seed {s}" in text


def test_config_shows_layers_receptive_field_and_parameters():
    cfg = WaveNetConfig(dilations_override="5x[1, 1, 2, ..., 4096]", skip_channels=1024)
    text = cfg._repr_html_()
    Tags(text)
    assert "70 (dilations 5x[1, 1, 2, ..., 4096])" in text
    assert "40,962 samples = 2560.1 ms at 16,000 Hz" in text and "4,057,920" in text


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("shown")
    two = [("chant", clips.get("chant", 8000, 0.25)), ("shriek", clips.get("shriek", 8000, 0.25))]
    s = Study(CFG, two, tiny_settings(timeline_every=0), out_dir=out)
    return s, s.run(progress=False, log=lambda *a: None)


def test_a_study_shows_its_heatmap_and_the_latest_stages_players(study):
    s, M = study
    for text in (M._repr_html_(), s._repr_html_()):
        imgs = [a for t, a in Tags(text).tags if t == "img"]
        assert any(a["alt"] == "accuracy heatmap" and a["src"].startswith("data:image/png;base64,")
                   for a in imgs)
        assert any(a["alt"] == "merge map, stage 2" for a in imgs)
        latest = [r for r in M.renders + M.unprimed if r.stage == 2]
        got = wavs(text)
        assert len(got) == len(latest) == 2 * 3 + 3
        assert all(sr == 8000 for _, sr in got)
    assert Record.from_dict(json.loads(json.dumps(M.to_dict()))) == M.record   # a JSON round trip


def test_nothing_imports_ipython():
    code = ("import sys, wavecore; from wavecore import WaveNetConfig; "
            "WaveNetConfig()._repr_html_(); "
            "import wavecore.display; assert 'IPython' not in sys.modules, 'IPython imported'")
    rc, out, err = run([sys.executable, "-c", code], timeout=120)
    assert rc == 0, err


@pytest.mark.skipif(browser() is None, reason="no Chromium installed (apt-get install chromium)")
def test_the_outputs_load_in_a_real_browser(study, tmp_path):
    s, M = study
    net = WaveNet(CFG)
    g = CachedSampler(net, net.init_params(0)).generate(4000, streams=2, temperature=0.7)
    page = tmp_path / "outputs.html"
    page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                    + g._repr_html_() + CFG._repr_html_() + M._repr_html_() + "</body></html>")
    dom, images, broken = open_in_browser(str(page), tmp_path / "profile")
    assert images == 2 and broken == []
    durations = json.loads(re.search(r'data-audio="([^"]*)"', dom).group(1).replace("&quot;", '"'))
    assert len(durations) == 2 + 9
    assert durations[:2] == pytest.approx([0.5, 0.5]) and all(d > 0 for d in durations)
