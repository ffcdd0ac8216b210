"""Every RESULTS file names the model it was produced with (issue 44, item 5): a file that
claims the shipped model must name ``pretrained.DEFAULT`` and its SHA-256, one that claims a
shipped model (a second codec) a model of ``pretrained.MODELS`` and its SHA-256, so figures
of a model that is no longer shipped cannot pass for today's; ``make results`` regenerates
those that describe the default model (benchmarks/results.py)."""

import re
from pathlib import Path

import pytest

from benchmarks import results
from benchmarks.provenance import NOT_SHIPPED, SHIPPED, SHIPPED_OTHER, describe, model_line
from espnet2_p2p import pretrained

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(ROOT.glob("benchmarks/RESULTS*.md")) + sorted(ROOT.glob("egs2/*/*/RESULTS*.md"))
CLAIM = re.compile(r"(\S+) \((" + re.escape(SHIPPED) + "|" + re.escape(SHIPPED_OTHER) + r"), SHA-256 ([0-9a-f]{64})\)")


def claims(first_line: str) -> list:
    """[(name, sha256)] of the shipped-model claims in a RESULTS file's first line (the
    default model's and other shipped models')."""
    return [(name, sha) for name, _, sha in CLAIM.findall(first_line)]


def default_claims(first_line: str) -> list:
    """[(name, sha256)] of the claims of being the default shipped model."""
    return [(name, sha) for name, which, sha in CLAIM.findall(first_line) if which == SHIPPED]


def problem(first_line: str) -> str:
    """What is wrong with a RESULTS file's first line ('' when nothing)."""
    if not first_line.startswith("Model: "):
        return "its first line must name its model ('Model: ...')"
    found = claims(first_line)
    if not found and NOT_SHIPPED not in first_line:
        return f"names no shipped model but does not say '{NOT_SHIPPED}'"
    for name, sha in default_claims(first_line):
        if (name, sha) != (pretrained.DEFAULT, pretrained.MODELS[pretrained.DEFAULT][1]):
            return (
                f"claims the shipped model but names {name} ({sha[:16]}...); the shipped model is {pretrained.DEFAULT}:"
                f" run `make results` (or say '{NOT_SHIPPED}')"
            )
    for name, sha in found:
        if name not in pretrained.MODELS or pretrained.MODELS[name][1] != sha:
            shipped = ", ".join(pretrained.MODELS)
            return f"claims a shipped model but names {name} ({sha[:16]}...), not in the package ({shipped}): say '{NOT_SHIPPED}'"
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
    # another model of the package (a second codec) is "a shipped model", by its name and SHA-256
    assert not problem(f"Model: {pretrained.DEFAULT} ({SHIPPED_OTHER}, SHA-256 {sha})")
    assert "not in the package" in problem(f"Model: gone_codec ({SHIPPED_OTHER}, SHA-256 {'1' * 64})")
    assert "not in the package" in problem(f"Model: {pretrained.DEFAULT} ({SHIPPED_OTHER}, SHA-256 {'1' * 64})")
    assert "names gone_codec" in problem(f"Model: gone_codec ({SHIPPED}, SHA-256 {sha})")  # not the default


def test_make_results_regenerates_the_files_that_describe_the_shipped_model():
    assert "-m benchmarks.results" in (ROOT / "Makefile").read_text()
    for output in results.OUTPUTS:
        first = (ROOT / output).read_text().splitlines()[0]
        assert default_claims(first), (
            f"{output} is written by `make results` with the shipped model: its first line claims it"
        )


def test_the_provenance_line(tmp_path):
    line = model_line(pretrained.default_model())
    assert claims(line) == [(pretrained.DEFAULT, pretrained.MODELS[pretrained.DEFAULT][1])]
    other = tmp_path / "other.zip"
    other.write_bytes(b"not the shipped model")
    assert not claims(model_line(other)) and NOT_SHIPPED in describe(other) and "other.zip" in describe(other)
    assert not claims(model_line(None)) and NOT_SHIPPED in model_line(None)
    assert NOT_SHIPPED in describe(tmp_path)  # an experiment folder


def test_a_second_shipped_model_is_described_as_one(tmp_path, monkeypatch):
    """A model of the package that is not the default (a second codec) is "a shipped model"
    by its name: its files' claims pass, and not as the default's."""
    second = tmp_path / "second.zip"
    second.write_bytes(b"a second codec")
    sha = pretrained.sha256(second)
    monkeypatch.setattr(pretrained, "MODELS", {**pretrained.MODELS, "second_codec": ("second.zip", sha, {})})
    line = model_line(second)
    assert line == f"Model: second_codec ({SHIPPED_OTHER}, SHA-256 {sha})"
    assert claims(line) == [("second_codec", sha)] and not default_claims(line) and not problem(line)
