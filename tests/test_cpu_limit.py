"""The FLOPs counter against FLOPs counted by hand, and the single-operator graphs of
benchmarks/cpu_limit.py (issue 31)."""

import numpy as np
import pytest
import torch

from benchmarks.codec_speed import gflops
from benchmarks.cpu_limit import _session, op_graph


@pytest.mark.parametrize(
    "layer, x, by_hand",
    [
        (torch.nn.Linear(256, 512, bias=False), torch.randn(10, 256), 2 * 10 * 256 * 512),
        (torch.nn.Conv1d(96, 256, 1, bias=False), torch.randn(1, 96, 800), 2 * 256 * 96 * 800),
        (torch.nn.Conv1d(96, 96, 7, padding=3, groups=96, bias=False), torch.randn(1, 96, 800), 2 * 96 * 7 * 800),
    ],
)
def test_the_flop_counter_counts_what_a_hand_counts(layer, x, by_hand):
    assert gflops(lambda: layer(x)) * 1e9 == by_hand


def test_the_single_operator_graphs_compute_what_they_name():
    from onnx import TensorProto, numpy_helper

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((8, 16), dtype=np.float32), rng.standard_normal((16, 4), dtype=np.float32)
    s = _session(op_graph("MatMul", [("a", TensorProto.FLOAT, [8, 16]), ("b", TensorProto.FLOAT, [16, 4])], [8, 4]))
    np.testing.assert_allclose(s.run(None, {"a": a, "b": b})[0], a @ b, rtol=1e-5)
    # activations of 7 bits: an x86 CPU without VNNI multiplies u8 x s8 pairs into int16 with
    # saturation (ONNX Runtime's MLAS on AVX2), exact only while two products fit
    qa, qb = rng.integers(0, 128, (8, 16), dtype=np.uint8), rng.integers(-127, 127, (16, 4), dtype=np.int8)
    s8 = _session(
        op_graph("MatMulInteger", [("a", TensorProto.UINT8, [8, 16]), ("b", TensorProto.INT8, [16, 4])], [8, 4])
    )
    np.testing.assert_array_equal(s8.run(None, {"a": qa, "b": qb})[0], qa.astype(np.int32) @ qb.astype(np.int32))
    x = rng.standard_normal((1, 6, 20), dtype=np.float32)
    w = rng.standard_normal((6, 1, 7), dtype=np.float32)
    sc = _session(
        op_graph(
            "Conv",
            [("x", TensorProto.FLOAT, [1, 6, 20])],
            [1, 6, 20],
            dict(group=6, pads=[3, 3]),
            [numpy_helper.from_array(w, "w")],
        )
    )
    ref = torch.nn.functional.conv1d(torch.from_numpy(x), torch.from_numpy(w), padding=3, groups=6).numpy()
    np.testing.assert_allclose(sc.run(None, {"x": x})[0], ref, rtol=1e-4, atol=1e-5)


def test_the_causal_small_student_is_inside_the_low_complexity_budget():
    """conf/student_causal_small.yaml: at most 0.7 GFLOPs per second of audio in all, 30 ms
    of algorithmic latency, 0.5 kbps, streaming (issue 31, item 5); the non-causal small
    student is not (it does not stream)."""
    from benchmarks.low_complexity import measure

    causal = measure("conf/student_causal_small.yaml", seconds=2.0)
    assert causal["inside"] and causal["bitrate"] == 500.0 and causal["latency_ms"] <= 30.0
    assert 0.3 < causal["enc"] + causal["dec"] <= 0.7  # a real count: not zero, not over
    assert not measure("conf/student_small.yaml", seconds=2.0)["inside"]


@pytest.mark.parametrize("seconds", [0.02, 9.99, 10.0, 10.02, 10.5, 60.0, 600.0, 3600.0])
def test_the_default_chunk_plan_keeps_coding_linear_in_length(seconds):
    """Issue 31, item 2: every input is coded with the same plan, whose windows (a chunk
    with its context) never exceed 10 s and whose coded frames never exceed the input's by
    more than 5%: the predictors' attention, quadratic in a window's length, costs no more
    per second at an hour than at 10 s, which is coded whole."""
    from espnet2_p2p.coding.chunks import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS, plan_seconds

    fs, hop = 16000, 320
    frames = int(np.ceil(seconds * fs / hop))
    chunks = list(plan_seconds(frames, DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS, fs, hop))
    assert [c[0] for c in chunks] == sorted(c[0] for c in chunks) and chunks[0][0] == 0 and chunks[-1][1] == frames
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))  # the kept parts tile the input
    longest = max(cend - cstart for _, _, cstart, cend in chunks)
    assert longest <= 10 * fs // hop
    coded = sum(cend - cstart for _, _, cstart, cend in chunks)
    assert coded <= 1.05 * frames
    kept = [end - start for start, end, _, _ in chunks]
    assert max(kept) - min(kept) <= 1  # equal chunks: no short last one paying full context
    if seconds <= 10.0:
        assert chunks == [(0, frames, 0, frames)]  # whole, exactly as codec.encode
    else:
        assert len(chunks) > 1


def test_the_tokenizer_codes_whole_exactly_what_the_plan_codes_whole():
    """P2PTokenizer sends an input down the chunked path when it is longer than
    ``coder.chunked_length``; that must be the plan's own one-window limit."""
    from types import SimpleNamespace

    from espnet2_p2p.coding.chunks import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS, plan_seconds
    from espnet2_p2p.coding.coder import chunked_length

    fs, hop = 16000, 320
    layout = SimpleNamespace(streaming=False, fs=fs, hop_length=hop)
    limit = chunked_length(layout, DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS)
    for frames in (1, 489, 490, 499, 500, 501, 520):
        whole = len(list(plan_seconds(frames, DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS, fs, hop))) == 1
        assert whole == (frames * hop / fs <= limit), frames
    assert chunked_length(SimpleNamespace(streaming=True), 9.6, 0.2) == 9.6  # streaming: no context
