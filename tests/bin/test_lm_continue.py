"""espnet2_p2p.bin.lm_continue's sampling: each drawn token among its own stream's codes."""

import numpy as np
import torch

from espnet2_p2p.speechlm.lm_tools import sample


class _UniformLM:
    """ESPnet's LM interface as sample() uses it (sos, lm.score), every token equally likely."""

    def __init__(self, vocab: int):
        self.sos, self.vocab, self.lm = vocab - 1, vocab, self
        self.seen = []

    def score(self, y, state, x):
        self.seen.append(y.tolist())
        return torch.zeros(self.vocab), state


def test_a_multi_stream_continuation_keeps_the_frame_layout():
    # vocabulary: 2 streams of 5 codes (ids 0-4 and 5-9), then 2 special symbols
    names = [f"<codec_layer{k}_code{c}>" for k in range(2) for c in range(5)] + ["<unk>", "<sos/eos>"]
    allowed = [np.array([n.startswith(f"<codec_layer{k}_code") for n in names]) for k in range(2)]
    lm = _UniformLM(len(names))
    prompt = [1, 6, 2, 7]  # two frames: (stream 0, stream 1) each
    drawn = sample(lm, prompt, 40, allowed, 1.0, torch.Generator().manual_seed(0))
    assert len(drawn) == 40
    assert all(t < 5 for t in drawn[0::2]) and all(5 <= t < 10 for t in drawn[1::2])
    assert len(set(drawn[0::2])) > 1  # drawn, not fixed
    assert lm.seen[len(prompt)] == [lm.sos, *prompt]  # the first draw sees the whole prompt


def test_a_single_stream_continuation_never_draws_a_special_symbol():
    names = [f"<codec_layer0_code{c}>" for c in range(8)] + ["<unk>", "<sos/eos>"]
    allowed = [np.array([n.startswith("<codec_layer0_code") for n in names])]
    drawn = sample(_UniformLM(len(names)), [3, 4], 200, allowed, 1.0, torch.Generator().manual_seed(1))
    assert max(drawn) < 8 and len(set(drawn)) == 8


def test_a_missing_lm_or_dump_is_one_line(tmp_path):
    """Issue 42 (8): an --lm_exp without config.yaml was a FileNotFoundError traceback."""
    import subprocess
    import sys

    (tmp_path / "lm").mkdir()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet2_p2p.bin.lm_continue",
            "--lm_exp",
            str(tmp_path / "lm"),
            "--tokens",
            str(tmp_path / "tokens"),
            "--data_dir",
            str(tmp_path / "data"),
            "--output_dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"lm_continue: error: {tmp_path / 'lm' / 'config.yaml'}, ") and "missing" in line
    assert not (tmp_path / "out").exists()
