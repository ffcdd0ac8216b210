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

from typing import Callable, Optional

import numpy as np
import torch

from espnet2_p2p.codec.base import check_streams
from espnet2_p2p.coding.chunks import (  # noqa: F401  (plan and the defaults: part of this module's API)
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_CONTEXT_SECONDS,
    frames_of_seconds,
    plan,
    plan_seconds,
    stitch_audio,
    stitch_tokens,
)


def _frames(codec, seconds: float) -> int:
    return frames_of_seconds(seconds, codec.fs, codec.hop_length)


def _device(codec) -> torch.device:
    return next(codec.parameters()).device


@torch.no_grad()
def encode(
    codec,
    read: Callable[[int, int], np.ndarray],
    num_samples: int,
    streams: str = "transmitted",
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    context_seconds: float = DEFAULT_CONTEXT_SECONDS,
    progress: Optional[Callable[[int], None]] = None,
) -> np.ndarray:
    """Tokens of a long input, chunk by chunk.

    Args:
        codec: A P2PSynCodec (``model.codec``).
        read: ``read(start, end)`` gives samples [start, end) at ``codec.fs`` (mono float).
        num_samples (int): Length of the input.
        streams (str): "transmitted" (what ``codec.encode`` gives: the plain stream of a
            student, all levels of a teacher) or "all" (``codec.tokens``: 1 + N).
        progress: Called with the frames done after each chunk.

    Returns:
        np.ndarray: Tokens (streams, ceil(num_samples / hop)), int64.
    """
    check_streams(streams)
    hop = codec.hop_length
    num_frames = codec.frames_for(num_samples)
    chunks = plan_seconds(num_frames, chunk_seconds, context_seconds, codec.fs, hop)
    device = _device(codec)

    def code(cstart: int, cend: int) -> np.ndarray:
        piece = read(cstart * hop, min(num_samples, cend * hop))
        x = torch.from_numpy(np.ascontiguousarray(piece, dtype=np.float32)).to(device).view(1, 1, -1)
        return (codec.tokens(x) if streams == "all" else codec.encode(x))[:, 0].cpu().numpy()

    return stitch_tokens(chunks, num_frames, code, progress)


@torch.no_grad()
def decode(
    codec,
    codes: np.ndarray,
    num_samples: int,
    write: Callable[[np.ndarray], None],
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    context_seconds: float = DEFAULT_CONTEXT_SECONDS,
    progress: Optional[Callable[[int], None]] = None,
) -> None:
    """Decode tokens (streams, frames) chunk by chunk; ``write`` gets the samples in order."""
    hop = codec.hop_length
    num_frames = codes.shape[-1]
    if num_frames != codec.frames_for(num_samples):
        raise ValueError(f"{num_frames} frames do not fit {num_samples} samples (hop {hop})")
    chunks = plan_seconds(num_frames, chunk_seconds, context_seconds, codec.fs, hop)
    device = _device(codec)

    def decode_chunk(cstart: int, cend: int) -> np.ndarray:
        piece = torch.as_tensor(codes[:, cstart:cend], dtype=torch.long, device=device).unsqueeze(1)
        length = min(num_samples, cend * hop) - cstart * hop
        return codec.decode(piece, length=length)[0, 0].cpu().numpy()

    stitch_audio(chunks, hop, num_samples, decode_chunk, write, progress)


# ---------------------------------- streaming codecs (SecoustiCodec, causal P2PSynCodec)
@torch.no_grad()
def stream_encode(codec, read, num_samples: int, chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
                  progress: Optional[Callable[[int], None]] = None, streams: str = "transmitted"):  # fmt: skip
    """A streaming codec's tokens (streams, frames) and side information (bytes) of a long
    input read in chunks; equal to whole-input coding (the codec is causal). With
    ``streams="all"`` a causal student adds the pseudo streams its predictors give.

    The side information is the codec's paralinguistic vector of the first
    ``codec.reference_seconds``, one byte per dimension.
    """
    device = _device(codec)

    def tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device).view(1, 1, -1)

    side = b""
    if codec.side_info_bytes:
        reference = read(0, min(num_samples, codec.reference_samples))
        side = codec.side_info(tensor(reference))
    step = max(1, _frames(codec, chunk_seconds)) * codec.hop_length
    enc = codec.encode_stream()
    parts = []
    for start in range(0, num_samples, step):
        parts.append(enc(tensor(read(start, min(num_samples, start + step)))[:, 0]).cpu())
        if progress is not None:
            progress(sum(p.shape[-1] for p in parts))
    parts.append(enc.flush().cpu())
    codes = torch.cat(parts, dim=-1)[:, 0].numpy().astype(np.int64)
    check_streams(streams)
    if streams == "all" and codec.predicts_streams:
        state, pseudo = None, []
        for start in range(0, codes.shape[-1], step // codec.hop_length):
            piece = torch.from_numpy(codes[:, start : start + step // codec.hop_length]).to(device).unsqueeze(1)
            tokens, state = codec.predict_stream(piece, state)
            pseudo.append(tokens[:, 0].cpu().numpy())
        codes = np.concatenate([codes, np.concatenate(pseudo, axis=-1)])
    return codes, side


@torch.no_grad()
def stream_decode(codec, codes: np.ndarray, side_info: Optional[bytes], num_samples: int,
                  write: Callable[[np.ndarray], None], chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
                  progress: Optional[Callable[[int], None]] = None, paralinguistic=None) -> None:  # fmt: skip
    """Decode (streams, frames) tokens of a streaming codec chunk by chunk; ``write`` gets
    consecutive pieces of exactly ``num_samples`` samples in all. The global vector comes
    from ``side_info`` (a file's bytes) or, when that is None, ``paralinguistic`` (the
    codec's vector (1, P); None: its neutral vector)."""
    device = _device(codec)
    g = codec.side_info_codes(side_info) if side_info is not None else paralinguistic
    dec = codec.decode_stream(g, batch=1)
    step = max(1, _frames(codec, chunk_seconds))
    written = 0
    for start in range(0, codes.shape[-1], step):
        piece = torch.from_numpy(np.ascontiguousarray(codes[:, start : start + step])).to(device).unsqueeze(1)
        audio = dec(piece)[0, 0].cpu().numpy()
        audio = audio[: max(0, num_samples - written)]
        write(audio)
        written += audio.shape[0]
        if progress is not None:
            progress(min(codes.shape[-1], start + step))
    write(dec.flush(num_samples)[0, 0].cpu().numpy()[: max(0, num_samples - written)])
