"""Writing output files so that they are whole or absent."""

import os
import uuid
from pathlib import Path


def temp_path(out: Path, suffix: str = "") -> Path:
    """A temporary name beside ``out``, unique to this process and call: two writers of
    one output never share it, so the last atomic rename wins with a whole file."""
    out = Path(out)
    return out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{suffix}")


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (read in blocks): what a cached result depends on, unlike
    a modification time, which a resumed training or a copy changes."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
