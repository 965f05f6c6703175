"""Every HTML wavecore writes, built from one set of templates (``templates/*.html``) and one
stylesheet (``style.css``). A page inlines the whole stylesheet, so a report.html stays one
self-contained file; a Jupyter output shares its document with the whole notebook (a ``<style>``
there would restyle every cell), so it carries the few rules it uses as style attributes
(``css``).

Jinja2, with autoescape on: a value is escaped where it lands unless the template says it is
HTML already, so no page escapes by hand, and the report's loops and conditions read as the page
they build. A helper of our own would have had to grow both (escaping and blocks).

The templates: ``page.html`` (a page's frame), ``report.html`` (with ``measures.html``,
``held_out.html``, ``trajectory.html``), ``compare.html`` and ``parts.html``, the macros those
two share (``player``, ``runs``, ``shares``, ``seed``, ``rates``, ``curriculum``); for Jupyter
``player.html``, ``image.html``, ``table.html``, ``config.html``, ``generation.html``,
``study.html`` and ``study_setup.html``. In them ``x|fmt(".2f")`` is ``format(x, ".2f")``,
``x|num`` the same with a dash for None, and a name the caller did not pass is an error, not an
empty string.

This module imports nothing else of wavecore, so every wing can use it.
"""
from __future__ import annotations

import base64
import importlib.resources
import re

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

STYLE = importlib.resources.files(__name__).joinpath("style.css").read_text(encoding="utf-8")


def _rules(text: str) -> dict:
    """{selector: its declarations, compact}: one entry per selector of a selector list."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", text):
        body = re.sub(r"\s*([:;])\s*", r"\1", " ".join(body.split())).strip(";")
        for s in selectors.split(","):
            out[s.strip()] = ";".join(filter(None, (out.get(s.strip()), body)))
    return out


RULES = _rules(STYLE)


def css(selector: str) -> str:
    """The declarations of the stylesheet's rule for ``selector``, for a style attribute:
    ``css(".nb-cell")`` -> ``"border:1px solid #ddd;padding:2px 8px"``."""
    return RULES[selector]


def num(v, spec: str = ".3f") -> str:
    """A number for a table cell; a dash for None."""
    return "–" if v is None else format(v, spec)


ENV = Environment(loader=PackageLoader(__name__, "templates"), autoescape=True,
                  trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)
ENV.filters.update(fmt=format, num=num)          # {{ x|fmt(".2f") }}, {{ x|num }}
ENV.globals.update(css=css, style=Markup(STYLE))


def render(name: str, **context) -> str:
    """The template ``templates/NAME`` filled in with ``context``."""
    return ENV.get_template(name).render(**context)


def data_uri(mime: str, data: bytes) -> str:
    """``data:MIME;base64,...``: a file embedded in the page that shows it."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def table(rows, head=None) -> str:
    """A small table for Jupyter. head: the column names (text); rows: cells that are HTML
    already (escape text yourself)."""
    return render("table.html", head=head, rows=[[Markup(c) for c in r] for r in rows])
