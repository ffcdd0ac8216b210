"""Batched coding of different lengths equals coding alone; chunked coding of long
inputs equals whole-input coding for short inputs and stays within a measured bound
for long ones."""

import numpy as np
import pytest
import torch
from espnet2.tasks.gan_codec import GANCodecTask

from conftest import load_config, task_args, trained_like
from espnet2_p2p.coding import torch_chunks as chunked


def with_upsample(config: dict, upsample: str) -> dict:
    config["codec_conf"]["decoder_upsample"] = upsample
    return config


@pytest.fixture(scope="module", params=["transposed", "linear"])
def codecs(request):
    teacher = trained_like(
        GANCodecTask.build_model(task_args(with_upsample(load_config("teacher_tiny.yaml"), request.param)))
    )
    student = GANCodecTask.build_model(task_args(with_upsample(load_config("student_tiny.yaml"), request.param)))
    student.load_state_dict(teacher.state_dict(), strict=False)
    return {"teacher": teacher.codec, "student": student.eval().codec}


LENGTHS = [16000, 5000, 321, 1, 12345]


@pytest.mark.parametrize("kind", ["teacher", "student"])
def test_batched_encoding_equals_encoding_alone(codecs, kind):
    codec = codecs[kind]
    torch.manual_seed(1)
    items = [0.1 * torch.randn(n) for n in LENGTHS]
    batch = torch.zeros(len(items), 1, max(LENGTHS))
    for b, x in enumerate(items):
        batch[b, 0, : len(x)] = x
    batch[1, 0, 5000:] = 7.0  # whatever lies past an item's length is ignored
    lengths = torch.tensor(LENGTHS)
    codes = codec.encode(batch, lengths)
    tokens = codec.tokens(batch, lengths)
    frames = codec.generator.num_frames_tensor(lengths)
    audio = codec.decode(codes, length=max(LENGTHS), frames=frames)
    for b, x in enumerate(items):
        alone = codec.encode(x.view(1, 1, -1))
        n = alone.shape[-1]
        assert n == frames[b]
        assert torch.equal(codes[:, b, :n], alone[:, 0]), b
        assert not codes[:, b, n:].any()
        assert torch.equal(tokens[:, b, :n], codec.tokens(x.view(1, 1, -1))[:, 0]), b
        # Decoding: equal up to float rounding of differently shaped convolutions.
        wav = codec.decode(alone, length=len(x))[0, 0]
        assert (audio[b, 0, : len(x)] - wav).abs().max() < 1e-5
    # Without lengths, padding would leak into the codes of the short items.
    assert not torch.equal(codec.encode(batch)[:, 1, :16], codes[:, 1, :16])


def test_bad_lengths_are_refused(codecs):
    codec = codecs["teacher"]
    with pytest.raises(ValueError, match=r"lengths must hold 2 values in \[1, 100\]"):
        codec.encode(torch.zeros(2, 1, 100), torch.tensor([100, 101]))
    with pytest.raises(ValueError, match=r"frames must hold 1 values"):
        codec.decode(torch.zeros(4, 1, 3, dtype=torch.long), frames=torch.tensor([4]))


def test_plan_covers_every_frame_once():
    for total in [1, 7, 100, 101, 250]:
        seen = np.zeros(total, int)
        for start, end, cstart, cend in chunked.plan(total, 10, 3):
            assert cstart <= start < end <= cend and cend - cstart <= 16
            seen[start:end] += 1
        assert (seen == 1).all()
    assert list(chunked.plan(12, 10, 3)) == [(0, 12, 0, 12)]


@pytest.mark.parametrize("kind", ["teacher", "student"])
def test_short_input_is_coded_whole(codecs, kind):
    codec = codecs[kind]
    x = 0.1 * torch.randn(3 * 16000 + 77)
    codes = chunked.encode(codec, lambda s, e: x[s:e].numpy(), len(x), "all", chunk_seconds=3.0)
    whole = codec.tokens(x.view(1, 1, -1))[:, 0].numpy()
    np.testing.assert_array_equal(codes, whole)
    parts = []
    chunked.decode(codec, codes[:1], len(x), parts.append, chunk_seconds=3.0)
    wav = codec.decode(torch.from_numpy(codes[:1]).unsqueeze(1), length=len(x))[0, 0].numpy()
    np.testing.assert_array_equal(np.concatenate(parts), wav)


# Measured on this test's signal with the tiny configs (GRN scales random): plain-token
# agreement and waveform SNR of chunked vs whole-input coding; the bounds leave margin.
MIN_TOKEN_AGREEMENT = 0.95
MIN_SNR_DB = 20.0


def speechlike(seconds: float, seed: int = 0) -> torch.Tensor:
    """Noise with a syllable-rate envelope and a moving resonance (not stationary)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * 16000)) / 16000
    env = 0.5 + 0.5 * torch.sin(2 * torch.pi * 4 * t + torch.rand(1, generator=g) * 6)
    tone = torch.sin(2 * torch.pi * (200 + 100 * torch.sin(2 * torch.pi * 0.3 * t)) * t)
    return 0.1 * env * (tone + 0.3 * torch.randn(len(t), generator=g))


@pytest.mark.parametrize("kind", ["teacher", "student"])
def test_long_input_chunked_is_close_to_whole(codecs, kind):
    codec = codecs[kind]
    x = speechlike(20.0)
    read = lambda s, e: x[s:e].numpy()  # noqa: E731
    codes = chunked.encode(codec, read, len(x), "all", chunk_seconds=4.0, context_seconds=1.0)
    whole = codec.tokens(x.view(1, 1, -1))[:, 0].numpy()
    agreement = (codes[0] == whole[0]).mean()
    assert agreement >= MIN_TOKEN_AGREEMENT, agreement
    parts = []
    chunked.decode(codec, whole[:1], len(x), parts.append, chunk_seconds=4.0, context_seconds=1.0)
    y = np.concatenate(parts)
    ref = codec.decode(torch.from_numpy(whole[:1]).unsqueeze(1), length=len(x))[0, 0].numpy()
    assert y.shape == ref.shape
    snr = 10 * np.log10((ref**2).sum() / ((y - ref) ** 2).sum())
    assert snr >= MIN_SNR_DB, snr
