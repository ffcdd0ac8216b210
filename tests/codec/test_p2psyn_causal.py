"""The causal P2PSynCodec: streamed tokens and audio equal offline coding, no look-ahead."""

import pytest
import torch
from espnet2.tasks.gan_codec import GANCodecTask

from conftest import SMALL, load_config, task_args

HOP = 320


def build(name, **overrides):
    config = load_config(name)
    config["codec_conf"].update(causal=True, **overrides)
    return GANCodecTask.build_model(task_args(config))


@pytest.fixture(scope="module")
def pair():
    """A causal tiny teacher after a few training steps and a student built from it,
    its predictors trained a few steps (so nothing is at a symmetric initial value)."""
    torch.manual_seed(0)
    teacher = build("teacher_tiny.yaml")
    x = 0.1 * torch.randn(4, 8000)
    opt = torch.optim.Adam(teacher.codec.generator.parameters(), lr=1e-3)
    for _ in range(3):
        out = teacher(x, forward_generator=True)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    student = build(
        "student_tiny.yaml",
        predictor_conf=dict(SMALL["predictor"], conformer_blocks=2, attention_heads=2, cnn_module_kernel=5, context=6),
    )
    missing, _ = student.load_state_dict(teacher.state_dict(), strict=False)
    assert all("predictors" in k for k in missing)
    opt = torch.optim.Adam([p for p in student.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(3):
        out = student(x, forward_generator=True)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    return teacher.codec.eval(), student.codec.eval()


def stream(codec, x, k):
    """Encode x in pieces of k code frames; decode the tokens in pieces of k frames."""
    enc = codec.encode_stream()
    codes = torch.cat([enc(x[..., i : i + k * HOP]) for i in range(0, x.shape[-1], k * HOP)] + [enc.flush()], dim=-1)
    dec = codec.decode_stream(batch=x.shape[0])
    audio = [dec(codes[..., i : i + k]) for i in range(0, codes.shape[-1], k)] + [dec.flush(x.shape[-1])]
    return codes, torch.cat(audio, dim=-1)[..., : x.shape[-1]]


@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("which", ["teacher", "student"])
def test_streaming_equals_offline(pair, which, k):
    codec = pair[which == "student"]
    x = 0.3 * torch.randn(2, 1, HOP * 23 + 77)  # 24 frames, the last one partial
    codes = codec.encode(x)
    offline = codec.decode(codes, length=x.shape[-1])
    s_codes, s_audio = stream(codec, x, k)
    assert torch.equal(s_codes, codes)
    assert s_audio.shape == offline.shape
    assert (s_audio - offline).abs().max() < 1e-4
    assert offline.abs().max() > 1e-3  # not trivially equal
    assert codes.shape[0] == (1 if which == "student" else 4)


@pytest.mark.parametrize("which", ["teacher", "student"])
def test_future_input_changes_no_past_token_or_sample(pair, which):
    codec = pair[which == "student"]
    x = 0.3 * torch.randn(1, 1, HOP * 20)
    y = x.clone()
    y[..., HOP * 12 :] = 0.3 * torch.randn(1, 1, HOP * 8)
    cx, cy = codec.encode(x), codec.encode(y)
    assert torch.equal(cx[..., :12], cy[..., :12])
    assert not torch.equal(cx[..., 12:], cy[..., 12:])
    # decoding: tokens after frame 12 changed change no sample before 12 * hop - H
    tokens = torch.cat([cx[..., :12], cy[..., 12:]], dim=-1)
    a, b = codec.decode(cx), codec.decode(tokens)
    edge = 12 * HOP - codec.generator.H
    assert torch.equal(a[..., :edge], b[..., :edge])
    assert not torch.equal(a[..., edge:], b[..., edge:])


def test_student_prediction_streams_and_equals_offline_prediction(pair):
    student = pair[1]
    plain = torch.randint(0, 1024, (1, 17))
    quantizer = student.generator.quantizer
    whole, whole_tokens = quantizer.decode(plain)
    state, parts, tokens = None, [], []
    for i in range(0, 17, 4):
        q, t, state = quantizer.predict_step(plain[:, i : i + 4], state)
        parts.append(q)
        tokens.append(t)
    assert (torch.cat(parts, dim=-1) - whole).abs().max() < 1e-5
    assert torch.equal(torch.cat(tokens, dim=-1), whole_tokens)


def test_latency_rates_and_batches(pair):
    teacher, student = pair
    assert teacher.streaming and student.streaming
    assert student.latency_samples == HOP + 40  # 22.5 ms at 16 kHz
    assert student.nominal_bitrate == 500.0
    # a padded batch gives each item what it gets alone
    a, b = 0.3 * torch.randn(1, 1, 4000), 0.3 * torch.randn(1, 1, 6500)
    batch = torch.zeros(2, 1, 6500)
    batch[0, :, :4000], batch[1] = a[0], b[0]
    codes = student.encode(batch, lengths=torch.tensor([4000, 6500]))
    assert torch.equal(codes[:, :1, : student.frames_for(4000)], student.encode(a))
    audio = student.decode(codes, length=6500, frames=torch.tensor([student.frames_for(4000), 21]))
    alone = student.decode(student.encode(a), length=4000)
    assert (audio[0, :, :4000] - alone[0]).abs().max() < 1e-5


def test_offline_codec_does_not_stream():
    codec = GANCodecTask.build_model(task_args(load_config("teacher_tiny.yaml"))).codec
    assert not codec.streaming
    with pytest.raises(ValueError, match="causal: true"):
        codec.encode_stream()
    with pytest.raises(ValueError, match="causal"):
        build("teacher_tiny.yaml", mdct_frame_length=120)


def test_streaming_benchmark_measures_what_it_states(tmp_path):
    """benchmarks/p2psyn_stream.py on 0.3 s: the measured latency is the stated one and
    streamed output equals offline output."""
    import re

    from benchmarks.p2psyn_stream import main

    main(["--seconds", "0.3", "--runs", "1", "--output", str(tmp_path / "r.md")])
    rows = [
        line
        for line in (tmp_path / "r.md").read_text().splitlines()
        if line.startswith("| tiny") or line.startswith("| small")
    ]
    assert len(rows) == 4
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[3] == "22.5" and re.fullmatch(r"22\.5 / [\d.]+", cells[4])
        assert float(cells[-1]) < 1e-4 and all(float(c) > 0 for c in cells[5:-1])
