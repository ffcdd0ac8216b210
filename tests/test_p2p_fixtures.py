"""Files written before the codec-interface change still decode to the same audio.

The fixtures in tests/fixtures were written by the code of commit 45e4b91 (before
espnet2_p2p/codec/base.py; tests/fixtures/make_p2p_fixtures.py says how): one file of
each container version, coded by a model of random weights packed beside them, and what
that code decoded them to.
"""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet2_p2p.bin import p2p_codec
from espnet2_p2p.container import bitstream

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = FIXTURES.parents[1]
CASES = [
    ("v1_p2psyn_fixture.p2p", FIXTURES / "p2psyn_fixture.zip", 1),
    ("v2_secousti_fixture.p2p", FIXTURES / "secousti_fixture.zip", 2),
]


@pytest.mark.parametrize("name,model,version", CASES, ids=["version1", "version2"])
def test_old_file_decodes_to_the_same_audio(name, model, version, tmp_path):
    p2p = FIXTURES / name
    assert p2p.read_bytes()[4] == version  # the format version byte of the header
    header, codes = bitstream.read(p2p)
    assert header.num_samples == 24000 and bool(header.side_info) == (version == 2)
    out = tmp_path / "out.wav"
    assert (
        p2p_codec.main(
            ["decode", str(p2p), str(out), "--model", str(model), "-q", "--device", "cpu", "--subtype", "FLOAT"]
        )
        == 0
    )
    wav = sf.read(str(out), dtype="float32")[0]
    before = np.load(FIXTURES / name.replace(".p2p", ".decoded.npy"))
    assert wav.shape == before.shape
    # bit-exact on the machine that wrote them; 1e-6 leaves room for another CPU's float order
    assert np.abs(wav - before).max() <= 1e-6
