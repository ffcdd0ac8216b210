"""Every RESULTS file names the model it was produced with (issue 44, item 5): a file that
claims the shipped model must name ``pretrained.DEFAULT`` and its SHA-256, so figures of a
model that is no longer shipped cannot pass for today's; ``make results`` regenerates
those that describe it (benchmarks/results.py)."""

import re
from pathlib import Path

import pytest

from benchmarks import results
from benchmarks.provenance import NOT_SHIPPED, SHIPPED, describe, model_line
from espnet2_p2p import pretrained

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(ROOT.glob("benchmarks/RESULTS*.md")) + sorted(ROOT.glob("egs2/*/*/RESULTS*.md"))
CLAIM = re.compile(r"(\S+) \(" + re.escape(SHIPPED) + r", SHA-256 ([0-9a-f]{64})\)")


def claims(first_line: str) -> list:
    """[(name, sha256)] of the shipped-model claims in a RESULTS file's first line."""
    return CLAIM.findall(first_line)


def problem(first_line: str) -> str:
    """What is wrong with a RESULTS file's first line ('' when nothing)."""
    if not first_line.startswith("Model: "):
        return "its first line must name its model ('Model: ...')"
    found = claims(first_line)
    if not found and NOT_SHIPPED not in first_line:
        return f"names no shipped model but does not say '{NOT_SHIPPED}'"
    for name, sha in found:
        if (name, sha) != (pretrained.DEFAULT, pretrained.MODELS[pretrained.DEFAULT][1]):
            return (
                f"claims the shipped model but names {name} ({sha[:16]}...); the shipped model is {pretrained.DEFAULT}:"
                f" run `make results` (or say '{NOT_SHIPPED}')"
            )
    return ""


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_each_results_file_names_its_model(path):
    assert not problem(path.read_text().splitlines()[0]), (
        f"{path.relative_to(ROOT)}: {problem(path.read_text().splitlines()[0])}"
    )


def test_a_file_of_a_model_no_longer_shipped_fails():
    sha = pretrained.MODELS[pretrained.DEFAULT][1]
    assert not problem(f"Model: {pretrained.DEFAULT} ({SHIPPED}, SHA-256 {sha}) (its student)")
    assert "names speechocean762_small" in problem(f"Model: speechocean762_small ({SHIPPED}, SHA-256 {'0' * 64})")
    assert "names" in problem(f"Model: {pretrained.DEFAULT} ({SHIPPED}, SHA-256 {'0' * 64})")  # the file changed
    assert not problem(f"Model: speechocean762_small.zip ({NOT_SHIPPED}: shipped until 2026-12-04)")
    assert problem("# A title") and problem("Model: speechocean762_small.zip")


def test_make_results_regenerates_the_files_that_describe_the_shipped_model():
    assert "-m benchmarks.results" in (ROOT / "Makefile").read_text()
    for output in results.OUTPUTS:
        first = (ROOT / output).read_text().splitlines()[0]
        assert claims(first), f"{output} is written by `make results` with the shipped model: its first line claims it"


def test_the_provenance_line(tmp_path):
    line = model_line(pretrained.default_model())
    assert claims(line) == [(pretrained.DEFAULT, pretrained.MODELS[pretrained.DEFAULT][1])]
    other = tmp_path / "other.zip"
    other.write_bytes(b"not the shipped model")
    assert not claims(model_line(other)) and NOT_SHIPPED in describe(other) and "other.zip" in describe(other)
    assert not claims(model_line(None)) and NOT_SHIPPED in model_line(None)
    assert NOT_SHIPPED in describe(tmp_path)  # an experiment folder
