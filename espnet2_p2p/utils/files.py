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


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, else an OSError saying why.

    The file is opened without blocking and checked on the open descriptor, so a FIFO, a
    device (``/dev/zero``) or a folder is refused at once, and a file larger than
    ``limit`` is refused before it is read."""
    import errno
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = (
                "a folder"
                if stat.S_ISDIR(info.st_mode)
                else "a FIFO"
                if stat.S_ISFIFO(info.st_mode)
                else "a device or socket"
            )
            raise OSError(errno.EINVAL, f"not a regular file ({kind})", str(path))
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"holds {info.st_size} bytes, more than {limit}", str(path))
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = None
            return f.read(limit + 1)[:limit]
    finally:
        if fd is not None:
            os.close(fd)
