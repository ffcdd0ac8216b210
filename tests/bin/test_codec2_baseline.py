"""The codec2 baseline: real c2enc/c2dec, audio back at 16 kHz and aligned in length."""

import shutil

import numpy as np
import pytest
import soundfile as sf

from conftest import gliding_speech as speech
from espnet2_p2p.bin import codec2_baseline
from espnet2_p2p.evaluation import baselines

needs_codec2 = pytest.mark.skipif(shutil.which("c2enc") is None, reason="codec2 (c2enc/c2dec) is not installed")


@needs_codec2
@pytest.mark.parametrize("mode, rate", [("700C", 700), ("450", 450)])
def test_codes_a_folder_into_wavs_of_the_same_length(tmp_path, mode, rate):
    (tmp_path / "in").mkdir()
    x = speech(2.0)
    sf.write(tmp_path / "in" / "a.wav", x, 16000)
    sf.write(tmp_path / "in" / "b.wav", np.stack([x, x], axis=1)[:24000], 16000)  # stereo, 1.5 s
    assert (
        codec2_baseline.main(["--input", str(tmp_path / "in"), "--output_dir", str(tmp_path / "out"), "--mode", mode])
        == 0
    )
    for name, seconds in (("a", 2.0), ("b", 1.5)):
        y, fs = sf.read(tmp_path / "out" / f"{name}.wav")
        assert fs == 16000 and abs(len(y) / fs - seconds) < 0.05  # codec2's frames: 40 ms
        assert np.sqrt(np.mean(y**2)) > 0.1 * np.sqrt(np.mean(x**2))  # it decoded speech, not silence
    import json

    meta = json.loads((tmp_path / "out" / "codec2.json").read_text())
    assert meta["mode"] == mode and meta["bitrate"] == rate and meta["files"] == 2


def test_missing_tools_are_one_line(tmp_path, monkeypatch, capsys):
    sf.write(tmp_path / "a.wav", speech(0.5), 16000)
    monkeypatch.setattr(baselines.shutil, "which", lambda name: None)
    assert codec2_baseline.main(["--input", str(tmp_path / "a.wav"), "--output_dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "codec2_baseline: error: codec2's c2enc/c2dec are not installed (Debian/Ubuntu: apt-get install codec2)"
    ]
