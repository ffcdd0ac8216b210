"""The chunk plan of long inputs (numpy-free, torch-free): :mod:`espnet2_p2p.chunked`
(torch) and :mod:`espnet2_p2p.onnx.runtime` (ONNX Runtime) cut an input the same way,
so both backends give the same tokens."""

from typing import Iterator, Tuple

DEFAULT_CHUNK_SECONDS = 30.0
DEFAULT_CONTEXT_SECONDS = 2.0


def frames_of_seconds(seconds: float, sample_rate: int, hop_length: int) -> int:
    """Whole code frames closest to ``seconds`` (at least 0)."""
    return max(0, int(round(seconds * sample_rate / hop_length)))


def plan(num_frames: int, chunk_frames: int, context_frames: int) -> Iterator[Tuple[int, int, int, int]]:
    """Chunks as (start, end, context_start, context_end) code frames.

    One chunk covers everything when ``num_frames <= chunk_frames + context_frames``.
    """
    if chunk_frames < 1 or context_frames < 0:
        raise ValueError(f"chunk_frames must be >= 1 and context_frames >= 0, got {chunk_frames}, {context_frames}")
    if num_frames <= chunk_frames + context_frames:
        yield 0, num_frames, 0, num_frames
        return
    for start in range(0, num_frames, chunk_frames):
        end = min(num_frames, start + chunk_frames)
        yield start, end, max(0, start - context_frames), min(num_frames, end + context_frames)
