"""The documentation: README.md stays short, every relative link in README.md and in
docs/*.md resolves to a file or folder of the repository, and every docs page is reachable
from README.md. Reads Markdown only (no imports of the package): fast."""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 200

# Files that a recipe writes when it runs, linked from the docs before they exist in a
# fresh clone. A link to one of these is not required to resolve.
PRODUCED_BY_RECIPES = {
    "egs2/speechocean762/codec1/RESULTS.md",  # egs2/speechocean762/codec1/run.sh, stage 6
}

# [text](target) and [text](target "title"); images ![alt](target) too. Inline code spans
# and fenced code blocks are removed first, so code that looks like a link is ignored.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def pages():
    return [README] + sorted(DOCS.glob("*.md"))


def links(path: Path):
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    text = "\n".join(CODE_SPAN.sub("", line) for line in text.splitlines())
    return LINK.findall(text)


def relative_targets(path: Path):
    """(link as written, path it points at) for each relative link of a page."""
    out = []
    for link in links(path):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", link) or link.startswith("#"):
            continue  # http(s), mailto, ... and anchors within the page
        target = unquote(link.split("#", 1)[0].split("?", 1)[0])
        if not target:
            continue
        base = ROOT if target.startswith("/") else path.parent
        out.append((link, (base / target.lstrip("/")).resolve()))
    return out


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines (at most {MAX_README_LINES})"


def test_there_are_docs_pages():
    assert sorted(DOCS.glob("*.md")), "docs/ holds no pages"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for link, target in relative_targets(page):
        try:
            rel = target.relative_to(ROOT).as_posix()
        except ValueError:
            broken.append(f"{link} (outside the repository)")
            continue
        if rel in PRODUCED_BY_RECIPES:
            continue
        if not target.exists():
            broken.append(link)
    assert not broken, f"{page.relative_to(ROOT)}: links that do not resolve: {broken}"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {target for _, target in relative_targets(README)}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"docs pages not linked from README.md: {missing}"


def test_allow_list_names_recipe_outputs():
    # each allowed file belongs to a recipe that exists (its run.sh writes the file)
    for rel in PRODUCED_BY_RECIPES:
        assert (ROOT / rel).parent.joinpath("run.sh").is_file(), rel


def test_link_extraction():
    # guards the regular expressions above against silently matching nothing
    assert links(README), "no links found in README.md"
