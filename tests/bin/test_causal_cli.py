"""p2p-codec and the tokenizer with the causal P2PSynCodec: long files are coded chunk by
chunk through the streaming path and give exactly what whole-input coding gives."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_audio import peak_increase

from conftest import gliding_speech as speech
from conftest import read_p2p
from espnet2_p2p.bin.p2p_codec import main
from espnet2_p2p.model_io import load_codec
from espnet2_p2p.speechlm.tokenizer import P2PTokenizer


def run(*argv):
    return main([str(a) for a in argv])


def test_long_file_is_coded_exactly_in_chunks(tmp_path, packed_causal_models):
    x = speech(75.3)  # chunks of 30 s: three of them, the last one partial
    sf.write(tmp_path / "in.wav", x, 16000, subtype="FLOAT")
    common = ["--model", packed_causal_models, "-q", "--chunk_seconds", "30"]
    assert run("encode", tmp_path / "in.wav", tmp_path / "a.p2p", *common) == 0
    assert run("decode", tmp_path / "a.p2p", tmp_path / "out.wav", *common, "--subtype", "FLOAT") == 0
    model = load_codec(packed_causal_models)
    codec = model.codec
    assert codec.streaming and codec.is_student
    with torch.no_grad():
        whole = codec.encode(torch.from_numpy(x).view(1, 1, -1))
        ref = codec.decode(whole, length=len(x))[0, 0].numpy()
    _, codes = read_p2p(tmp_path / "a.p2p", packed_causal_models)
    np.testing.assert_array_equal(codes, whole[:, 0].numpy())
    y, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    assert y.shape == ref.shape and np.abs(y - ref).max() < 1e-4
    # the tokenizer: all 1 + N streams of a long input, chunked, equal whole-input tokens
    tokenizer = P2PTokenizer(model, streams="all", chunk_seconds=30)
    with torch.no_grad():
        expected = codec.tokens(torch.from_numpy(x).view(1, 1, -1))[:, 0].T
    assert torch.equal(tokenizer.encode(torch.from_numpy(x)), expected)
    back = tokenizer.decode(tokenizer.encode(torch.from_numpy(x)[: 16000 * 40]), length=16000 * 40)
    assert back.shape[-1] == 16000 * 40


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_ten_minutes_equal_whole_input_tokens_with_memory_independent_of_length(tmp_path, packed_causal_models):
    for seconds in (120, 600):
        sf.write(tmp_path / f"{seconds}.wav", speech(seconds, seed=seconds), 16000)
    load_codec(packed_causal_models)  # imports and first-call costs before measuring
    peaks = {}
    for seconds in (120, 600):
        peaks[seconds] = peak_increase(
            lambda: run(
                "encode",
                tmp_path / f"{seconds}.wav",
                tmp_path / f"{seconds}.p2p",
                "--model",
                packed_causal_models,
                "-q",
            )
        )
    assert peaks[600] < peaks[120] + 40, peaks  # MB: five times the audio, about the same memory
    codec = load_codec(packed_causal_models).codec
    x, _ = sf.read(tmp_path / "600.wav", dtype="float32")
    with torch.no_grad():
        whole = codec.encode(torch.from_numpy(x).view(1, 1, -1))
    np.testing.assert_array_equal(read_p2p(tmp_path / "600.p2p", packed_causal_models).codes, whole[:, 0].numpy())
