"""Format version 4, the compact container: exact round trips of every kind of stream, an
11-byte container, the model (and prior) named by id, every damage refused, fuzzing."""

import binascii
import dataclasses
import struct
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bitstream import _loads_bounded
from test_bitstream_v3 import (
    KINDS,
    fit_priors,
    fuzz_seeds,
    header_for,
    tokens_for,
    walk,
)

from espnet2_p2p.container import bitstream
from espnet2_p2p.container.bitstream import ModelSpec, dumps, loads
from espnet2_p2p.container.entropy import BigramPrior
from espnet2_p2p.errors import BitstreamError


@pytest.fixture(scope="module")
def priors():
    return fit_priors()


def spec_for(kind, fingerprint=b"modelfp!"):
    k = KINDS[kind]
    return ModelSpec(16000, k["hop_length"], tuple(k["sizes"]), len(k["side"]), fingerprint)


def fix_crc(data: bytes) -> bytes:
    body = data[:-2]
    return body + struct.pack("<H", binascii.crc_hqx(body, 0xFFFF))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("entropy", [False, True], ids=["packed", "entropy"])
@pytest.mark.parametrize("num_samples", [1, 319, 320, 321, 4095, 4096, 56000, 16000 * 33, 16000 * 60 * 20])
def test_round_trip_is_exact_with_a_small_container(priors, kind, entropy, num_samples):
    header = header_for(kind, num_samples)
    codes = tokens_for(header)
    prior = priors[kind] if entropy else None
    data = dumps(header, codes, prior, compact=True)
    back, decoded = loads(data, prior, spec_for(kind))
    np.testing.assert_array_equal(decoded, codes)
    assert back.version == 4 and back.side_info == header.side_info and back.num_samples == num_samples
    assert back.num_streams == header.num_streams and back.stream_sizes == header.stream_sizes
    # magic 2 + varint (samples << 2 | flags) + id 4 + CRC 2
    varint = 1 if num_samples < 2**5 else 2 if num_samples < 2**12 else 3 if num_samples < 2**19 else 4
    assert back.overhead_bytes == 2 + varint + 4 + 2
    payload = back.coded_bytes if entropy else header.payload_bytes
    assert len(data) == back.overhead_bytes + len(header.side_info) + payload
    if 4096 <= num_samples < 2**19:  # 0.26 to 32.8 s at 16 kHz
        assert back.overhead_bytes == 11


def test_a_three_second_student_file_is_mostly_payload(priors):
    header = header_for("student", 48000)
    codes = tokens_for(header)
    legacy = dumps(header, codes, priors["student"])
    compact = dumps(header, codes, priors["student"], compact=True)
    assert len(legacy) - len(compact) == 64 - 11


def test_older_versions_still_read_beside_version_4(priors):
    header = header_for("secousti", 16000)
    codes = tokens_for(header)
    for prior in (None, priors["secousti"]):
        back, decoded = loads(dumps(header, codes, prior), prior, spec_for("secousti"))
        assert back.version in (2, 3)
        np.testing.assert_array_equal(decoded, codes)


def test_the_model_and_prior_are_checked_by_id(priors):
    header = header_for("student", 16000)
    codes = tokens_for(header)
    packed = dumps(header, codes, compact=True)
    coded = dumps(header, codes, priors["student"], compact=True)
    with pytest.raises(BitstreamError, match=r"names its model by id [0-9a-f]{8}; reading it needs that model"):
        loads(packed)
    with pytest.raises(BitstreamError, match="this model is [0-9a-f]{8}; decode with the model that encoded it"):
        loads(packed, spec=spec_for("student", b"othermdl"))
    with pytest.raises(BitstreamError, match="has no prior: decode with the model that encoded it"):
        loads(coded, spec=spec_for("student"))
    other = BigramPrior.fit([walk(1, 500, 1024, 7)], [1024])
    with pytest.raises(BitstreamError, match="this model with its prior is"):
        loads(coded, other, spec_for("student"))
    # a packed file reads whatever prior the reader holds
    assert loads(packed, priors["student"], spec_for("student"))[0].version == 4
    # a model of another layout: the id differs as the fingerprint does; the layout is the spec's
    with pytest.raises(BitstreamError, match="decode with the model that encoded it"):
        loads(packed, spec=dataclasses.replace(spec_for("student", b"teacher!"), stream_sizes=(1024, 256, 256, 256)))


