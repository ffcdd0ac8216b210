"""How an input is coded, chosen here once for every backend and client
(:func:`coding_plan`; :func:`chunked_length`: from what length on), the chunk plan of long
inputs and its stitching (torch-free): :mod:`espnet2_p2p.coding.torch_chunks` (torch) and
:mod:`espnet2_p2p.onnx.runtime` (ONNX Runtime) cut an input the same way and keep the same
part of each chunk, so both backends give the same tokens; the tokenizer and the recipes'
decoding ask the same functions."""

from typing import Callable, Iterable, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np

Chunk = Tuple[int, int, int, int]

# The plan ``p2p-codec`` uses: windows (a chunk with its context) of at most 10 s, so that
# coding stays linear in length (the student's predictors attend over a whole window, so
# longer windows cost more per second): an input of up to 10 s is coded whole, a longer one
# in equal chunks of at most 9.6 s with 0.2 s of context each side. Quality against
# whole-input coding on long real speech: benchmarks/RESULTS_chunk_plan.md and
# docs/benchmarks.md. Until 2026-12-03 it was 30 s and 2 s, then 10 s and 0.5 s.
DEFAULT_CHUNK_SECONDS = 9.6
DEFAULT_CONTEXT_SECONDS = 0.2


def frames_of_seconds(seconds: float, sample_rate: int, hop_length: int) -> int:
    """Whole code frames closest to ``seconds`` (at least 0)."""
    return max(0, int(round(seconds * sample_rate / hop_length)))


def window_frames(chunk_frames: int, context_frames: int) -> int:
    """The longest window of :func:`plan`: a chunk with its context on both sides; an
    input of at most this many frames is coded whole."""
    return chunk_frames + 2 * context_frames


def plan(num_frames: int, chunk_frames: int, context_frames: int) -> Iterator[Chunk]:
    """Chunks as (start, end, context_start, context_end) code frames.

    An input that fits one window (``chunk_frames`` and ``context_frames`` each side) is one
    chunk; a longer one is cut into the fewest chunks of at most ``chunk_frames``, of equal
    length within a frame, each with ``context_frames`` of context where the input has it.
    """
    if chunk_frames < 1 or context_frames < 0:
        raise ValueError(f"chunk_frames must be >= 1 and context_frames >= 0, got {chunk_frames}, {context_frames}")
    if num_frames <= window_frames(chunk_frames, context_frames):
        yield 0, num_frames, 0, num_frames
        return
    count = -(-num_frames // chunk_frames)
    bounds = [i * num_frames // count for i in range(count + 1)]
    for start, end in zip(bounds, bounds[1:]):
        yield start, end, max(0, start - context_frames), min(num_frames, end + context_frames)


def plan_seconds(
    num_frames: int, chunk_seconds: float, context_seconds: float, sample_rate: int, hop_length: int
) -> Iterator[Chunk]:
    """:func:`plan` of chunks and context given in seconds (chunks of at least one frame)."""
    return plan(num_frames, *frames_of_plan(chunk_seconds, context_seconds, sample_rate, hop_length))


def frames_of_plan(chunk_seconds: float, context_seconds: float, sample_rate: int, hop_length: int) -> Tuple[int, int]:
    """(chunk frames, context frames) of a plan given in seconds, as :func:`plan_seconds` cuts."""
    return (
        max(1, frames_of_seconds(chunk_seconds, sample_rate, hop_length)),
        frames_of_seconds(context_seconds, sample_rate, hop_length),
    )


def stitch_tokens(
    chunks: Iterable[Chunk],
    num_frames: int,
    code: Callable[[int, int], np.ndarray],
    progress: Optional[Callable[[int], None]] = None,
) -> np.ndarray:
    """Tokens (streams, num_frames), int64, of the chunks; ``code(context_start,
    context_end)`` gives the tokens (streams, frames) of one chunk with its context."""
    out = None
    for start, end, cstart, cend in chunks:
        codes = code(cstart, cend)
        if out is None:
            out = np.empty((codes.shape[0], num_frames), dtype=np.int64)
        out[:, start:end] = codes[:, start - cstart : end - cstart]
        if progress is not None:
            progress(end)
    return out


def stitch_audio(
    chunks: Iterable[Chunk],
    hop_length: int,
    num_samples: int,
    decode: Callable[[int, int], np.ndarray],
    write: Callable[[np.ndarray], None],
    progress: Optional[Callable[[int], None]] = None,
) -> None:
    """``write`` gets the samples of the chunks in order, ``num_samples`` in all;
    ``decode(context_start, context_end)`` gives the audio of one chunk with its context
    (``min(num_samples, context_end * hop_length) - context_start * hop_length`` samples)."""
    for start, end, cstart, cend in chunks:
        audio = decode(cstart, cend)
        write(audio[(start - cstart) * hop_length : min(num_samples, end * hop_length) - cstart * hop_length])
        if progress is not None:
            progress(end)


class CodingPlan(NamedTuple):
    """How one input is coded (:func:`coding_plan`): ``chunks`` (start, end, context start,
    context end) in frames; with ``stream`` they are consecutive pieces without context,
    coded in order with the codec's exact state, else each chunk is coded with its context."""

    stream: bool
    chunks: List[Chunk]


def coding_plan(
    layout, num_frames: int, chunk_seconds: Optional[float], context_seconds: float, streams_exactly: bool = True
) -> CodingPlan:
    """The one choice of how an input of ``num_frames`` frames of ``layout`` is coded:

    - ``chunk_seconds`` None: whole, in one piece (what whole-input coding gives);
    - a causal codec (``layout.streaming``), on a backend that streams it (``streams_exactly``,
      the torch backend): pieces of ``chunk_seconds``, in order, with exact state, no context
      (equal to whole-input coding); on one that runs its offline graphs (ONNX Runtime,
      which equal streaming): one piece;
    - any other codec: the overlapping chunks of :func:`plan_seconds` (one chunk when the
      input fits a window)."""
    whole = [(0, num_frames, 0, num_frames)]
    if chunk_seconds is None:
        return CodingPlan(layout.streaming and streams_exactly, whole)
    if layout.streaming:
        if not streams_exactly:
            return CodingPlan(False, whole)
        step = max(1, frames_of_seconds(chunk_seconds, layout.fs, layout.hop_length))
        return CodingPlan(True, [(s, min(num_frames, s + step)) * 2 for s in range(0, num_frames, step)])
    return CodingPlan(
        False, list(plan_seconds(num_frames, chunk_seconds, context_seconds, layout.fs, layout.hop_length))
    )


def chunked_length(layout, chunk_seconds: Optional[float], context_seconds: float) -> Optional[float]:
    """Seconds above which an input is coded in pieces rather than whole (None: never): a
    chunk with its context on both sides (:func:`plan` codes what fits that window whole);
    a streaming codec has no context."""
    if chunk_seconds is None:
        return None
    if layout.streaming:
        return chunk_seconds
    window = window_frames(*frames_of_plan(chunk_seconds, context_seconds, layout.fs, layout.hop_length))
    return window * layout.hop_length / layout.fs


def in_pieces(layout, num_samples: int, chunk_seconds: Optional[float], context_seconds: float) -> bool:
    """Whether an input of ``num_samples`` is coded in pieces (:func:`chunked_length`)."""
    limit = chunked_length(layout, chunk_seconds, context_seconds)
    return limit is not None and num_samples > limit * layout.fs
