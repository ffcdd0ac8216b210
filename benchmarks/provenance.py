"""The first line of every RESULTS file: the model it was produced with.

    Model: speechocean762_long_ft (the shipped model, SHA-256 3b9dd401...)
    Model: secousti_speechocean762 (a shipped model, SHA-256 ...)
    Model: speechocean762_small.zip (not the shipped model, SHA-256 ...)
    Model: none (random weights; not the shipped model)

A file that claims the shipped model names it by :data:`espnet2_p2p.pretrained.DEFAULT`
(the model used when none is named) and the SHA-256 of its file; a file of another model
in the package (a second codec) claims "a shipped model" with its name and SHA-256.
``tests/test_results_provenance.py`` fails when a claim names a model or a file the
package no longer ships, so figures of a model that is no longer shipped cannot pass for
today's. ``make results`` (:mod:`benchmarks.results`) regenerates the files that claim
the default model.
"""

from pathlib import Path
from typing import Optional

SHIPPED = "the shipped model"
SHIPPED_OTHER = "a shipped model"  # in the package, not the default (a second codec)
NOT_SHIPPED = "not the shipped model"
RANDOM = f"Model: none (random weights; {NOT_SHIPPED})"


def describe(model) -> str:
    """``NAME (the shipped model, SHA-256 HEX)`` when ``model`` is the file of
    ``pretrained.DEFAULT``, ``NAME (a shipped model, ...)`` for another model of the
    package, ``FILE (not the shipped model, SHA-256 HEX)`` for any other file; a folder (an
    experiment dir) by its path."""
    from espnet2_p2p import pretrained

    path = Path(str(model))
    if not path.is_file():
        return f"{path} (an experiment folder; {NOT_SHIPPED})"
    digest = pretrained.sha256(path)
    for name, (_, sha, _) in pretrained.MODELS.items():
        if sha == digest:
            which = SHIPPED if name == pretrained.DEFAULT else SHIPPED_OTHER
            return f"{name} ({which}, SHA-256 {digest})"
    return f"{path.name} ({NOT_SHIPPED}, SHA-256 {digest})"


def model_line(model: Optional[object], rest: str = "") -> str:
    """The first line of a RESULTS file produced with ``model`` (None: random weights),
    ``rest`` appended (``"; the other rows: random weights"``)."""
    return (RANDOM if model is None else f"Model: {describe(model)}") + rest
