"""The ``.p2p`` bitstream container.

A ``.p2p`` file carries the transmitted tokens of one waveform and what a decoder needs
to check it has the right model. All integers are little-endian.

=======  =====  ==========================================================================
offset   bytes  field
=======  =====  ==========================================================================
0        4      magic ``b"P2PC"``
4        1      format version: 1; 2 when side information follows the header; 3 when
                the payload is entropy-coded (with or without side information)
5        1      reserved, 0
6        2      header size in bytes (52 for versions 1 and 2, 60 for version 3)
8        4      sample rate (Hz) of the decoded audio
12       8      number of samples of the decoded audio
20       4      hop: samples per code frame (frame rate = sample rate / hop)
24       4      number of code frames, ``ceil(samples / hop)``
28       4      plain codebook size K
32       4      pseudo codebook size
36       1      N, the number of pseudo VQs of the model
37       1      transmitted streams S: 1 (plain, the 0.5 kbps student) or 1 + N (teacher)
38       2      side information size in bytes (version 2; 0 in version 1)
40       8      fingerprint of the model that wrote the file (:func:`espnet2_p2p.model_io.fingerprint`)
48       4      payload size in bytes
52       8      version 3 only: fingerprint of the prior that coded the payload
                (:meth:`espnet2_p2p.container.entropy.BigramPrior.fingerprint`)
52 / 60  ...    side information (versions 2 and 3): bytes the model needs once per
                file, e.g. SecoustiCodec's paralinguistic vector (one byte per dimension)
...      ...    payload, versions 1 and 2: tokens frame by frame (stream 0 .. S-1 within
                a frame), each packed MSB first at ``ceil(log2(K))`` bits (exactly
                ``log2 K`` for the power-of-two codebooks of the shipped configs),
                zero-padded to a byte. Version 3: the tokens of stream 0, then stream 1 ...
                range-coded with the model's bigram prior (:mod:`espnet2_p2p.container.entropy`),
                whole 32-bit little-endian words
end - 4  4      CRC-32 of all bytes before it
=======  =====  ==========================================================================

Version 3 is lossless: it decodes to the very tokens of version 2, so the audio is the
same bit for bit. A version-3 file can only be read with the prior that wrote it.

**Version 4** (the compact container, what the package writes) leaves out every field the
model implies (sample rate, hop, codebook sizes, N, side-information and payload sizes)
and names the model, with its prior when the payload is entropy-coded, by a 4-byte id:

=======  =====  ==========================================================================
offset   bytes  field
=======  =====  ==========================================================================
0        2      magic ``b"p4"``
2        1-8    LEB128 varint (canonical): ``samples << 2 | flags``; flag 1: the payload is
                entropy-coded; flag 2: the file carries all 1 + N streams (else stream 0)
...      4      model id: the first 4 bytes of SHA-256 of ``b"p2p-v4" +`` the model's
                8-byte fingerprint ``+`` the prior's (entropy-coded files only)
...      ...    side information (the model's ``side_info_bytes``), then the payload as in
                version 2 (packed) or 3 (entropy-coded, whole 32-bit words); its size is
                what the file's size leaves
end - 2  2      CRC-16/CCITT (``binascii.crc_hqx``, initial value 0xFFFF) of all bytes before it
=======  =====  ==========================================================================

A version-4 file costs 11 bytes of container for inputs of 0.26 to 32 s at 16 kHz (12 up
to 17 minutes, 13 up to 37 hours) against 56 (64 entropy-coded) for versions 1 to 3, and can only be read with its
model (:class:`ModelSpec`): a file of another model, or of another prior, is refused by
the id (a chance of 2**-32 of missing a wrong model); damage by the CRC-16 (2**-16 of
missing random damage; the token range checks and the range decoder's own checks stand
behind it).

So a version 1/2 file costs ``52 + 4`` bytes of container overhead plus at most 7 padding bits; the
payload of the student is exactly ``10 bits x frames`` (500 bit/s at 50 Hz). Side
information is part of what is sent and counted as such (not as container overhead).

:func:`loads` checks every field before it allocates anything that depends on them, and
raises :class:`~espnet2_p2p.errors.BitstreamError` naming what is wrong.
"""

import binascii
import dataclasses
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Tuple, Union

import numpy as np

from espnet2_p2p.container.entropy import MAX_CODED_TOKENS
from espnet2_p2p.errors import BitstreamError
from espnet2_p2p.layout import Layout, Rates, token_bits
from espnet2_p2p.utils.files import temp_path
from espnet2_p2p.utils.tokens import first_bad_token, frames_for

PathLike = Union[str, os.PathLike]

MAGIC = b"P2PC"
VERSION = 1
VERSION_SIDE_INFO = 2
VERSION_ENTROPY = 3
MAX_SIDE_INFO = (1 << 16) - 1
_HEADER = struct.Struct("<4sBBHIQIIIIBBH8sI")
HEADER_SIZE = _HEADER.size  # 52
HEADER_SIZE_V3 = HEADER_SIZE + 8  # + the prior's fingerprint
CRC_SIZE = 4
OVERHEAD_BYTES = HEADER_SIZE + CRC_SIZE

