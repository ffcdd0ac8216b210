"""Input audio at any rate: range reads equal whole-input resampling, memory is bounded."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from espnet2_p2p.audio import AudioSource

RATES = st.integers(min_value=1, max_value=384_000)


def whole(x: np.ndarray, rate: int, n: int) -> np.ndarray:
    """The whole input resampled at once (soxr), padded to the codec's length n."""
    y = soxr.resample(x, rate, 16000, quality="HQ").astype(np.float32) if rate != 16000 else x
    return np.pad(y, (0, max(0, n - len(y))))[:n]


@settings(max_examples=25, deadline=None)
@given(rate=RATES, seconds=st.floats(0.01, 3.0), step=st.integers(1, 40_000), context=st.integers(0, 8_000))
@example(rate=16001, seconds=2.0, step=7_000, context=1_000)
@example(rate=1, seconds=3.0, step=5_000, context=0)
@example(rate=384_000, seconds=1.0, step=3_000, context=500)
def test_range_reads_equal_whole_input_resampling(rate, seconds, step, context):
    """Reads as the chunker makes them (forward, overlapping by a context) and a read that
    goes back all give the same samples as resampling the whole input at once."""
    x = np.random.default_rng(rate).standard_normal(max(1, int(rate * seconds))).astype(np.float32)
    src = AudioSource(x, 16000, rate)
    assert src.num_samples == -(-len(x) * 16000 // rate)
    ref = whole(x, rate, src.num_samples)
    for start in range(0, src.num_samples, step):
        got = src.read(start - context, start + step + context)
        assert np.array_equal(got, ref[max(0, start - context) : start + step + context])
    assert np.array_equal(src.read(0, 17), ref[:17])  # back to the start


def peak_increase(run) -> float:
    """MB the process's peak resident memory rose above what it held before ``run()``."""

    def status(key):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024

    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from now
    before = status("VmRSS:")
    run()
    return status("VmHWM:") - before


@pytest.fixture(scope="module")
def cli_model():
    from espnet2_p2p import pretrained

    if pretrained.DEFAULT is None:
        pytest.skip("this checkout ships no model")
    return pretrained.default_model()


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rate=RATES)
@example(rate=16001)
@example(rate=44101)
@example(rate=1)
@example(rate=384_000)
def test_any_rate_codes_ten_seconds_within_300_mb(rate, cli_model, tmp_path_factory):
    """A 10-second file at any rate from 1 Hz to 384 kHz, coprime with 16 kHz or not,
    encodes within 300 MB (the CLI's whole path: load the model, read, resample, code,
    write; measured after a first run, so imports do not count)."""
    from espnet2_p2p.bin.p2p_codec import main

    tmp = tmp_path_factory.mktemp("rate")
    t = np.arange(10 * rate) / rate
    sf.write(str(tmp / "in.wav"), (0.3 * np.sin(2 * np.pi * 0.37 * rate * t)).astype(np.float32), rate, subtype="FLOAT")
    main(["encode", str(tmp / "in.wav"), str(tmp / "warm.p2p"), "--model", str(cli_model), "-q"])  # model cached
    rise = peak_increase(
        lambda: main(["encode", str(tmp / "in.wav"), str(tmp / "x.p2p"), "--model", str(cli_model), "-q"])
    )
    assert (tmp / "x.p2p").stat().st_size > 11 + 8  # the 11-byte container and a payload
    assert rise < 300, f"{rate} Hz: +{rise:.0f} MB"
