"""Codec tokens for speech language models.

P2PSynCodec transmits one token stream (the plain VQ) but reconstructs from 1 + N: the
plain stream and N pseudo streams predicted from it. A speech LM can model all 1 + N as
targets. :class:`P2PTokenizer` gives them in the layouts LMs use::

    from espnet2_p2p.speechlm.tokenizer import P2PTokenizer

    tok = P2PTokenizer.from_pretrained("exp/p2psyn_packed.zip")   # or an exp dir / .pth
    tokens = tok.encode(wav)              # (frames, 1 + N) int64; stream 0 = plain
    wav_hat = tok.decode(tokens)          # all streams given: nothing is predicted
    wav_hat = tok.decode(tokens[:, :1])   # plain only: pseudo streams predicted
    ids = tok.flatten(tokens)             # 1-D LM ids, frame-major
    tokens = tok.unflatten(ids)

Frames: a waveform of ``T >= 1`` samples has ``frames = ceil(T / hop)`` frames
(hop = 320 samples at 16 kHz, 50 frames per second); :meth:`num_frames` computes it.

Flat ids: token ``c`` of stream ``s`` is ``offset[s] + c`` with ``offset[s]`` the sum
of the codebook sizes before stream ``s`` (``c + s * K`` when all codebooks have K
entries, as in the shipped configs). ``order="frame"`` (default) lists frame 0's
streams 0..S-1, then frame 1's ...; ``order="stream"`` lists all of stream 0, then
stream 1 .... :meth:`token_list` names id ``i`` as ``<codec_layer{s}_code{c}>``.

SecoustiCodec (``codec: secousti``) has one token stream (every ``streams`` choice gives
it) and a global paralinguistic vector; :meth:`paralinguistic` gives its
integer codes for an utterance (its first ``reference_seconds``) and
:meth:`decode` takes them back (without them, the all-zero vector)::

    tok = P2PTokenizer.from_pretrained("exp/secousti_packed.zip")
    tokens, para = tok.encode(wav), tok.paralinguistic(wav)     # (frames, 1), (P,)
    wav_hat = tok.decode(tokens, paralinguistic=para)

Input checks raise :class:`~espnet2_p2p.errors.P2PError` subclasses naming the problem:
tokens out of range, a wrong number of streams, a frame count that does not fit the
audio length.
"""

import math
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch

from espnet2_p2p.codec.base import as_codec, check_streams
from espnet2_p2p.coding import torch_chunks as chunked  # noqa: F401  (its defaults)
from espnet2_p2p.coding.chunks import in_pieces
from espnet2_p2p.coding.coder import TorchCoder
from espnet2_p2p.errors import AudioInputError, TokenError
from espnet2_p2p.utils.checks import (
    check_audio_batch,
    check_counts,
    check_sample_type,
    check_token_array,
    integer_array,
    whole_number,
)
from espnet2_p2p.utils.tokens import first_bad_token, frames_for

ORDERS = ("frame", "stream")


