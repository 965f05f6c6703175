"""The documentation holds together: README.md and docs/*.md link only to files that exist and to
headings that exist, the README stays a front door (short, the two commands first), and every
page of docs/ is in mkdocs.yml's nav. Reads markdown only; imports nothing of wavecore."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md"] + sorted(DOCS.glob("*.md"))

# the README's first code block: install and demo, install and test (CI runs the test command as
# written here, so it stays byte-identical)
COMMANDS = [
    "pip install . && wavecore demo                       # install; run the learn-and-forget "
    "study on built-in clips, print the report's path",
    'pip install -e ".[test,mpi,notebook]" && python -m pytest     # install and run the tests',
]
MAX_README_LINES = 250

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")   # http:, https:, mailto: ...


def without_fences(text: str) -> str:
    """The text with every fenced code block blanked, line count kept."""
    out, fenced = [], False
    for line in text.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
            out.append("")
        else:
            out.append("" if fenced else line)
    return "\n".join(out)


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans (a link there is an example, not a
    link); the line count is kept so that problems name the right line."""
    return CODE_SPAN.sub(lambda m: "code" + "\n" * m.group(0).count("\n"), without_fences(text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text as shown, lowercase, punctuation other than '-' and
    '_' dropped, spaces to '-'."""
    h = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)      # a link shows its text
    h = re.sub(r"<[^>]+>", "", h).replace("`", "")
    h = re.sub(r"[^\w\- ]", "", h.strip().lower())
    return h.replace(" ", "-")


def anchors(text: str) -> set:
    """Every heading's anchor on a page, repeated headings numbered as GitHub does (-1, -2, ...)."""
    seen: dict = {}
    found = set()
    for line in without_fences(text).split("\n"):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(text: str):
    """(line number, target) of every markdown link and image in the prose of a page."""
    body = prose(text)
    for m in LINK.finditer(body):
        yield body.count("\n", 0, m.start()) + 1, m.group(2)


def broken_links(text: str, page: Path, root: Path = ROOT) -> list:
    """What is wrong with a page's relative links: a target that is not a file or folder of the
    repository, a target outside it, or an #anchor that names no heading of its page."""
    problems = []
    for line, target in links(text):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        where = (page.parent / path).resolve() if path else page.resolve()
        name = f"{page.name}:{line}: {target}"
        try:
            where.relative_to(root.resolve())
        except ValueError:
            problems.append(f"{name}: outside the repository")
            continue
        if not where.exists():
            problems.append(f"{name}: no such file")
            continue
        if anchor:
            if where.suffix != ".md":
                problems.append(f"{name}: an anchor into a file that is not markdown")
            else:
                page_text = text if where == page.resolve() else where.read_text(encoding="utf-8")
                if anchor not in anchors(page_text):
                    problems.append(f"{name}: no heading with the anchor #{anchor}")
    return problems


def nav_pages(mkdocs: str) -> list:
    """The pages mkdocs.yml's nav lists (its nav: block, read without a YAML library)."""
    pages, in_nav = [], False
    for line in mkdocs.split("\n"):
        if re.match(r"^nav\s*:", line):
            in_nav = True
            continue
        if in_nav and line and not line[0].isspace() and not line.startswith("-"):
            break                                   # the next top-level key
        if in_nav:
            pages += re.findall(r"([\w./-]+\.md)\b", line)
    return pages


# the finder itself, on constructed pages


def test_the_link_finder_finds_broken_links(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## A section: with `some code`\n")
    page = tmp_path / "docs" / "page.md"
    text = ("# Page\n\n## Here, and there\n\n"
            "[fine](other.md) [fine too](other.md#a-section-with-some-code) "
            "[here](#here-and-there)\n"
            "![picture](../missing.png) [gone](no/such/file.md)\n"
            "[wrong anchor](other.md#no-such-section) [own](#nowhere) [escape](../../x.md)\n"
            "`[in code](absent.md)` [web](https://example.org/x.md)\n"
            "```\n[in a block](absent.md)\n```\n")
    page.write_text(text)
    problems = broken_links(text, page, tmp_path)
    assert [p.split(": ", 1)[0] for p in problems] == ["page.md:6"] * 2 + ["page.md:7"] * 3
    assert any("../missing.png: no such file" in p for p in problems)
    assert any("no/such/file.md: no such file" in p for p in problems)
    assert any("#no-such-section" in p for p in problems)
    assert any("#nowhere" in p for p in problems)
    assert any("outside the repository" in p for p in problems)
    assert not any("absent.md" in p or "example.org" in p for p in problems)


@pytest.mark.parametrize("heading, expected", [
    ("The regime map: where a reproduction keeps a song",
     "the-regime-map-where-a-reproduction-keeps-a-song"),
    ("A time budget: --hours", "a-time-budget---hours"),
    ("More machines (MPI)", "more-machines-mpi"),
    ("bf16 on the CPU", "bf16-on-the-cpu"),
    ("What `python -m pytest` runs", "what-python--m-pytest-runs"),
    ("snake_case stays", "snake_case-stays"),
])
def test_slugs_as_github_makes_them(heading, expected):
    assert slug(heading) == expected


def test_repeated_headings_are_numbered():
    assert anchors("# A\n## Notes\n## Notes\n```\n# not a heading\n```\n") == {
        "a", "notes", "notes-1"}


def test_the_nav_reader():
    yml = "site_name: x\nnav:\n  - Home: index.md\n  - Guide: guide.md\ntheme: readthedocs\n"
    assert nav_pages(yml) == ["index.md", "guide.md"]


# the repository's pages


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_resolves(page):
    problems = broken_links(page.read_text(encoding="utf-8"), page)
    assert not problems, "\n".join(problems)


def test_the_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = text.split("\n")
    assert len(text.splitlines()) <= MAX_README_LINES, \
        f"README.md has {len(text.splitlines())} lines"
    opens = [i for i, line in enumerate(lines) if FENCE.match(line)]
    assert len(opens) >= 2, "README.md has no code block"
    first = lines[opens[0] + 1:opens[1]]
    assert first[:2] == COMMANDS, "the README's first code block must start with the two commands"


def test_ci_runs_the_readmes_test_command():
    ci = ROOT / ".ci" / "run"
    if not ci.exists():
        pytest.skip("no .ci/run in this checkout")
    command = COMMANDS[1].split("  #")[0].rstrip()
    assert command in ci.read_text(encoding="utf-8").split("\n")


def test_every_docs_page_is_in_the_nav():
    mkdocs = ROOT / "mkdocs.yml"
    assert mkdocs.exists(), "mkdocs.yml is missing"
    text = mkdocs.read_text(encoding="utf-8")
    assert re.search(r"^docs_dir:\s*docs\s*$", text, re.M), "mkdocs.yml: docs_dir docs"
    nav = nav_pages(text)
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert pages, "docs/ has no pages"
    assert not sorted(set(pages) - set(nav)), \
        f"not in mkdocs.yml's nav: {sorted(set(pages) - set(nav))}"
    assert all((DOCS / p).exists() for p in nav), f"nav names a missing page: {nav}"
