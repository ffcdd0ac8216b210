"""The layout of a codec: what its tokens are, independent of how they are computed.

Both backends describe a codec by one :class:`Layout`: the torch codecs build theirs from
their configuration (``CodecInterface.layout``), the ONNX Runtime backend from the
export's ``codec.json``. Everything that depends only on the layout is written here once,
without torch: the frame formula, the streams a choice names, the nominal bitrate, and the
checks of tokens and side information.

Vocabulary:

- ``stream_sizes``: the codebook size of every stream the decoder decodes from, the
  transmitted ones first (P2PSynCodec: the plain VQ, then its N residual/pseudo VQs;
  SecoustiCodec: its one FSQ stream).
- ``transmitted_streams``: how many of them a ``.p2p`` file carries (a student: 1, a
  teacher: 1 + N, SecoustiCodec: 1). A codec whose decoder predicts the others is a
  *student* (:attr:`Layout.predicts_streams`).
- ``streams="transmitted"`` or ``"all"``: the two choices of token streams everywhere.
- *Side information*: a fixed number of small integer codes a file carries besides the
  tokens (SecoustiCodec's paralinguistic vector: ``side_info_bytes`` codes in
  ``[0, side_info_levels)``, one byte each). The models call it their paralinguistic
  vector; the container and every interface call it side information.
- *Nominal bitrate*: bits per second of the transmitted streams at
  ``max(1, ceil(log2 K))`` bits per token, what a fixed-width file (``.p2p`` versions 1
  and 2) spends on tokens. Entropy coding (version 3) spends less; ``p2p-codec info``
  shows both.
- :class:`Rates`: the bit rates of coded audio, each with one name and one formula
  (``nominal_bps``, ``payload_bps``, ``coded_bps``, ``file_bps``); every table and notice
  of the package reads them.
"""

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from espnet2_p2p.errors import TokenError
from espnet2_p2p.utils.checks import check_token_array, integer_array
from espnet2_p2p.utils.tokens import first_bad_token, frames_for

STREAM_CHOICES = ("transmitted", "all")
PLAIN = "plain"  # stream 0 alone (the token tools' former name)


def token_bits(codebook_size: int) -> int:
    """Bits per token of a codebook in a fixed-width file: ``max(1, ceil(log2 K))``."""
    return max(1, math.ceil(math.log2(codebook_size)))


