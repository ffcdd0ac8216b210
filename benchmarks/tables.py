"""Markdown tables of the benchmarks' results."""

from typing import Iterable, Sequence


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table, newline-terminated: ``header``'s cells, a ``|---|`` rule, then one line
    per row of already formatted cells (``| a | b |``)."""
    return _line(header) + "\n|" + "---|" * len(header) + "\n" + "\n".join(_line(r) for r in rows) + "\n"
