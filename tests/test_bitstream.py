"""The .p2p container: exact payload, every field checked, and fuzzing."""

import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from espnet2_p2p.container import bitstream
from espnet2_p2p.container.bitstream import OVERHEAD_BYTES, P2PHeader, dumps, loads
from espnet2_p2p.errors import BitstreamError


def make_header(num_samples=16000, num_streams=1, codebook_size=1024, pseudo=1024, **kw):
    fields = dict(
        sample_rate=16000,
        num_samples=num_samples,
        hop_length=320,
        codebook_size=codebook_size,
        pseudo_codebook_size=pseudo,
        num_pseudo=3,
        num_streams=num_streams,
        fingerprint=bytes(range(8)),
    )
    fields.update(kw)
    return P2PHeader(**fields)


def random_codes(header, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, k, header.num_frames) for k in header.stream_sizes])


VALID = dumps(make_header(), random_codes(make_header()))


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(num_samples=1),
        dict(num_samples=16001),
        dict(num_streams=4),
        dict(num_streams=4, pseudo=64),
        dict(codebook_size=1000, num_streams=4, pseudo=3),  # not powers of two
        dict(num_samples=3 * 3600 * 16000),  # three hours
    ],
)
def test_round_trip_and_size(kw):
    header = make_header(**kw)
    codes = random_codes(header, seed=len(kw))
    data = dumps(header, codes)
    assert len(data) == OVERHEAD_BYTES + -(-header.payload_bits // 8)
    back, decoded = loads(data)
    assert back == header
    np.testing.assert_array_equal(decoded, codes)


def test_student_payload_is_exactly_500_bits_per_second():
    # 7 s of whole 320-sample frames: 350 frames x 10 bits
    header = make_header(num_samples=7 * 16000)
    assert header.payload_bits == 3500
    assert header.payload_bits / header.duration == 500.0
    assert header.payload_bitrate == 500.0
    assert len(dumps(header, random_codes(header))) == OVERHEAD_BYTES + 3500 // 8 + 1


def test_file_is_written_atomically_and_read_back(tmp_path):
    header = make_header()
    codes = random_codes(header)
    path = tmp_path / "a.p2p"
    size = bitstream.write(path, header, codes, compact=False)  # versions 1-3 here; 4: test_bitstream_v4.py
    assert size == path.stat().st_size and list(tmp_path.iterdir()) == [path]
    back, decoded = bitstream.read(path)
    assert back == header and np.array_equal(decoded, codes)


def _patch(data: bytes, offset: int, fmt: str, value) -> bytes:
    data = bytearray(data)
    struct.pack_into(fmt, data, offset, value)
    body = bytes(data[:-4])
    return body + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", r"empty file"),
        (b"RIFF" + VALID[4:], r"not a \.p2p file: magic bytes b'RIFF'"),
        (VALID[:30], r"truncated: 30 bytes"),
        (VALID[:-1], r"truncated: \d+ bytes, the header describes"),
        (VALID + b"\0", r"trailing bytes"),
        (_patch(VALID, 4, "<B", 4), r"format version 4 is not supported"),
        (_patch(VALID, 4, "<B", 3), r"header size 52, version 3 has 60"),
        (_patch(VALID, 4, "<B", 2), r"version 2 with 0 bytes of side information"),
        (_patch(VALID, 38, "<H", 4), r"version 1 with 4 bytes of side information"),
        (_patch(VALID, 6, "<H", 60), r"header size 60"),
        (_patch(VALID, 5, "<B", 1), r"reserved"),
        (_patch(VALID, 8, "<I", 0), r"implausible header: sample rate 0 Hz"),
        (_patch(VALID, 8, "<I", 10**9), r"implausible header: sample rate 1000000000 Hz"),
        (_patch(VALID, 12, "<Q", 0), r"implausible header: 0 samples"),
        (_patch(VALID, 12, "<Q", 2**63), r"implausible header: \d+ samples"),
        (_patch(VALID, 20, "<I", 0), r"hop of 0 samples"),
        (_patch(VALID, 24, "<I", 51), r"header says 51 frames; 16000 samples at a hop of 320 make 50"),
        (_patch(VALID, 28, "<I", 1), r"codebook size 1"),
        (_patch(VALID, 37, "<B", 3), r"3 streams \(1 or 1 \+ N = 4 are valid\)"),
        (_patch(VALID, 36, "<B", 200), r"200 pseudo VQs"),
        (_patch(VALID, 48, "<I", 10), r"header says 10 payload bytes; 50 frames of 10 bits need 63"),
    ],
)
def test_bad_files_are_named(data, message):
    with pytest.raises(BitstreamError, match=message):
        loads(data)


def test_flipped_payload_bit_fails_the_crc():
    data = bytearray(VALID)
    data[60] ^= 0x10
    with pytest.raises(BitstreamError, match="CRC mismatch"):
        loads(bytes(data))


def test_token_past_a_non_power_of_two_codebook_is_refused():
    header = make_header(codebook_size=1000)
    codes = random_codes(header)
    codes[0, 3] = 1023  # fits in 10 bits, not in the codebook
    with pytest.raises(BitstreamError, match="tokens outside"):
        dumps(header, codes)
    good = bytearray(dumps(header, random_codes(header)))
    good[52] = 0xFF  # first token's high bits -> >= 1000
    good[53] |= 0xC0
    body = bytes(good[:-4])
    with pytest.raises(BitstreamError, match=r"token \d+, the codebook has 1000 entries"):
        loads(body + struct.pack("<I", zlib.crc32(body)))


def test_read_names_the_file(tmp_path):
    path = tmp_path / "broken.p2p"
    path.write_bytes(VALID[:-3])
    with pytest.raises(BitstreamError, match=r"broken\.p2p: truncated"):
        bitstream.read(path)
    with pytest.raises(BitstreamError, match=r"missing\.p2p: cannot read"):
        bitstream.read(tmp_path / "missing.p2p")