# Plausibility limits: anything outside them is a damaged or hostile header.
MAX_SAMPLE_RATE = 384_000
MAX_HOP = 1 << 20
MAX_CODEBOOK_SIZE = 1 << 24
MAX_PSEUDO = 64
MAX_FRAMES = (1 << 32) - 1
# constriction's range coder quantises probabilities to 24 bits: no token costs more
MAX_CODED_BITS_PER_TOKEN = 24

# version 4, the compact container
VERSION_COMPACT = 4
MAGIC_V4 = b"p4"
ID_SIZE = 4
CRC16_SIZE = 2
MAX_VARINT_BYTES = 8
_FLAG_ENTROPY, _FLAG_ALL_STREAMS = 1, 2


def check_stream_sizes(stream_sizes: Sequence[int]) -> Tuple[int, ...]:
    """The codebook sizes of a model whose files this container can hold (the plain one,
    then N pseudo ones that share one size: a header has one field for them), else a
    :class:`BitstreamError` naming them (a model of codebooks (1024, 512, 256) would be
    written as (1024, 256, 256), at the wrong bit rate and token range)."""
    sizes = tuple(int(k) for k in stream_sizes)
    if not sizes or len(set(sizes[1:])) > 1:
        raise BitstreamError(
            f"codebook sizes {list(sizes)}: a .p2p file holds a plain codebook and pseudo codebooks"
            " of one size; this layout has none or several"
        )
    return sizes


def model_id(fingerprint: bytes, prior_fingerprint: bytes = b"") -> bytes:
    """The id of a model (8-byte fingerprint) and, for an entropy-coded file, its prior."""
    return hashlib.sha256(b"p2p-v4" + bytes(fingerprint) + bytes(prior_fingerprint)).digest()[:ID_SIZE]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not out[-1] & 0x80:
            return bytes(out)