def test_damage_is_refused_with_one_line(priors):
    header = header_for("teacher", 16000)
    data = dumps(header, tokens_for(header), priors["teacher"], compact=True)
    spec, prior = spec_for("teacher"), priors["teacher"]
    cases = {
        "CRC mismatch": data[:20] + bytes([data[20] ^ 1]) + data[21:],
        "CRC mismatch: the file": data[:-8],  # whole words less: the size is implied, the CRC catches it
        "truncated: 5 bytes": data[:5],
        "whole 32-bit words": fix_crc(data[:-2]),
        "a length field with a needless zero byte": fix_crc(data[:4] + bytes([0x80 | data[4], 0]) + data[5:]),
        "more than 8 bytes": fix_crc(b"p4" + b"\xff" * 9 + data[5:]),
        "not a .p2p file": b"p5" + data[2:],
    }
    for message, bad in cases.items():
        with pytest.raises(BitstreamError, match=message):
            loads(bad, prior, spec)
    packed = dumps(header, tokens_for(header), compact=True)  # a packed payload's size is exact
    for cut in (1, 3, 7):
        with pytest.raises(BitstreamError, match="truncated: .* the header describes"):
            loads(fix_crc(packed[: -2 - cut]), None, spec)
    # the all-streams flag on a model of one stream
    one = header_for("secousti", 16000)
    flagged = bytearray(dumps(one, tokens_for(one), compact=True))
    flagged[2] |= 2
    with pytest.raises(BitstreamError, match="all streams of a model that has one"):
        loads(fix_crc(bytes(flagged)), None, spec_for("secousti"))


def forged(spec, prior, samples: int, payload_bytes: int) -> bytes:
    """A version-4 file of ``spec``'s model that claims ``samples`` in an all-zero
    entropy-coded payload of ``payload_bytes``."""
    body = b"p4" + bitstream._varint(samples << 2 | 1) + spec.id(prior) + bytes(payload_bytes)
    return fix_crc(body + b"\0\0")


@pytest.mark.parametrize(
    "hours, message",
    [
        (8, "more than the 1048576 one may hold"),  # refused from the header alone
        (5, "spent after .* frames .* claims more than it holds"),  # 900,000 frames: decoded until the payload is spent
    ],
)
def test_a_forged_file_cannot_claim_ten_times_its_frames(priors, hours, message):
    """An all-zero payload of a 100 KB file that claims hours: the decoder stops once the
    tokens it decoded cost more than the payload holds, in little time and memory."""
    prior, spec = priors["student"], spec_for("student")
    data = forged(spec, prior, hours * 3600 * 16000, 100 * 1024)
    start = time.perf_counter()  # timed on its own: tracemalloc slows the decoder's loop 20-fold
    with pytest.raises(BitstreamError, match=message):
        loads(data, prior, spec)
    assert time.perf_counter() - start < 5  # 0.17 s here
    tracemalloc.start()
    try:
        with pytest.raises(BitstreamError, match=message):
            loads(data, prior, spec)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024  # the claimed 8 h would be 920 MB of audio, 11 MB of tokens


@pytest.fixture(scope="module")
def shipped_student():
    from espnet2_p2p import pretrained
    from espnet2_p2p.coding.files import packed_spec
    from espnet2_p2p.model_io import load_prior

    if pretrained.DEFAULT is None:
        pytest.skip("this checkout ships no model")
    model = pretrained.default_model()
    return model, packed_spec(model, "student"), load_prior(model, "student")


