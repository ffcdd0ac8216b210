"""Markdown tables of the benchmarks' results."""

from pathlib import Path
from typing import Iterable, Sequence, Union


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_table(header: Union[str, Sequence[str]], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table, newline-terminated: ``header``'s cells (a list, or one string as
    the Markdown row reads: ``"a | b"``), a ``|---|`` rule, then one line per row of already
    formatted cells (``| a | b |``)."""
    if isinstance(header, str):
        header = [cell.strip() for cell in header.strip().strip("|").split(" | ")]
    return _line(header) + "\n|" + "---|" * len(header) + "\n" + "\n".join(_line(r) for r in rows) + "\n"


def publish(path: Path, text: str) -> int:
    """Write a benchmark's results to ``path`` and print them; the exit status (0)."""
    Path(path).write_text(text)
    print(text)
    return 0
