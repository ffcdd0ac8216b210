"""Writing output files so that they are whole or absent."""

import os
import uuid
from pathlib import Path


def temp_path(out: Path, suffix: str = "") -> Path:
    """A temporary name beside ``out``, unique to this process and call: two writers of
    one output never share it, so the last atomic rename wins with a whole file."""
    out = Path(out)
    return out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{suffix}")