@pytest.mark.parametrize("payload_mb, frames", [(10, 24_000_000), (1.4, 3_400_000), (0.45, 1 << 20), (0.01, 1 << 20)])
def test_a_forged_payload_of_any_size_is_refused_within_two_seconds(tmp_path, shipped_student, payload_mb, frames):
    """Issue 42 (7): 10 MB of zeros claiming 24 million frames took 73 s and 1 GB, 1.4 MB
    10 s. Entropy-coded files hold at most 2**20 tokens: more is refused from the header,
    and decoding that many from any payload is refused (or done) within two seconds."""
    model, spec, prior = shipped_student
    path = tmp_path / "forged.p2p"
    path.write_bytes(forged(spec, prior, frames * 320, 4 * int(payload_mb * (1 << 20) / 4)))
    start = time.process_time()
    with pytest.raises(BitstreamError) as err:
        bitstream.read(path, prior, spec)
    assert time.process_time() - start < 2.0
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_the_command_line_refuses_a_forged_payload_in_bounded_time_and_memory(tmp_path, shipped_student):
    """The issue's 10 MB file through ``p2p-codec decode`` within 4 GB of address space."""
    import resource
    import subprocess
    import sys

    model, spec, prior = shipped_student
    path, out = tmp_path / "forged.p2p", tmp_path / "out.wav"
    path.write_bytes(forged(spec, prior, 24_000_000 * 320, 10 << 20))

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    run = subprocess.run(
        [sys.executable, "-m", "espnet2_p2p.bin.p2p_codec", "decode", str(path), str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"p2p-codec: error: {path}: implausible header: an entropy-coded payload of 1 x 24000000 tokens, more"
        " than the 1048576 one may hold"
    ]
    assert not out.exists() and not list(tmp_path.glob(".*tmp*"))


def test_an_input_longer_than_entropy_coding_holds_is_written_at_fixed_width(priors):
    from espnet2_p2p.container.entropy import MAX_CODED_TOKENS

    header = header_for("student", (MAX_CODED_TOKENS + 1) * 320)
    with pytest.raises(BitstreamError, match="more than the 1048576 one may hold"):
        dumps(header, tokens_for(header), priors["student"], compact=True)
    back, codes = loads(dumps(header, tokens_for(header), compact=True), None, spec_for("student"))
    assert codes.shape == (1, MAX_CODED_TOKENS + 1) and not back.entropy_coded


def test_written_files_name_version_4_and_read_back(tmp_path, priors):
    header = header_for("student", 16000)
    codes = tokens_for(header)
    path = tmp_path / "a.p2p"
    size = bitstream.write(path, header, codes, priors["student"])
    assert path.read_bytes()[:2] == b"p4" and size == path.stat().st_size
    back = bitstream.P2PFile.read(path, priors["student"], _layout("student"), b"modelfp!")
    np.testing.assert_array_equal(back.codes, codes)
    with pytest.raises(BitstreamError, match=r"a\.p2p: .* needs that model"):
        bitstream.read(path, priors["student"])


def _layout(kind):
    from espnet2_p2p.layout import Layout

    k = KINDS[kind]
    return Layout(16000, k["hop_length"], tuple(k["sizes"]), k["streams"], len(k["side"]), 256 if k["side"] else 0)


# ---------------------------------------------------------------- fuzzing
def _seeds():
    """Per kind: a packed and an entropy-coded file, each read with the prior and the model's spec."""
    return fuzz_seeds(
        lambda kind, header, prior: [
            (dumps(header, tokens_for(header), p, compact=True), prior, spec_for(kind)) for p in (None, prior)
        ]
    )


v4_mutation = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 300)),
    st.tuples(st.just("flip"), st.integers(0, 300 * 8)),
    st.tuples(st.just("byte_fixcrc"), st.integers(0, 12), st.integers(0, 255)),
    st.tuples(st.just("flip_fixcrc"), st.integers(0, 300 * 8)),
    st.tuples(st.just("insert_fixcrc"), st.integers(0, 12), st.binary(min_size=1, max_size=4)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=64)),
)


def _mutate_v4(data: bytes, op) -> bytes:
    kind = op[0]
    if kind == "truncate":
        return data[: op[1] % (len(data) + 1)]
    if kind == "append":
        return data + op[1]
    if not data:
        return data
    buf = bytearray(data)
    if kind in ("flip", "flip_fixcrc"):
        buf[(op[1] // 8) % len(buf)] ^= 1 << (op[1] % 8)
    elif kind == "byte_fixcrc":
        buf[op[1] % len(buf)] = op[2]
    else:
        buf[op[1] % len(buf) : op[1] % len(buf)] = op[2]
    return fix_crc(bytes(buf)) if kind.endswith("fixcrc") and len(buf) >= 2 else bytes(buf)


def _fuzz_v4(index, ops):
    data, prior, spec = _seeds()[index]
    for op in ops:
        data = _mutate_v4(data, op)
    # what it claims costs nothing up front; a prior's context of 6,561 codes costs ~0.2 MB to build
    _loads_bounded(data, prior, spec, slack=400_000)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, 5), ops=st.lists(v4_mutation, min_size=1, max_size=3))
def test_fuzz_mutated_v4_files(index, ops):
    _fuzz_v4(index, ops)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=40).map(lambda b: b"p4" + b), index=st.integers(0, 5))
def test_fuzz_random_v4_bytes(data, index):
    _, prior, spec = _seeds()[index]
    try:
        loads(data, prior, spec)
    except BitstreamError:
        pass


@pytest.mark.slow
@settings(max_examples=30000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, 5), ops=st.lists(v4_mutation, min_size=1, max_size=6))
def test_fuzz_mutated_v4_files_long(index, ops):
    _fuzz_v4(index, ops)