@dataclass(frozen=True)
class Layout:
    """What a codec's tokens are (see the module docstring).

    Attributes:
        fs (int): Sampling rate of the audio it codes.
        hop_length (int): Samples per code frame.
        stream_sizes (tuple of int): Codebook size of every stream, transmitted first.
        transmitted_streams (int): How many streams a ``.p2p`` file carries.
        side_info_bytes (int): Side-information codes a file carries (0: none).
        side_info_levels (int): Values each side-information code can take.
        streaming (bool): The codec is causal: coding piece by piece equals coding the
            whole (the torch backend then codes long inputs exactly, as a stream).
    """

    fs: int
    hop_length: int
    stream_sizes: Tuple[int, ...]
    transmitted_streams: int
    side_info_bytes: int = 0
    side_info_levels: int = 0
    streaming: bool = False

    def __post_init__(self):
        sizes = tuple(int(k) for k in self.stream_sizes)
        object.__setattr__(self, "stream_sizes", sizes)
        problems = [
            (int(self.fs) > 0, f"sample rate {self.fs}"),
            (int(self.hop_length) > 0, f"hop {self.hop_length}"),
            (len(sizes) > 0 and min(sizes) >= 2, f"codebook sizes {list(sizes)}"),
            (
                1 <= int(self.transmitted_streams) <= len(sizes),
                f"{self.transmitted_streams} transmitted streams of {len(sizes)}",
            ),
            (int(self.side_info_bytes) >= 0, f"{self.side_info_bytes} side-information codes"),
            (
                self.side_info_bytes == 0 or 2 <= int(self.side_info_levels) <= 256,
                f"{self.side_info_levels} side-information levels",
            ),
        ]
        bad = [what for ok, what in problems if not ok]
        if bad:
            raise ValueError(f"not a codec layout: {', '.join(bad)}")

    # ------------------------------------------------------------ frames
    @property
    def frame_rate(self) -> float:
        return self.fs / self.hop_length

    def frames_for(self, num_samples: int) -> int:
        """Code frames of ``num_samples`` samples: ``ceil(T / hop)``, at least one."""
        return frames_for(num_samples, self.hop_length)

    # ----------------------------------------------------------- streams
    @property
    def predicts_streams(self) -> bool:
        """Whether the decoder predicts streams that are not transmitted (a student)."""
        return self.transmitted_streams < len(self.stream_sizes)

    def num_streams(self, streams: str) -> int:
        """Streams of a choice: "transmitted" or "all"."""
        check_streams(streams)
        return self.transmitted_streams if streams == "transmitted" else len(self.stream_sizes)

    @property
    def bits_per_frame(self) -> int:
        """Bits of one frame of the transmitted streams at fixed width."""
        return sum(token_bits(k) for k in self.stream_sizes[: self.transmitted_streams])

    @property
    def nominal_bitrate(self) -> float:
        """Bits per second of the transmitted streams at fixed width (module docstring)."""
        return self.bits_per_frame * self.frame_rate

    def frame_bitrate(self, bits: float, frames: int = 1) -> float:
        """Bits per second of whole frames: ``bits`` spent on ``frames`` frames."""
        return bits / frames * self.frame_rate

    # ------------------------------------------------------------ checks
    def check_codes(self, codes, name: str = "tokens", plain: bool = False) -> np.ndarray:
        """Tokens (streams, frames) a decoder of this layout takes, as int64: the
        transmitted streams, or all of a student's streams (tokens a language model
        generated), or with ``plain`` stream 0 alone; else :class:`TokenError` naming what
        is wrong (:func:`espnet2_p2p.utils.checks.check_token_array`)."""
        streams = (self.transmitted_streams, len(self.stream_sizes)) + ((1,) if plain else ())
        return check_token_array(codes, self.stream_sizes, name, streams)

    def check_side_info(self, side) -> Optional[np.ndarray]:
        """Side information (a file's bytes or integer codes) -> its codes (side_info_bytes,)
        as int64, or None for a layout without; :class:`TokenError` when it does not fit."""
        if self.side_info_bytes == 0:
            if side is not None and len(side):
                raise TokenError("this model takes no side information")
            return None
        if side is None:
            raise TokenError("this model decodes with side information (a file's paralinguistic codes)")
        codes = integer_array(list(side) if isinstance(side, (bytes, bytearray)) else side, "side information")
        if codes.shape != (self.side_info_bytes,) or first_bad_token(codes[None], [self.side_info_levels]):
            raise TokenError(f"side information must be {self.side_info_bytes} codes in [0, {self.side_info_levels})")
        return codes


def check_streams(streams: str, plain: bool = False) -> str:
    """``streams`` if it is "transmitted" or "all" (or, with ``plain``, "plain": stream 0
    alone, the token tools' former name), else a ValueError naming the choices."""
    choices = STREAM_CHOICES + ((PLAIN,) if plain else ())
    if streams not in choices:
        raise ValueError(f"streams must be {' or '.join(repr(c) for c in choices)}, got {streams!r}")
    return streams


@dataclass(frozen=True)
class Rates:
    """The bit rates of coded audio: one name and one formula for each, read by every table
    and notice (``p2p-codec info``, the recipes' decoding and entropy reports, the demo).
    Totals over several files add up (``a + b``; ``sum(rates, Rates())``).

    - ``nominal_bps``: the transmitted streams at fixed width, per second of whole frames
      (:attr:`Layout.nominal_bitrate` of the streams a file carries);
    - ``payload_bps``: the tokens at fixed width (``payload_bits``, without padding to a
      byte), per second of the audio's duration;
    - ``coded_bps``: the payload as the file stores it (``coded_bits``: entropy-coded, or
      packed to whole bytes), per second of the audio's duration;
    - ``file_bps``: whole files (container, side information, payload), per second of the
      audio's duration;
    - ``saving``: the share of the fixed-width payload that the stored one saves.
    """

    seconds: float = 0.0
    payload_bits: int = 0
    coded_bits: int = 0
    file_bits: int = 0
    nominal_bps: float = 0.0

    def __add__(self, other: "Rates") -> "Rates":
        return Rates(
            self.seconds + other.seconds,
            self.payload_bits + other.payload_bits,
            self.coded_bits + other.coded_bits,
            self.file_bits + other.file_bits,
            self.nominal_bps or other.nominal_bps,
        )

    def per_second(self, bits: float) -> float:
        """``bits`` per second of the audio's duration."""
        return bits / max(self.seconds, 1e-9)

    payload_bps = property(lambda self: self.per_second(self.payload_bits))
    coded_bps = property(lambda self: self.per_second(self.coded_bits))
    file_bps = property(lambda self: self.per_second(self.file_bits))
    saving = property(lambda self: 1 - self.coded_bits / self.payload_bits)
