"""Coding long audio in chunks with bounded memory.

The audio is cut at code-frame boundaries into chunks of ``chunk_seconds``; each chunk
is coded with ``context_seconds`` of its neighbours on both sides, and only its own
frames (encoding) or samples (decoding) are kept. Memory is bounded by one chunk plus
its context, whatever the length of the input; only the tokens of the whole input are
held (a few bytes per frame).

Exactness: an input of at most ``chunk_seconds`` (plus one context) is coded in one
piece, exactly as ``codec.encode`` / ``codec.decode`` do on the whole. For longer inputs
the convolutions see all they need (the context is far wider than their receptive
field), but two parts of P2PSynCodec look at the whole sequence: GRN (ConvNeXt v2)
normalises by a norm over time, and a student's pseudo-VQ predictors (Conformer
self-attention, BiLSTM) attend to all frames they are given. Chunked coding therefore
differs slightly from whole-input coding of a long file; ``tests/codec/test_batch_and_chunks.py``
measures and bounds the difference (token agreement, waveform SNR) and the README
gives the measured numbers for the demo model.
"""

from typing import List, Optional

import numpy as np
import torch

from espnet2_p2p.codec.base import check_streams
from espnet2_p2p.coding.chunks import (  # noqa: F401  (plan and the defaults: part of this module's API)
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_CONTEXT_SECONDS,
    Chunk,
    plan,
    plan_seconds,
    stitch_audio,
    stitch_tokens,
)
from espnet2_p2p.coding.coder import Reader, Writer


def _chunks(codec, num_frames: int, chunk_seconds, context_seconds, chunks):
    """``chunks`` when the coder planned them, else the plan of these seconds."""
    if chunks is not None:
        return chunks
    return plan_seconds(num_frames, chunk_seconds, context_seconds, codec.fs, codec.hop_length)


def _device(codec) -> torch.device:
    return next(codec.parameters()).device


def _tensor(audio, device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).to(device).view(1, 1, -1)


@torch.no_grad()
def encode(
    codec,
    read: Reader,
    num_samples: int,
    streams: str = "transmitted",
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    context_seconds: float = DEFAULT_CONTEXT_SECONDS,
    progress=None,
    chunks: Optional[List[Chunk]] = None,
) -> np.ndarray:
    """Tokens of a long input, chunk by chunk.

    Args:
        codec: A P2PSynCodec (``model.codec``).
        read: ``read(start, end)`` gives samples [start, end) at ``codec.fs`` (mono float).
        num_samples (int): Length of the input.
        streams (str): "transmitted" (what ``codec.encode`` gives: the plain stream of a
            student, all levels of a teacher) or "all" (``codec.tokens``: 1 + N).
        chunk_seconds, context_seconds: The chunks, when ``chunks`` is not given.
        progress: Called with the frames done after each chunk.
        chunks: The plan's chunks (:func:`~espnet2_p2p.coding.chunks.coding_plan`).

    Returns:
        np.ndarray: Tokens (streams, ceil(num_samples / hop)), int64.
    """
    check_streams(streams)
    hop = codec.hop_length
    num_frames = codec.frames_for(num_samples)
    chunks = _chunks(codec, num_frames, chunk_seconds, context_seconds, chunks)
    device = _device(codec)

    def code(cstart: int, cend: int) -> np.ndarray:
        x = _tensor(read(cstart * hop, min(num_samples, cend * hop)), device)
        return (codec.tokens(x) if streams == "all" else codec.encode(x))[:, 0].cpu().numpy()

    return stitch_tokens(chunks, num_frames, code, progress)


