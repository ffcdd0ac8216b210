"""Kaldi tables (``wav.scp``, ``text``, ``segments``, ``utt2spk`` ...): one reader for all.

Every tool that reads a data dir reads its tables through :func:`read_kaldi_table`, so
each is checked the same way: an id that appears twice (two lines that would silently
overwrite each other, e.g. two recordings of ``u1``) is refused with both line numbers,
and so is a line that does not fit its table (a ``wav.scp`` line without a path or with
a command ``... |``, a ``segments`` line whose times are not numbers). Errors are
:class:`TableError` lines naming the file and the line.
"""

import math
from pathlib import Path
from typing import Dict, Optional

from espnet2_p2p.errors import P2PError
from espnet2_p2p.utils.files import read_regular_file

#: the largest table read (a wav.scp of millions of utterances takes some 100 MB)
MAX_TABLE_BYTES = 1 << 30
KINDS = ("wav.scp", "text", "segments", "table")


class TableError(P2PError):
    """A Kaldi table that cannot be read as one: unreadable, a repeated id, a bad line."""


def table_kind(path: Path) -> str:
    """What a table's name says it is: ``wav.scp`` (any ``*.scp``), ``text``, ``segments``,
    else a generic ``table`` (``<key> <value>``)."""
    path = Path(path)
    if path.name == "wav.scp" or path.suffix == ".scp":
        return "wav.scp"
    if path.name in ("text", "segments"):
        return path.name
    return "table"


def _check_line(kind: str, where: str, key: str, value: str) -> None:
    if kind == "wav.scp":
        if not value:
            raise TableError(f"{where}: expected '<id> <path>', got {key!r} without a path")
        if value.endswith("|"):
            raise TableError(f"{where}: {key} is a command ('... |'); only file paths are read")
    elif kind == "segments":
        fields = value.split()
        try:
            start, end = (float(t) for t in fields[1:]) if len(fields) == 3 else (math.nan, math.nan)
        except ValueError:
            start = end = math.nan
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start and (end == -1 or start < end)):
            raise TableError(
                f"{where}: expected '<utt> <recording> <start> <end>' with 0 <= start < end"
                f" (or end -1), got {f'{key} {value}'.strip()!r}"
            )


def read_kaldi_table(path, kind: Optional[str] = None) -> Dict[str, str]:
    """``{id: rest of the line}`` of a Kaldi table, in file order; blank lines are skipped.

    ``kind``: "wav.scp" (the rest is a file path; commands are refused), "text" (may be
    empty), "segments" (``<recording> <start> <end>``) or "table" (any value, may be
    empty); default: from the file's name (:func:`table_kind`). An id given twice is
    refused (:class:`TableError` with both line numbers)."""
    path = Path(path)
    kind = table_kind(path) if kind is None else kind
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    try:
        text = read_regular_file(path, MAX_TABLE_BYTES).decode("utf-8", errors="replace")
    except OSError as e:
        raise TableError(f"{path}: cannot read: {e.strerror or e}") from None
    table: Dict[str, str] = {}
    first_line: Dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.strip().split(maxsplit=1)
        if not fields:
            continue
        key, value = fields[0], (fields[1].strip() if len(fields) > 1 else "")
        where = f"{path}:{number}"
        if key in first_line:
            raise TableError(
                f"{where}: the id {key!r} appears twice (also on line {first_line[key]}): its lines"
                " would overwrite each other; keep one"
            )
        _check_line(kind, where, key, value)
        first_line[key], table[key] = number, value
    return table