def _read_varint(data: bytes, start: int) -> Tuple[int, int]:
    """(value, bytes used) of the canonical LEB128 varint at ``data[start:]``."""
    value = 0
    for i in range(MAX_VARINT_BYTES):
        if start + i >= len(data):
            raise BitstreamError("truncated: the header's length field is cut off")
        byte = data[start + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if i and not byte:
                raise BitstreamError("damaged header: a length field with a needless zero byte")
            return value, i + 1
    raise BitstreamError(f"damaged header: a length field of more than {MAX_VARINT_BYTES} bytes")


def _of_layout(name: str) -> property:
    """A read-only attribute of the holder's ``layout`` (``P2PHeader``, ``ModelSpec``)."""
    return property(lambda self: getattr(self.layout, name), doc=f"``layout.{name}``")


def _side_levels(side_info_bytes: int, levels: int = 256) -> int:
    """The side-information levels of a layout of ``side_info_bytes`` codes: ``levels``, by
    default a byte each (a file does not record its model's own range; the model checks
    it), 0 for none."""
    return min(int(side_info_bytes), 1) * levels


@dataclass(frozen=True, init=False)
class ModelSpec:
    """What a version-4 file leaves out because its model implies it: the reading model's
    :class:`~espnet2_p2p.layout.Layout` and fingerprint (:meth:`of`). Also built from the
    numbers alone, ``ModelSpec(sample_rate, hop_length, stream_sizes, side_info_bytes,
    fingerprint[, prior_fingerprint])``; ``sample_rate`` ... ``side_info_bytes`` read the layout."""

    layout: Layout
    fingerprint: bytes
    prior_fingerprint: bytes = b""  # the model's prior, when only its fingerprint is at hand

    def __init__(
        self,
        sample_rate: int = None,
        hop_length: int = None,
        stream_sizes: Sequence[int] = None,
        side_info_bytes: int = None,
        fingerprint: bytes = b"",
        prior_fingerprint: bytes = b"",
        layout: Layout = None,
    ):
        given = dict(
            fs=sample_rate,
            hop_length=hop_length,
            side_info_bytes=side_info_bytes,
            stream_sizes=None if stream_sizes is None else tuple(int(k) for k in stream_sizes),
        )
        given = {k: v for k, v in given.items() if v is not None}
        if layout is None:
            sides = int(given.get("side_info_bytes", 0))
            layout = Layout(transmitted_streams=1, side_info_levels=_side_levels(sides), **given)
        elif given:  # dataclasses.replace(spec, stream_sizes=...): the layout with that changed
            sides = given.get("side_info_bytes", layout.side_info_bytes)
            given["side_info_levels"] = _side_levels(sides, layout.side_info_levels or 256)
            if "stream_sizes" in given:
                given["transmitted_streams"] = min(layout.transmitted_streams, len(given["stream_sizes"]))
            layout = dataclasses.replace(layout, **given)
        object.__setattr__(self, "layout", layout)
        object.__setattr__(self, "fingerprint", bytes(fingerprint))
        object.__setattr__(self, "prior_fingerprint", bytes(prior_fingerprint))

    @classmethod
    def of(cls, layout, fingerprint: bytes, prior_fingerprint: bytes = b"") -> "ModelSpec":
        return cls(layout=layout, fingerprint=fingerprint, prior_fingerprint=prior_fingerprint)

    sample_rate = _of_layout("fs")
    hop_length = _of_layout("hop_length")
    stream_sizes = _of_layout("stream_sizes")
    side_info_bytes = _of_layout("side_info_bytes")

    def id(self, prior=None) -> bytes:
        """The model's id; with ``prior`` (or the recorded prior fingerprint), an
        entropy-coded file's."""
        return model_id(self.fingerprint, prior.fingerprint() if prior is not None else self.prior_fingerprint)


def _plausible_layout(
    sample_rate, hop_length, codebook_size, pseudo_codebook_size, num_pseudo, num_streams, side_info_bytes
) -> None:
    """Raise :class:`BitstreamError` unless a header's layout fields are plausible."""
    checks = [
        (1 <= sample_rate <= MAX_SAMPLE_RATE, f"sample rate {sample_rate} Hz"),
        (1 <= hop_length <= MAX_HOP, f"hop of {hop_length} samples"),
        (2 <= codebook_size <= MAX_CODEBOOK_SIZE, f"codebook size {codebook_size}"),
        (2 <= pseudo_codebook_size <= MAX_CODEBOOK_SIZE, f"pseudo codebook size {pseudo_codebook_size}"),
        (0 <= num_pseudo <= MAX_PSEUDO, f"{num_pseudo} pseudo VQs"),
        (num_streams in (1, 1 + num_pseudo), f"{num_streams} streams (1 or 1 + N = {1 + num_pseudo} are valid)"),
        (side_info_bytes <= MAX_SIDE_INFO, f"{side_info_bytes} bytes of side information"),
    ]
    for ok, what in checks:
        if not ok:
            raise BitstreamError(f"implausible header: {what}")


@dataclass(frozen=True, init=False)
class P2PHeader:
    """The header of a ``.p2p`` file (see the module docstring): the file's
    :class:`~espnet2_p2p.layout.Layout` (its model's rate, hop and stream sizes; the streams
    the file carries as ``transmitted_streams``; its side-information bytes, a byte each,
    as ``side_info_bytes``), the samples, the model's fingerprint and what the payload is.

    Built from a layout (``P2PHeader(layout=..., num_samples=..., fingerprint=...)``) or from
    a version 1-3 header's fields (``sample_rate``, ``hop_length``, ``codebook_size``,
    ``pseudo_codebook_size``, ``num_pseudo``, ``num_streams``), which read the layout; the
    format on disk is the module docstring's either way."""

    layout: Layout
    num_samples: int
    fingerprint: bytes
    side_info: bytes = b""
    prior_fingerprint: bytes = b""  # versions 3 and 4: the prior that coded the payload
    coded_bytes: int = 0  # versions 3 and 4: bytes of the entropy-coded payload
    compact: bool = False  # version 4

    def __init__(
        self,
        sample_rate: int = None,
        num_samples: int = 0,
        hop_length: int = None,
        codebook_size: int = None,
        pseudo_codebook_size: int = None,
        num_pseudo: int = None,
        num_streams: int = None,
        fingerprint: bytes = b"",
        side_info: bytes = b"",
        prior_fingerprint: bytes = b"",
        coded_bytes: int = 0,
        compact: bool = False,
        layout: Layout = None,
    ):
        side_info = bytes(side_info)
        if layout is not None:  # a layout, with any field given beside it changed
            sizes = check_stream_sizes(layout.stream_sizes)
            sample_rate = layout.fs if sample_rate is None else sample_rate
            hop_length = layout.hop_length if hop_length is None else hop_length
            codebook_size = sizes[0] if codebook_size is None else codebook_size
            pseudo_codebook_size = sizes[-1] if pseudo_codebook_size is None else pseudo_codebook_size
            num_pseudo = len(sizes) - 1 if num_pseudo is None else num_pseudo
            num_streams = layout.transmitted_streams if num_streams is None else num_streams
        fields = [
            int(v) for v in (sample_rate, hop_length, codebook_size, pseudo_codebook_size, num_pseudo, num_streams)
        ]
        _plausible_layout(*fields, len(side_info))
        sample_rate, hop_length, codebook_size, pseudo_codebook_size, num_pseudo, num_streams = fields
        layout = Layout(
            fs=sample_rate,
            hop_length=hop_length,
            stream_sizes=(codebook_size,) + (pseudo_codebook_size,) * num_pseudo,
            transmitted_streams=num_streams,
            side_info_bytes=len(side_info),
            side_info_levels=_side_levels(len(side_info)),
        )
        for name, value in (
            ("layout", layout),
            ("num_samples", int(num_samples)),
            ("fingerprint", bytes(fingerprint)),
            ("side_info", side_info),
            ("prior_fingerprint", bytes(prior_fingerprint)),
            ("coded_bytes", int(coded_bytes)),
            ("compact", bool(compact)),
        ):
            object.__setattr__(self, name, value)

    # the fields of a version 1-3 header, read from the layout
    sample_rate = _of_layout("fs")
    hop_length = _of_layout("hop_length")
    num_streams = _of_layout("transmitted_streams")
    frame_rate = _of_layout("frame_rate")
    bits_per_frame = _of_layout("bits_per_frame")
    codebook_size = property(lambda self: self.layout.stream_sizes[0])
    pseudo_codebook_size = property(lambda self: self.layout.stream_sizes[-1])
    num_pseudo = property(lambda self: len(self.layout.stream_sizes) - 1)
    num_frames = property(lambda self: self.layout.frames_for(self.num_samples))
    duration = property(lambda self: self.num_samples / self.sample_rate, doc="Seconds of decoded audio.")
    stream_sizes = property(
        lambda self: self.layout.stream_sizes[: self.num_streams], doc="Codebook sizes of the streams the file carries."
    )

    @property
    def payload_bits(self) -> int:
        """Bits of tokens (without the padding to a whole byte)."""
        return self.bits_per_frame * self.num_frames

    @property
    def payload_bytes(self) -> int:
        return -(-self.payload_bits // 8)

    @property
    def payload_bitrate(self) -> float:
        """Token bits per second of whole frames (the layout's nominal bitrate)."""
        return self.layout.nominal_bitrate

    @property
    def entropy_coded(self) -> bool:
        return bool(self.prior_fingerprint)

    @property
    def version(self) -> int:
        if self.compact:
            return VERSION_COMPACT
        if self.entropy_coded:
            return VERSION_ENTROPY
        return VERSION_SIDE_INFO if self.side_info else VERSION

    @property
    def header_size(self) -> int:
        """Bytes before the side information (magic to model id in version 4)."""
        if self.compact:
            return len(MAGIC_V4) + len(_varint(self._v4_word)) + ID_SIZE
        return HEADER_SIZE_V3 if self.entropy_coded else HEADER_SIZE

    @property
    def crc_size(self) -> int:
        return CRC16_SIZE if self.compact else CRC_SIZE

    @property
    def overhead_bytes(self) -> int:
        """Bytes of container: the file less its side information and payload."""
        return self.header_size + self.crc_size

    @property
    def _v4_word(self) -> int:
        flags = (_FLAG_ENTROPY if self.entropy_coded else 0) | (_FLAG_ALL_STREAMS if self.num_streams > 1 else 0)
        return self.num_samples << 2 | flags

    @property
    def model_id(self) -> bytes:
        """The 4 bytes a version-4 file names its model (and prior) by."""
        return model_id(self.fingerprint, self.prior_fingerprint)

    @property
    def stored_payload_bytes(self) -> int:
        """Bytes the payload takes in the file (entropy-coded or packed)."""
        return self.coded_bytes if self.entropy_coded else self.payload_bytes

    @property
    def max_coded_bytes(self) -> int:
        """The largest entropy-coded payload these tokens can have."""
        bits = MAX_CODED_BITS_PER_TOKEN * self.num_streams * self.num_frames + 64
        return 4 * (-(-bits // 32) + 2)

    @property
    def coded_bitrate(self) -> float:
        """Payload bits per second of the audio's duration, as stored (:attr:`Rates.coded_bps`)."""
        return self.rates().coded_bps

    @property
    def file_size(self) -> int:
        return self.overhead_bytes + len(self.side_info) + self.stored_payload_bytes

    def rates(self) -> Rates:
        """The file's :class:`~espnet2_p2p.layout.Rates`."""
        return Rates(
            seconds=self.duration,
            payload_bits=self.payload_bits,
            coded_bits=8 * self.stored_payload_bytes,
            file_bits=8 * self.file_size,
            nominal_bps=self.payload_bitrate,
        )

    @classmethod
    def for_streams(
        cls,
        sample_rate: int,
        hop_length: int,
        stream_sizes: Sequence[int],
        num_streams: int,
        num_samples: int,
        fingerprint: bytes,
        side_info: bytes = b"",
    ) -> "P2PHeader":
        """The header of a file transmitting the first ``num_streams`` of a codec's streams
        of codebook sizes ``stream_sizes`` (plain first; the residual/pseudo ones share one
        size), for ``num_samples`` samples, with optional side information."""
        sizes = check_stream_sizes(stream_sizes)
        if int(num_streams) not in (1, len(sizes)):
            raise BitstreamError(
                f"{num_streams} streams: a .p2p file carries stream 0 alone or all {len(sizes)} streams of this model"
            )
        return cls(
            sample_rate=int(sample_rate),
            num_samples=int(num_samples),
            hop_length=int(hop_length),
            codebook_size=sizes[0],
            pseudo_codebook_size=sizes[-1],
            num_pseudo=len(sizes) - 1,
            num_streams=int(num_streams),
            fingerprint=fingerprint,
            side_info=bytes(side_info),
        )

    def check_compatible(
        self,
        sample_rate: int,
        hop_length: int,
        stream_sizes: Sequence[int],
        side_info_bytes: int,
        fingerprint: bytes,
        path: PathLike = "<bytes>",
    ) -> None:
        """Refuse (:class:`BitstreamError`, naming ``path``) to decode this file with a model
        of another layout or other weights than the one that wrote it."""
        expected = {
            "sample rate": (self.sample_rate, int(sample_rate)),
            "hop": (self.hop_length, int(hop_length)),
            "codebook size": (self.codebook_size, int(stream_sizes[0])),
            "pseudo VQs": (self.num_pseudo, len(stream_sizes) - 1),
            "bytes of side information": (len(self.side_info), int(side_info_bytes)),
        }
        for what, (got, want) in expected.items():
            if got != want:
                raise BitstreamError(f"{path}: written with {what} {got}, this model has {want}")
        if self.fingerprint != fingerprint:
            raise BitstreamError(
                f"{path}: written by model {self.fingerprint.hex()}, this model is {fingerprint.hex()};"
                " decode with the model that encoded it"
            )

    def validate(self) -> None:
        """Raise :class:`BitstreamError` unless every field is plausible."""
        # the layout's fields were checked when the header was made (_plausible_layout)
        checks = [
            (1 <= self.num_samples, f"{self.num_samples} samples"),
            (len(self.fingerprint) == 8, f"a fingerprint of {len(self.fingerprint)} bytes"),
            (len(self.prior_fingerprint) in (0, 8), f"a prior fingerprint of {len(self.prior_fingerprint)} bytes"),
        ]
        for ok, what in checks:
            if not ok:
                raise BitstreamError(f"implausible header: {what}")
        if frames_for(self.num_samples, self.hop_length) > MAX_FRAMES:
            raise BitstreamError(f"implausible header: {self.num_samples} samples")
        if self.entropy_coded and self.num_streams * self.num_frames > MAX_CODED_TOKENS:
            raise BitstreamError(
                f"implausible header: an entropy-coded payload of {self.num_streams} x {self.num_frames} tokens,"
                f" more than the {MAX_CODED_TOKENS} one may hold"
            )
        if self.entropy_coded and (self.coded_bytes % 4 or not 4 <= self.coded_bytes <= self.max_coded_bytes):
            raise BitstreamError(
                f"implausible header: an entropy-coded payload of {self.coded_bytes} bytes for"
                f" {self.num_streams} x {self.num_frames} tokens (whole 32-bit words, at most {self.max_coded_bytes})"
            )


_BLOCK_FRAMES = 1 << 15  # frames (un)packed at a time: memory stays near the tokens' size


def pack_tokens(codes: np.ndarray, sizes) -> bytes:
    """Tokens (S, frames) -> bytes, frame-major, ``token_bits(sizes[s])`` bits each."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] != len(sizes):
        raise BitstreamError(f"tokens must be ({len(sizes)}, frames), got shape {codes.shape}")
    bad = first_bad_token(codes, sizes)
    if bad:
        raise BitstreamError(
            f"stream {bad.stream} has tokens outside [0, {sizes[bad.stream]}): min {bad.low}, max {bad.high}"
        )
    widths = [token_bits(k) for k in sizes]
    frame_bits, num_frames = sum(widths), codes.shape[1]
    out = bytearray()
    block = _BLOCK_FRAMES  # a multiple of 8 frames ends on a byte: blocks concatenate
    for f0 in range(0, max(num_frames, 1), block):
        f1 = min(num_frames, f0 + block)
        bits = np.empty((f1 - f0, frame_bits), dtype=np.uint8)
        start = 0
        for s, n in enumerate(widths):
            shifts = np.arange(n - 1, -1, -1, dtype=np.int64)
            bits[:, start : start + n] = (codes[s, f0:f1].astype(np.int64)[:, None] >> shifts) & 1
            start += n
        out += np.packbits(bits.reshape(-1)).tobytes()  # frame-major
    return bytes(out)


def unpack_tokens(payload: bytes, sizes, num_frames: int) -> np.ndarray:
    """Inverse of :func:`pack_tokens`: bytes -> tokens (S, frames) int64.

    Bits are expanded a block of frames at a time (as uint8), so reading costs the
    output array plus a bounded buffer, not a machine word per bit.
    """
    widths = [token_bits(k) for k in sizes]
    frame_bits = sum(widths)
    needed = frame_bits * num_frames
    if len(payload) * 8 < needed:
        raise BitstreamError(f"payload holds {len(payload) * 8} bits, {needed} are needed")
    data = np.frombuffer(payload, dtype=np.uint8)
    codes = np.empty((len(sizes), num_frames), dtype=np.int64)
    weights = [(1 << np.arange(n - 1, -1, -1, dtype=np.int64)) for n in widths]
    block = max(8, _BLOCK_FRAMES - _BLOCK_FRAMES % 8)  # a multiple of 8 frames starts on a byte
    for f0 in range(0, num_frames, block):
        f1 = min(num_frames, f0 + block)
        b0, b1 = f0 * frame_bits, f1 * frame_bits
        bits = np.unpackbits(data[b0 // 8 : -(-b1 // 8)])[: b1 - b0].reshape(f1 - f0, frame_bits)
        start = 0
        for s, n in enumerate(widths):
            codes[s, f0:f1] = bits[:, start : start + n] @ weights[s]
            start += n
    for s in range(len(sizes)):
        if num_frames and codes[s].max() >= sizes[s]:
            raise BitstreamError(f"stream {s} holds token {codes[s].max()}, the codebook has {sizes[s]} entries")
    return codes


def check_prior(header: P2PHeader, prior) -> None:
    """Refuse a prior that is not the one a version-3 header names, or that codes other
    streams than the header's."""
    if prior is None:
        raise BitstreamError(
            f"entropy-coded (format {header.version}) with prior {header.prior_fingerprint.hex()};"
            " decoding needs the model that has that prior"
        )
    if prior.fingerprint() != header.prior_fingerprint:
        raise BitstreamError(
            f"entropy-coded with prior {header.prior_fingerprint.hex()}, this model's prior is"
            f" {prior.fingerprint().hex()}; decode with the model that encoded it"
        )
    if list(prior.sizes) != list(header.stream_sizes):
        raise BitstreamError(
            f"the prior codes streams of sizes {prior.sizes}, the file has {list(header.stream_sizes)}"
        )


def dumps(header: P2PHeader, codes: np.ndarray, prior=None, compact: bool = False) -> bytes:
    """Header and tokens (S, frames) -> the bytes of a ``.p2p`` file; with ``prior`` (a
    :class:`~espnet2_p2p.container.entropy.BigramPrior` of these streams) entropy-coded. Version 4
    with ``compact`` (what the package writes), else version 1, 2 or 3."""
    codes = np.asarray(codes)
    header = dataclasses.replace(header, compact=bool(compact))
    if prior is not None:
        header = dataclasses.replace(header, prior_fingerprint=prior.fingerprint(), coded_bytes=4)
    header.validate()
    if codes.shape != (header.num_streams, header.num_frames):
        raise BitstreamError(
            f"tokens of shape {codes.shape} do not fit the header"
            f" ({header.num_streams} streams x {header.num_frames} frames)"
        )
    if prior is None:
        payload = pack_tokens(codes, header.stream_sizes)
    else:
        check_prior(header, prior)
        try:
            payload = prior.encode(codes)
        except ValueError as e:
            raise BitstreamError(str(e)) from None
        header = dataclasses.replace(header, coded_bytes=len(payload))
        header.validate()
    if header.compact:
        body = MAGIC_V4 + _varint(header._v4_word) + header.model_id + header.side_info + payload
        return body + struct.pack("<H", binascii.crc_hqx(body, 0xFFFF))
    head = _HEADER.pack(
        MAGIC,
        header.version,
        0,
        header.header_size,
        header.sample_rate,
        header.num_samples,
        header.hop_length,
        header.num_frames,
        header.codebook_size,
        header.pseudo_codebook_size,
        header.num_pseudo,
        header.num_streams,
        len(header.side_info),
        header.fingerprint,
        len(payload),
    )
    body = head + header.prior_fingerprint + header.side_info + payload
    return body + struct.pack("<I", zlib.crc32(body))


def parse_header(data: bytes, total_size: int) -> P2PHeader:
    """Check the header (the first 52 bytes, 60 for version 3) of a file of ``total_size``
    bytes; return it."""
    if total_size == 0:
        raise BitstreamError("empty file: a .p2p file has at least 56 bytes")
    if len(data) < 4 or data[:4] != MAGIC:
        raise BitstreamError(f"not a .p2p file: magic bytes {bytes(data[:4])!r}, expected {MAGIC_V4!r} or {MAGIC!r}")
    if total_size < OVERHEAD_BYTES or len(data) < HEADER_SIZE:
        raise BitstreamError(f"truncated: {total_size} bytes, a .p2p file has at least {OVERHEAD_BYTES}")
    (
        _,
        version,
        reserved1,
        header_size,
        sample_rate,
        num_samples,
        hop_length,
        num_frames,
        codebook_size,
        pseudo_codebook_size,
        num_pseudo,
        num_streams,
        side_size,
        fingerprint,
        payload_size,
    ) = _HEADER.unpack(bytes(data[:HEADER_SIZE]))
    if version not in (VERSION, VERSION_SIDE_INFO, VERSION_ENTROPY):
        raise BitstreamError(
            f"format version {version} is not supported (this reader knows {VERSION} to {VERSION_ENTROPY})"
        )
    want_size = HEADER_SIZE_V3 if version == VERSION_ENTROPY else HEADER_SIZE
    if header_size != want_size:
        raise BitstreamError(f"header size {header_size}, version {version} has {want_size}")
    if len(data) < want_size or total_size < want_size + CRC_SIZE:
        raise BitstreamError(
            f"truncated: {total_size} bytes, a version {version} file has at least {want_size + CRC_SIZE}"
        )
    if reserved1:
        raise BitstreamError("reserved header fields are not zero")
    if version != VERSION_ENTROPY and (version == VERSION) != (side_size == 0):
        raise BitstreamError(
            f"version {version} with {side_size} bytes of side information"
            f" (version {VERSION} has none, version {VERSION_SIDE_INFO} some)"
        )
    if total_size < want_size + CRC_SIZE + side_size:
        raise BitstreamError(f"truncated: {total_size} bytes, the side information alone needs {side_size}")
    entropy = version == VERSION_ENTROPY
    header = P2PHeader(
        sample_rate=sample_rate,
        num_samples=num_samples,
        hop_length=hop_length,
        codebook_size=codebook_size,
        pseudo_codebook_size=pseudo_codebook_size,
        num_pseudo=num_pseudo,
        num_streams=num_streams,
        fingerprint=fingerprint,
        side_info=b"\0" * side_size,  # placeholder until the bytes are read
        prior_fingerprint=bytes(data[HEADER_SIZE:HEADER_SIZE_V3]) if entropy else b"",
        coded_bytes=payload_size if entropy else 0,
    )
    header.validate()
    if num_frames != header.num_frames:
        raise BitstreamError(
            f"header says {num_frames} frames; {num_samples} samples at a hop of {hop_length} make {header.num_frames}"
        )
    if not entropy and payload_size != header.payload_bytes:
        raise BitstreamError(
            f"header says {payload_size} payload bytes; {header.num_frames} frames of"
            f" {header.bits_per_frame} bits need {header.payload_bytes}"
        )
    if total_size != header.file_size:
        state = "truncated" if total_size < header.file_size else "trailing bytes"
        raise BitstreamError(f"{state}: {total_size} bytes, the header describes {header.file_size}")
    return header


def parse_compact(data: bytes, total_size: int, spec: ModelSpec = None, prior=None) -> P2PHeader:
    """Check the header of a version-4 file of ``total_size`` bytes (``data``: at least its
    first bytes) against the reading model ``spec`` (and ``prior``); return it."""
    least = len(MAGIC_V4) + 1 + ID_SIZE + CRC16_SIZE
    if total_size < least:
        raise BitstreamError(f"truncated: {total_size} bytes, a version 4 file has at least {least}")
    word, used = _read_varint(data, len(MAGIC_V4))
    pos = len(MAGIC_V4) + used
    if len(data) < pos + ID_SIZE or total_size < pos + ID_SIZE + CRC16_SIZE:
        raise BitstreamError(f"truncated: {total_size} bytes end inside the header")
    written_id = bytes(data[pos : pos + ID_SIZE])
    if spec is None:
        raise BitstreamError(
            f"a version 4 file names its model by id {written_id.hex()}; reading it needs that model (--model)"
        )
    entropy, all_streams = bool(word & _FLAG_ENTROPY), bool(word & _FLAG_ALL_STREAMS)
    prior_fingerprint = prior.fingerprint() if prior is not None else spec.prior_fingerprint
    if entropy and not prior_fingerprint:
        raise BitstreamError(
            f"entropy-coded by model {written_id.hex()}; this model ({spec.id().hex()}) has no prior:"
            " decode with the model that encoded it, which has"
        )
    want_id = model_id(spec.fingerprint, prior_fingerprint if entropy else b"")
    if written_id != want_id:
        raise BitstreamError(
            f"written by model {written_id.hex()}, this model{' with its prior' if entropy else ''} is"
            f" {want_id.hex()}; decode with the model that encoded it"
        )
    sizes = check_stream_sizes(spec.stream_sizes)
    if all_streams and len(sizes) == 1:
        raise BitstreamError("damaged header: all streams of a model that has one")
    stored = total_size - pos - ID_SIZE - CRC16_SIZE - spec.side_info_bytes
    if stored < 0:
        raise BitstreamError(f"truncated: {total_size} bytes, the side information alone needs {spec.side_info_bytes}")
    placeholder = bytes(spec.side_info_bytes)  # until the bytes are read
    header = P2PHeader(
        layout=spec.layout,
        num_samples=word >> 2,
        num_streams=len(sizes) if all_streams else 1,
        fingerprint=spec.fingerprint,
        side_info=placeholder,
        prior_fingerprint=prior_fingerprint if entropy else b"",
        coded_bytes=stored if entropy else 0,
        compact=True,
    )
    header.validate()
    if total_size != header.file_size:
        state = "truncated" if total_size < header.file_size else "trailing bytes"
        raise BitstreamError(f"{state}: {total_size} bytes, the header describes {header.file_size}")
    if entropy and prior is not None:
        check_prior(header, prior)
    return header


def _parse(data: bytes, total_size: int, spec: ModelSpec = None, prior=None) -> P2PHeader:
    if bytes(data[: len(MAGIC_V4)]) == MAGIC_V4:
        return parse_compact(data, total_size, spec, prior)
    return parse_header(data, total_size)


def _checked(data: bytes, spec: ModelSpec = None, prior=None) -> P2PHeader:
    """The header of a whole file's bytes, CRC and side information checked."""
    header = _parse(data, len(data), spec, prior)
    if header.compact:
        ok = struct.unpack("<H", data[-CRC16_SIZE:])[0] == binascii.crc_hqx(data[:-CRC16_SIZE], 0xFFFF)
    else:
        ok = struct.unpack("<I", data[-CRC_SIZE:])[0] == zlib.crc32(data[:-CRC_SIZE])
    if not ok:
        raise BitstreamError("CRC mismatch: the file is damaged")
    start = header.header_size
    return dataclasses.replace(header, side_info=data[start : start + len(header.side_info)])


def loads(data: bytes, prior=None, spec: ModelSpec = None) -> Tuple[P2PHeader, np.ndarray]:
    """The bytes of a ``.p2p`` file -> (header, tokens (S, frames) int64). An entropy-coded
    file needs ``prior``, the one that coded it (:func:`check_prior`); a version-4 file the
    reading model's ``spec`` (which it is checked against)."""
    data = bytes(data)
    header = _checked(data, spec, prior)
    payload = data[header.header_size + len(header.side_info) : len(data) - header.crc_size]
    if not header.entropy_coded:
        return header, unpack_tokens(payload, header.stream_sizes, header.num_frames)
    check_prior(header, prior)
    return header, prior.decode(payload, header.num_frames)


def write(path: PathLike, header: P2PHeader, codes: np.ndarray, prior=None, compact: bool = True) -> int:
    """Write a ``.p2p`` file atomically (a temporary file renamed); returns its size.
    With ``prior`` the tokens are entropy-coded; version 4 unless not ``compact``."""
    data = dumps(header, codes, prior, compact)
    path = Path(path)
    tmp = temp_path(path)
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(data)


def is_compact(path: PathLike) -> bool:
    """Whether a file starts as a version-4 ``.p2p`` file does (False if unreadable)."""
    try:
        with Path(path).open("rb") as f:
            return f.read(len(MAGIC_V4)) == MAGIC_V4
    except OSError:
        return False


def _read_bytes(path: Path, spec: ModelSpec = None, prior=None) -> bytes:
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(HEADER_SIZE_V3)
        _parse(head, size, spec, prior)  # checks the size before the payload is read
        return head + f.read()


def read(path: PathLike, prior=None, spec: ModelSpec = None) -> Tuple[P2PHeader, np.ndarray]:
    """Read and check a ``.p2p`` file (an entropy-coded one with the ``prior`` that coded
    it, a version-4 one with its model's ``spec``); errors name the file."""
    path = Path(path)
    try:
        return loads(_read_bytes(path, spec, prior), prior, spec)
    except BitstreamError as e:
        raise BitstreamError(f"{path}: {e}") from None
    except OSError as e:
        raise BitstreamError(f"{path}: cannot read: {e.strerror or e}") from None


def read_header(path: PathLike, spec: ModelSpec = None, prior=None) -> P2PHeader:
    """Read and check a ``.p2p`` file's header, side information and CRC, without decoding
    its tokens (a version-4 file needs its model's ``spec``, and ``prior`` if entropy-coded)."""
    path = Path(path)
    try:
        return _checked(_read_bytes(path, spec, prior), spec, prior)
    except BitstreamError as e:
        raise BitstreamError(f"{path}: {e}") from None
    except OSError as e:
        raise BitstreamError(f"{path}: cannot read: {e.strerror or e}") from None


@dataclass(frozen=True)
class P2PFile:
    """One ``.p2p`` file: its header (which names the model, the streams and the side
    information) and its tokens (streams, frames). Every reader and writer of ``.p2p``
    files in the package goes through it."""

    header: P2PHeader
    codes: np.ndarray

    @property
    def side_info(self) -> bytes:
        return self.header.side_info

    def __iter__(self):  # header, codes = P2PFile.read(...)
        return iter((self.header, self.codes))

    @classmethod
    def of(cls, layout, codes: np.ndarray, num_samples: int, fingerprint: bytes, side_info: bytes = b"") -> "P2PFile":
        """The file of a codec's tokens: ``layout`` is its :class:`~espnet2_p2p.layout.Layout`,
        ``codes`` its transmitted streams (or fewer: a teacher's first levels)."""
        header = P2PHeader.for_streams(
            layout.fs, layout.hop_length, layout.stream_sizes, codes.shape[0], num_samples, fingerprint, side_info
        )
        return cls(header, np.asarray(codes))

    @classmethod
    def read(cls, path: PathLike, prior=None, layout=None, fingerprint: bytes = None) -> "P2PFile":
        """Read and check a file; with ``layout`` and ``fingerprint`` (a coder's), refuse
        first, from the header alone, a file that another model wrote (a version-4 file
        can only be read so)."""
        spec = ModelSpec.of(layout, fingerprint) if layout is not None else None
        if spec is not None:
            if Path(path).is_file() and not is_compact(path):
                read_header(path).check_compatible(
                    layout.fs, layout.hop_length, layout.stream_sizes, layout.side_info_bytes, fingerprint, path
                )
        return cls(*read(path, prior, spec))

    def write(self, path: PathLike, prior=None, compact: bool = True) -> int:
        """Write atomically (entropy-coded with ``prior``; version 4 unless not ``compact``);
        returns the file's size."""
        return write(path, self.header, self.codes, prior, compact)