@torch.no_grad()
def decode(
    codec,
    codes: np.ndarray,
    num_samples: int,
    write: Writer,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    context_seconds: float = DEFAULT_CONTEXT_SECONDS,
    progress=None,
    side_info=None,
    chunks: Optional[List[Chunk]] = None,
) -> None:
    """Decode tokens (streams, frames) chunk by chunk (the plan's ``chunks``, or those of
    ``chunk_seconds`` and ``context_seconds``); ``write`` gets the samples in order; ``side_info``: a file's side information
    (:meth:`CodecInterface.decode_tokens`)."""
    hop = codec.hop_length
    num_frames = codes.shape[-1]
    if num_frames != codec.frames_for(num_samples):
        raise ValueError(f"{num_frames} frames do not fit {num_samples} samples (hop {hop})")
    chunks = _chunks(codec, num_frames, chunk_seconds, context_seconds, chunks)
    device = _device(codec)

    def decode_chunk(cstart: int, cend: int) -> np.ndarray:
        piece = torch.as_tensor(codes[:, cstart:cend], dtype=torch.long, device=device).unsqueeze(1)
        length = min(num_samples, cend * hop) - cstart * hop
        return codec.decode_tokens(piece, length=length, side_info=side_info)[0, 0].cpu().numpy()

    stitch_audio(chunks, hop, num_samples, decode_chunk, write, progress)


def side_info(codec, read, num_samples: int) -> bytes:
    """The side information of an input (b"" when the codec has none): the codec's own of
    its first ``codec.side_info_samples`` samples (SecoustiCodec: its paralinguistic
    vector of the first ``reference_seconds``, one byte per dimension)."""
    samples = codec.side_info_samples
    if not samples:
        return b""
    with torch.no_grad():
        return codec.side_info(_tensor(read(0, min(num_samples, samples)), _device(codec)))


# ---------------------------------- streaming codecs (SecoustiCodec, causal P2PSynCodec)
@torch.no_grad()
def stream_encode(codec, read: Reader, num_samples: int, chunks: List[Chunk], streams="transmitted", progress=None):
    """A streaming codec's tokens (streams, frames) of a long input read in pieces (the
    plan's ``chunks``); equal to whole-input coding (the codec is
    causal). With ``streams="all"`` a causal student adds the pseudo streams its predictors
    give."""
    device, hop = _device(codec), codec.hop_length
    enc = codec.encode_stream()
    parts = []
    for start, end, _, _ in chunks:
        parts.append(enc(_tensor(read(start * hop, min(num_samples, end * hop)), device)[:, 0]).cpu())
        if progress is not None:
            progress(sum(p.shape[-1] for p in parts))
    parts.append(enc.flush().cpu())
    codes = torch.cat(parts, dim=-1)[:, 0].numpy().astype(np.int64)
    check_streams(streams)
    if streams == "all" and codec.predicts_streams:
        state, pseudo = None, []
        for start, end, _, _ in chunks:
            piece = torch.from_numpy(codes[:, start:end]).to(device).unsqueeze(1)
            tokens, state = codec.predict_stream(piece, state)
            pseudo.append(tokens[:, 0].cpu().numpy())
        codes = np.concatenate([codes, np.concatenate(pseudo, axis=-1)])
    return codes


@torch.no_grad()
def stream_decode(
    codec, codes: np.ndarray, num_samples: int, write: Writer, chunks: List[Chunk], progress=None, side_info=None
):
    """Decode (streams, frames) tokens of a streaming codec piece by piece (the plan's
    ``chunks``); ``write`` gets
    consecutive pieces of exactly ``num_samples`` samples in all. ``side_info``: a file's
    side information (bytes or integer codes; None: the codec's neutral one)."""
    device = _device(codec)
    g = codec.side_info_codes(side_info) if side_info is not None else None
    dec = codec.decode_stream(g, batch=1)
    written = 0
    for start, end, _, _ in chunks:
        piece = torch.from_numpy(np.ascontiguousarray(codes[:, start:end])).to(device).unsqueeze(1)
        audio = dec(piece)[0, 0].cpu().numpy()
        audio = audio[: max(0, num_samples - written)]
        write(audio)
        written += audio.shape[0]
        if progress is not None:
            progress(end)
    write(dec.flush(num_samples)[0, 0].cpu().numpy()[: max(0, num_samples - written)])