class P2PTokenizer:
    """wav <-> codec tokens (frames, streams) and flat LM ids.

    Args:
        model: An ``ESPnetGANCodecModel`` holding a P2PSynCodec (teacher or student) or
            a SecoustiCodec, or the codec itself.
        streams (str): "all" (plain + N pseudo; default), "transmitted" (what a ``.p2p``
            file carries: a student's plain stream, a teacher's 1 + N) or "plain" (stream 0
            alone, the former name; SecoustiCodec: each gives its one stream).
        chunk_seconds (Optional[float]): A single waveform or token sequence longer than
            this (plus twice ``context_seconds``) is coded in chunks, as ``p2p-codec`` does
            (:mod:`espnet2_p2p.coding.torch_chunks`): time linear in the length, memory bounded by one
            chunk. Shorter inputs, and SecoustiCodec at any length, give exactly what
            whole-input coding gives; a long P2PSynCodec input differs slightly (see
            ``chunked``). None codes every input whole (memory quadratic in its length).
        context_seconds (float): Context on each side of a P2PSynCodec chunk.
    """

    def __init__(
        self,
        model,
        streams: str = "all",
        chunk_seconds: Optional[float] = chunked.DEFAULT_CHUNK_SECONDS,
        context_seconds: float = chunked.DEFAULT_CONTEXT_SECONDS,
    ):
        check_streams(streams, plain=True)
        if chunk_seconds is not None and not (chunk_seconds > 0 and math.isfinite(chunk_seconds)):
            raise ValueError(f"chunk_seconds must be a positive number of seconds or None, got {chunk_seconds}")
        if not (context_seconds >= 0 and math.isfinite(context_seconds)):
            raise ValueError(f"context_seconds must be >= 0, got {context_seconds}")
        self.chunk_seconds, self.context_seconds = chunk_seconds, context_seconds
        self.model = model
        self.codec = as_codec(model).eval()
        self.coder = TorchCoder(self.codec)
        self.streams = streams
        # every stream the codec can decode from (P2PSynCodec: plain + N pseudo)
        self.codec_sizes: List[int] = list(self.codec.stream_sizes)
        self.sizes: List[int] = list(self.codec_sizes)
        if streams == "plain":
            self.sizes = self.sizes[:1]
        elif streams == "transmitted":
            self.sizes = self.sizes[: self.codec.transmitted_streams]
        self.offsets: List[int] = [int(sum(self.sizes[:s])) for s in range(len(self.sizes))]
        self.vocab_size = int(sum(self.sizes))

    @classmethod
    def from_pretrained(
        cls, path=None, name: Optional[str] = None, device: str = "cpu", streams: str = "all", **chunking
    ):
        """Load a packed zip, an experiment dir, a .pth (see :mod:`espnet2_p2p.model_io`) or
        the model shipped in the package under that name; with no path,
        ``$P2P_CODEC_MODEL`` or else the default shipped model
        (:mod:`espnet2_p2p.pretrained`, checked against its SHA-256). ``chunking``:
        ``chunk_seconds`` and ``context_seconds`` of the constructor."""
        from espnet2_p2p import pretrained
        from espnet2_p2p.model_io import load_codec

        path = pretrained.chosen_model(path)

        from espnet2_p2p.coding.coder import torch_device

        return cls(load_codec(path, name, torch_device(device)), streams, **chunking)

    # ---------------------------------------------------------------- shapes
    @property
    def num_streams(self) -> int:
        return len(self.sizes)

    @property
    def hop_length(self) -> int:
        return self.codec.hop_length

    @property
    def sample_rate(self) -> int:
        return self.codec.fs

    @property
    def frame_rate(self) -> float:
        return self.codec.frame_rate

    def num_frames(self, num_samples: int) -> int:
        """Frames of a waveform of ``num_samples >= 1`` samples: ``ceil(num_samples / hop)``."""
        if num_samples < 1:
            raise AudioInputError(f"audio of {num_samples} samples has no frames")
        return frames_for(num_samples, self.hop_length)

    @property
    def device(self) -> torch.device:
        return next(self.codec.parameters()).device

    # ----------------------------------------------------------- wav <-> tokens
    @torch.no_grad()
    def encode(self, wav, lengths: Optional[Sequence[int]] = None) -> torch.Tensor:
        """Waveform(s) at ``sample_rate`` -> tokens.

        Args:
            wav: (T,) -> tokens (frames, S); or a zero-padded batch (B, T) with
                ``lengths`` (samples per item) -> (B, max_frames, S), where item b's
                first ``num_frames(lengths[b])`` frames equal what it gets alone and the
                rest are 0.

        Returns:
            LongTensor: Tokens, stream 0 = plain, streams 1..N = pseudo (``streams="all"``).
        """
        x = torch.as_tensor(check_sample_type(wav, "wav"), dtype=torch.float32)
        if x.dim() not in (1, 2):
            raise AudioInputError(f"wav must be (T,) or (B, T), got shape {tuple(x.shape)}")
        single = x.dim() == 1
        if single and self._long(x.shape[0]):
            check_audio_batch(x.view(1, 1, -1), "wav")
            return self._encode_chunked(x.cpu().numpy())
        x = x.view(1, 1, -1) if single else x.unsqueeze(1)
        lengths = check_counts(lengths, x.shape[0], max(1, x.shape[-1]), "lengths")
        if x.shape[-1] and self._long(x.shape[-1]):  # a long batch: its items one by one
            n = [x.shape[-1]] * x.shape[0] if lengths is None else lengths.tolist()
            out = torch.zeros(x.shape[0], self.num_frames(x.shape[-1]), self.num_streams, dtype=torch.long)
            for b, length in enumerate(n):
                out[b, : self.num_frames(length)] = self.encode(x[b, 0, :length])
            return out
        x = x.to(self.device)
        codes = self.coder.encode_batch(x, lengths, self._coder_streams)[: self.num_streams]
        tokens = codes.permute(1, 2, 0).cpu()  # (B, frames, S)
        return tokens[0] if single else tokens

    @property
    def _coder_streams(self) -> str:
        return "all" if self.streams == "all" else "transmitted"

    def _long(self, num_samples: int) -> bool:
        """Whether an input of this length is coded in chunks."""
        return in_pieces(self.coder.layout, num_samples, self.chunk_seconds, self.context_seconds)

    def _encode_chunked(self, wav: np.ndarray) -> torch.Tensor:
        codes, _ = self.coder.encode_file(
            lambda a, b: wav[a:b], len(wav), self._coder_streams, self.chunk_seconds, self.context_seconds
        )
        return torch.from_numpy(np.ascontiguousarray(codes[: self.num_streams].T))

    def _decode_chunked(self, tokens: torch.Tensor, length: int, side_info) -> torch.Tensor:
        pieces = []
        self.coder.decode_file(
            tokens.t().numpy(), length, pieces.append, self.chunk_seconds, self.context_seconds, side_info=side_info
        )
        return torch.from_numpy(np.concatenate(pieces))

    @property
    def has_paralinguistic(self) -> bool:
        """Whether the codec has a global paralinguistic vector (SecoustiCodec): the side
        information of its files."""
        return self.coder.layout.side_info_bytes > 0

    @property
    def paralinguistic_dim(self) -> int:
        return self.coder.layout.side_info_bytes

    @torch.no_grad()
    def paralinguistic(self, wav) -> torch.Tensor:
        """SecoustiCodec: waveform (T,) -> the integer codes (P,) of its paralinguistic
        vector (from the first ``reference_seconds``), as a .p2p file carries them."""
        if not self.has_paralinguistic:
            raise TokenError(f"{type(self.codec).__name__} has no paralinguistic vector")
        x = torch.as_tensor(check_sample_type(wav, "wav"), dtype=torch.float32)
        if x.dim() != 1 or x.numel() == 0:
            raise AudioInputError(f"wav must be (T,) with T >= 1, got shape {tuple(x.shape)}")
        check_audio_batch(x.view(1, 1, -1), "wav")
        return torch.tensor(list(self.coder.side_info(x.cpu().numpy())), dtype=torch.long)

    @torch.no_grad()
    def decode(self, tokens, length: Optional[int] = None, paralinguistic=None) -> torch.Tensor:
        """Tokens (frames, S) -> waveform (length or frames * hop,).

        S = 1: the plain stream; a student predicts the pseudo streams (a teacher decodes
        plain-only). S = 1 + N: all streams given (as an LM generates them); nothing is
        predicted. ``paralinguistic``: SecoustiCodec's vector codes (P,) from
        :meth:`paralinguistic` (default: the all-zero vector).
        """
        tokens = self.check(tokens, num_samples=length, streams=[1, len(self.codec_sizes)])
        side = None
        if paralinguistic is not None:
            if not self.has_paralinguistic:
                raise TokenError(f"{type(self.codec).__name__} takes no paralinguistic vector")
            levels = self.coder.layout.side_info_levels
            try:
                p = integer_array(paralinguistic, "paralinguistic")
            except TokenError:  # floats, bools, strings: described below
                p = None
            if p is None or p.shape != (self.paralinguistic_dim,) or first_bad_token(p[None], [levels]):
                got = np.asarray(paralinguistic, dtype=object) if p is None else p
                raise TokenError(
                    f"paralinguistic: expected {self.paralinguistic_dim} integer codes in [0, {levels}),"
                    f" got shape {tuple(got.shape)} {getattr(paralinguistic, 'dtype', type(paralinguistic).__name__)}"
                )
            side = p.tolist()
        if self._long(tokens.shape[0] * self.hop_length):
            return self._decode_chunked(tokens, length or tokens.shape[0] * self.hop_length, side)
        codes = tokens.t().unsqueeze(1).to(self.device)  # (S, 1, frames)
        return self.coder.decode_batch(codes, length, side)[0, 0].cpu()

    def check(self, tokens, num_samples: Optional[int] = None, streams=None, name: str = "tokens"):
        """Return tokens as a LongTensor (frames, S) or raise :class:`TokenError`.

        ``streams``: the stream counts accepted (default: this tokenizer's).
        """
        t = integer_array(tokens, name)  # checked (and decoded from) on the CPU, wherever an LM made them
        valid = sorted(set(streams or [self.num_streams]))
        if t.ndim != 2 or t.shape[1] not in valid:
            raise TokenError(f"{name}: expected (frames, streams) with streams in {valid}, got shape {tuple(t.shape)}")
        if t.shape[0] == 0:
            raise TokenError(f"{name}: no frames")
        t = torch.from_numpy(np.ascontiguousarray(check_token_array(t.T, self.codec_sizes, name, [t.shape[1]]).T))
        if num_samples is not None:
            num_samples = whole_number(num_samples, f"{name}: the length", TokenError)
        if num_samples is not None and self.num_frames(num_samples) != t.shape[0]:
            raise TokenError(
                f"{name}: {t.shape[0]} frames, but {num_samples} samples make {self.num_frames(num_samples)}"
            )
        return t

    # ------------------------------------------------------------ flat ids
    def flatten(self, tokens, order: str = "frame") -> torch.Tensor:
        """Tokens (frames, S) -> 1-D ids ``offset[s] + code`` in ``order``."""
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        t = self.check(tokens)
        ids = t + torch.tensor(self.offsets[: t.shape[1]])
        return (ids if order == "frame" else ids.t()).reshape(-1)

    def unflatten(self, ids, order: str = "frame", name: str = "ids") -> torch.Tensor:
        """1-D ids -> tokens (frames, S); refuses ids of the wrong stream or length."""
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        ids = torch.from_numpy(integer_array(ids, name).reshape(-1))
        S = self.num_streams
        if ids.numel() == 0 or ids.numel() % S:
            raise TokenError(f"{name}: {ids.numel()} ids are not a whole number of frames of {S} streams")
        grid = ids.view(-1, S) if order == "frame" else ids.view(S, -1).t()
        offsets = torch.tensor(self.offsets)
        codes = grid - offsets
        for s, size in enumerate(self.sizes):
            bad = ((codes[:, s] < 0) | (codes[:, s] >= size)).nonzero()
            if len(bad):
                frame = int(bad[0])
                raise TokenError(
                    f"{name}: id {int(grid[frame, s])} at frame {frame} is not a stream-{s} id"
                    f" (stream {s} uses [{offsets[s]}, {offsets[s] + size}))"
                )
        return codes

    def token_list(self) -> List[str]:
        """Names of the flat ids: ``<codec_layer{s}_code{c}>`` for id ``offset[s] + c``."""
        return [f"<codec_layer{s}_code{c}>" for s, size in enumerate(self.sizes) for c in range(size)]

    def write_token_list(self, path: Union[str, Path]) -> Path:
        path = Path(path)
        path.write_text("\n".join(self.token_list()) + "\n")
        return path
