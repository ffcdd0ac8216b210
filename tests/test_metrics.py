"""The buzz measure: energy on a code-frame-rate grid (espnet2_p2p.evaluation.metrics.frame_grid)."""

import numpy as np
import pytest
import soundfile as sf

from conftest import REAL_SPEECH  # noqa: E402
from espnet2_p2p.evaluation.metrics import METRICS, frame_grid

FS = 16000


def pulse_train(rate: float, seconds: float = 4.0, fs: int = FS) -> np.ndarray:
    """A pulse every fs / rate samples (rate need not divide fs)."""
    wav = np.zeros(int(seconds * fs), np.float32)
    wav[np.round(np.arange(0, len(wav) - 1, fs / rate)).astype(int)] = 1.0
    return wav


def noise(seconds: float = 4.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * FS)).astype(np.float32)


def test_a_frame_rate_pulse_train_in_noise_scores_high():
    # the pulses carry 50 / (50 + 6.4) of the energy
    mixed = pulse_train(50) + 0.02 * noise()
    share, line_db = frame_grid(mixed, FS)
    assert share > 0.8 and line_db > 15


def test_white_noise_spreads_evenly():
    share, line_db = frame_grid(noise(seed=1), FS)
    assert share == pytest.approx(2 * 1.5 / 50, abs=0.01)  # 6% of the band
    assert abs(line_db) < 1.0


def test_the_grid_is_the_rate_asked_for():
    wav = pulse_train(37) + 0.02 * noise(seed=2)  # pulses rounded to whole samples: some jitter
    at_37, db_37 = frame_grid(wav, FS, rate=37)
    at_50, db_50 = frame_grid(wav, FS, rate=50)
    assert at_37 > 0.5 and db_37 > 10
    assert at_50 < 0.15 and db_50 < 3
    assert METRICS["grid_share"](None, wav, FS, grid_rate=37) == pytest.approx(at_37)
    assert METRICS["grid_line_db"](None, wav, FS) == pytest.approx(db_50)


def test_refuses_what_it_cannot_measure():
    with pytest.raises(ValueError, match="at least 0.25 s"):
        frame_grid(np.zeros(100), FS)
    with pytest.raises(ValueError, match="silent"):
        frame_grid(np.zeros(FS), FS)
    with pytest.raises(ValueError, match="line width"):
        frame_grid(noise(), FS, rate=2.0)


@pytest.mark.skipif(not REAL_SPEECH.is_dir(), reason=f"no real speech clips at {REAL_SPEECH}")
def test_clean_speech_is_not_on_the_grid():
    clips = sorted((REAL_SPEECH / "libritts_16k").glob("*.wav"))[:4]
    assert clips
    for clip in clips:
        wav, fs = sf.read(str(clip), dtype="float32")
        share, line_db = frame_grid(wav, fs)
        assert share < 0.10 and abs(line_db) < 2.0, (clip.name, share, line_db)
