"""Format version 3: entropy-coded payloads. Exact round trips for every length class and
the three kinds of streams, the prior's fingerprint checked, and fuzzing."""

import dataclasses
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bitstream import _loads_bounded, _mutate, mutation

from espnet2_p2p.container import bitstream
from espnet2_p2p.container.bitstream import P2PHeader, dumps, loads
from espnet2_p2p.container.entropy import BigramPrior
from espnet2_p2p.errors import BitstreamError


def walk(streams, frames, size, seed):
    """Tokens that wander through the codebook (predictable, as codec tokens are)."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([0, 0, 1, -1, 2, 5], size=(streams, frames))
    start = rng.integers(0, size, (streams, 1))
    return (start + np.cumsum(steps, axis=1)) % size


# the three kinds of transmitted streams: a student's plain stream, a teacher's 1 + N
# streams (here with a smaller residual codebook), SecoustiCodec's FSQ stream + side info
KINDS = {
    "student": dict(hop_length=320, sizes=[1024, 1024, 1024, 1024], streams=1, side=b""),
    "teacher": dict(hop_length=320, sizes=[1024, 256, 256, 256], streams=4, side=b""),
    "secousti": dict(hop_length=192, sizes=[6561], streams=1, side=bytes(range(16))),
}


def header_for(kind, num_samples):
    k = KINDS[kind]
    return P2PHeader.for_streams(16000, k["hop_length"], k["sizes"], k["streams"], num_samples, b"modelfp!", k["side"])


def tokens_for(header, seed=1):
    return np.concatenate([walk(1, header.num_frames, k, seed + s) for s, k in enumerate(header.stream_sizes)])


def fit_priors():
    """A bigram prior of each kind of stream layout, fitted on random walks."""
    out = {}
    for kind, k in KINDS.items():
        sizes = k["sizes"][: k["streams"]]
        train = [np.concatenate([walk(1, 3000, n, 100 * i + s) for s, n in enumerate(sizes)]) for i in range(4)]
        out[kind] = BigramPrior.fit(train, sizes)
    return out


@pytest.fixture(scope="module")
def priors():
    return fit_priors()


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("num_samples", [1, 191, 192, 193, 319, 320, 321, 16000, 16000 * 60])
def test_round_trip_is_exact_and_smaller(priors, kind, num_samples):
    header = header_for(kind, num_samples)
    codes = tokens_for(header)
    v2 = dumps(header, codes)
    v3 = dumps(header, codes, priors[kind])
    assert v3[4] == 3 and v2[4] in (1, 2)
    back, got = loads(v3, priors[kind])
    assert np.array_equal(got, codes)
    assert back.side_info == header.side_info and back.prior_fingerprint == priors[kind].fingerprint()
    assert dataclasses.replace(back, prior_fingerprint=b"", coded_bytes=0) == header
    assert len(v3) == back.file_size
    assert 8 * back.coded_bytes <= priors[kind].bits(codes) + 96  # the coder adds a few words
    if num_samples >= 16000 and kind != "secousti":  # (6561 codes: 12,000 tokens are too few to learn)
        assert back.coded_bytes < 0.6 * header.payload_bytes  # predictable tokens: well under the fixed width


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_ten_minutes_round_trip(priors, kind):
    header = header_for(kind, 16000 * 600)
    codes = tokens_for(header, seed=5)
    back, got = loads(dumps(header, codes, priors[kind]), priors[kind])
    assert np.array_equal(got, codes)


def test_the_prior_is_checked(priors, tmp_path):
    header = header_for("student", 16000)
    data = dumps(header, tokens_for(header), priors["student"])
    other = BigramPrior.fit([walk(1, 500, 1024, 77)], 1024)
    fp = priors["student"].fingerprint().hex()
    with pytest.raises(
        BitstreamError, match=rf"entropy-coded with prior {fp}, this model's prior is {other.fingerprint().hex()}"
    ):
        loads(data, other)
    with pytest.raises(BitstreamError, match="decoding needs the model that has that prior"):
        loads(data)
    with pytest.raises(BitstreamError, match=r"prior codes streams of sizes \[1024, 256, 256, 256\]"):
        dumps(header, tokens_for(header), priors["teacher"])
    path = tmp_path / "a.p2p"
    bitstream.write(path, header, tokens_for(header), priors["student"], compact=False)
    assert bitstream.read_header(path).coded_bytes == len(data) - 60 - 4  # no prior needed
    with pytest.raises(BitstreamError, match=r"a\.p2p: entropy-coded with prior"):
        bitstream.read(path, other)


def _refix(data: bytes) -> bytes:
    body = data[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def test_hostile_v3_headers(priors):
    prior = priors["student"]
    header = header_for("student", 16000)
    data = dumps(header, tokens_for(header), prior)
    fewer = bytearray(data)
    struct.pack_into("<Q", fewer, 12, 16000 - 3200)  # 40 frames; the payload holds 50
    struct.pack_into("<I", fewer, 24, 40)
    with pytest.raises(BitstreamError, match="holds more than 40 frames"):
        loads(_refix(bytes(fewer)), prior)
    huge = bytearray(data)  # 5 hours of frames claimed by a payload of a few hundred bytes
    struct.pack_into("<Q", huge, 12, 16000 * 18000)
    struct.pack_into("<I", huge, 24, 50 * 18000)
    with pytest.raises(BitstreamError, match="cannot hold 1 x 900000 tokens"):
        loads(_refix(bytes(huge)), prior)
    struct.pack_into("<Q", huge, 12, 16000 * 36000)  # 10 hours: more than any payload may hold
    struct.pack_into("<I", huge, 24, 50 * 36000)
    with pytest.raises(BitstreamError, match="1 x 1800000 tokens, more than the 1048576 one may hold"):
        loads(_refix(bytes(huge)), prior)
    odd = bytearray(data[:-5] + data[-4:])  # a payload that is not whole words
    struct.pack_into("<I", odd, 48, len(data) - 60 - 4 - 1)
    with pytest.raises(BitstreamError, match="whole 32-bit words"):
        loads(_refix(bytes(odd)), prior)
    big = bytearray(data)
    struct.pack_into("<I", big, 48, 10**6)
    with pytest.raises(BitstreamError, match="implausible header: an entropy-coded payload of 1000000 bytes"):
        loads(_refix(bytes(big)), prior)


# ---------------------------------------------------------------- fuzzing
def fuzz_seeds(entries):
    """The fuzzers' seeds: for each kind, a prior fitted to 2,000 frames and the header of a
    12,345-sample file; ``entries(kind, header, prior)`` lists that kind's seeds. Built afresh
    at each call, so that every fuzzed read starts from a new prior (shared by test_bitstream_v4)."""
    out = []
    for kind in ("student", "teacher", "secousti"):
        sizes = KINDS[kind]["sizes"][: KINDS[kind]["streams"]]
        prior = BigramPrior.fit([np.concatenate([walk(1, 2000, n, s) for s, n in enumerate(sizes)])], sizes)
        out.extend(entries(kind, header_for(kind, 12345), prior))
    return out


def _seeds():
    return fuzz_seeds(lambda kind, header, prior: [(dumps(header, tokens_for(header), prior), prior)])


v3_mutation = st.one_of(mutation, st.tuples(st.just("field_fixcrc"), st.integers(48, 56), st.integers(0, 2**32 - 1)))


def _fuzz_v3(index, ops):
    data, prior = _seeds()[index]
    for op in ops:
        data = _mutate(data, op)
    _loads_bounded(data, prior)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, 2), ops=st.lists(v3_mutation, min_size=1, max_size=3))
def test_fuzz_mutated_v3_files(index, ops):
    _fuzz_v3(index, ops)


@pytest.mark.slow
@settings(max_examples=30000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, 2), ops=st.lists(v3_mutation, min_size=1, max_size=6))
def test_fuzz_mutated_v3_files_long(index, ops):
    _fuzz_v3(index, ops)