# ---------------------------------------------------------------- fuzzing
SEEDS = [
    VALID,
    dumps(make_header(num_samples=1234, num_streams=4, pseudo=64), random_codes(make_header(1234, 4, pseudo=64))),
]

mutation = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 200)),
    st.tuples(st.just("flip"), st.integers(0, 200 * 8)),
    st.tuples(st.just("field"), st.integers(4, 48), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("field_fixcrc"), st.integers(4, 48), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=64)),
)


def _mutate(data: bytes, op) -> bytes:
    kind = op[0]
    if kind == "truncate":
        return data[: op[1] % (len(data) + 1)]
    if kind in ("flip", "field", "field_fixcrc") and len(data) < (1 if kind == "flip" else op[1] + 8):
        return data  # too short to mutate that way
    if kind == "flip":
        buf = bytearray(data)
        buf[(op[1] // 8) % len(buf)] ^= 1 << (op[1] % 8)
        return bytes(buf)
    if kind == "append":
        return data + op[1]
    buf = bytearray(data)
    struct.pack_into("<I", buf, op[1], op[2])
    if kind == "field_fixcrc":  # a hostile writer keeps the CRC right
        body = bytes(buf[:-4])
        return body + struct.pack("<I", zlib.crc32(body))
    return bytes(buf)


def _loads_bounded(data: bytes, prior=None, spec=None, slack: int = 200_000) -> None:
    """loads() either succeeds or raises BitstreamError, using little memory: a peak under
    64 bytes a byte of the file plus ``slack`` (a version-4 file's reader passes its model's
    ``spec``)."""
    tracemalloc.start()
    try:
        loads(data, prior, spec)
    except BitstreamError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 64 * len(data) + slack, peak


def _fuzz_case(seed: bytes, ops) -> None:
    data = seed
    for op in ops:
        data = _mutate(data, op)
    _loads_bounded(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), ops=st.lists(mutation, min_size=1, max_size=3))
def test_fuzz_mutated_files(seed, ops):
    _fuzz_case(seed, ops)


@settings(max_examples=1000, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), st.binary(max_size=60).map(lambda b: b"P2PC" + b)))
def test_fuzz_random_bytes(data):
    _loads_bounded(data)


@pytest.mark.slow
@settings(max_examples=30000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), ops=st.lists(mutation, min_size=1, max_size=6))
def test_fuzz_mutated_files_long(seed, ops):
    _fuzz_case(seed, ops)


def test_side_information_round_trips_and_is_checked():
    from espnet2_p2p.container.bitstream import dumps, loads

    secousti = dict(hop_length=192, codebook_size=6561, pseudo=6561, num_pseudo=0)
    header = make_header(1000, fingerprint=b"12345678", side_info=bytes(range(32)), **secousti)
    codes = np.arange(header.num_frames).reshape(1, -1) * 997 % 6561
    data = dumps(header, codes)
    assert data[4] == 2 and len(data) == header.file_size == 56 + 32 + header.payload_bytes
    back, got = loads(data)
    assert back == header and np.array_equal(got, codes)
    assert header.bits_per_frame == 13
    with pytest.raises(BitstreamError, match="truncated"):
        loads(data[:70])
    damaged = bytearray(data)
    damaged[60] ^= 1  # a side-information byte
    with pytest.raises(BitstreamError, match="CRC"):
        loads(bytes(damaged))


def test_packing_and_unpacking_memory_stays_near_the_tokens_size():
    """Reading a .p2p file costs the int64 tokens plus a bounded buffer (it used to expand
    every bit to an int64: about 75 times the file's size)."""
    import tracemalloc

    from espnet2_p2p.container.bitstream import pack_tokens, unpack_tokens

    rng = np.random.default_rng(0)
    frames = 1_000_003  # not a multiple of the block: the last block is partial
    codes = rng.integers(0, 1024, size=(2, frames))
    codes[1] = rng.integers(0, 8, size=frames)
    sizes = [1024, 8]
    tracemalloc.start()
    payload = pack_tokens(codes, sizes)
    _, peak_pack = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    back = unpack_tokens(payload, sizes, frames)
    _, peak_unpack = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert np.array_equal(back, codes) and len(payload) == -(-13 * frames // 8)
    tokens_bytes = codes.nbytes  # 16 MB of int64
    assert peak_unpack < tokens_bytes + 8_000_000, peak_unpack
    assert peak_pack < 4 * len(payload) + 8_000_000, peak_pack


def test_a_layout_the_container_cannot_hold_is_refused():
    """Issue 42 (9): codebooks (1024, 512, 256) were written as (1024, 256, 256) (the wrong
    bit rate and token range); 2 of 4 streams gave "implausible header" at write time."""
    from espnet2_p2p.container.bitstream import ModelSpec, P2PHeader

    with pytest.raises(BitstreamError, match=r"codebook sizes \[1024, 512, 256\]: .* pseudo codebooks of one size"):
        P2PHeader.for_streams(16000, 320, [1024, 512, 256], 1, 3200, b"\0" * 8)
    with pytest.raises(BitstreamError, match="2 streams: a .p2p file carries stream 0 alone or all 4 streams"):
        P2PHeader.for_streams(16000, 320, [1024, 256, 256, 256], 2, 3200, b"\0" * 8)
    spec = ModelSpec(16000, 320, (1024, 512, 256), 0, b"\0" * 8)
    data = b"p4" + bitstream._varint(3200 << 2) + spec.id() + bytes(200) + b"\0\0"
    with pytest.raises(BitstreamError, match="pseudo codebooks of one size"):
        bitstream.loads(data, None, spec)
