"""wavecore.pages: a value is escaped where a template puts it, and a page carries the one
stylesheet once, inlined (a report.html is one self-contained file)."""
import dataclasses
import os

from wavecore import pages
from wavecore.study.record import load
from wavecore.study.report import page

OLD = os.path.join(os.path.dirname(__file__), "data", "study_9e0c730")
SCRIPT = "<script>alert('x')</script>"


def test_a_value_holding_markup_is_escaped():
    text = pages.render("player.html", src="a.wav", label=SCRIPT)
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text


def test_a_report_escapes_its_names_and_inlines_the_stylesheet_once():
    rec = load(OLD)
    text = page(dataclasses.replace(rec, clips=[SCRIPT] + rec.clips[1:]))
    assert "<script>" not in text and text.count("&lt;script&gt;") >= 3   # intro, table, heading
    assert text.count(pages.STYLE) == 1 and text.count("<style>") == 1
    assert "<link" not in text
    assert ".cell img" in pages.STYLE                                   # the page's own rules
