"""SecoustiCodec: streaming equals offline, bitrate and latency, ESPnet plumbing, bad input."""

import math

import numpy as np
import pytest
import torch
from espnet2.tasks.gan_codec import codec_choices

from conftest import REAL_SPEECH, load_config, task_args
from conftest import SMALL as SMALL_SIZES
from espnet2_p2p.codec.secousti import SecoustiCodec
from espnet2_p2p.codec.secousti.secousti import CausalLinearUpsample
from espnet2_p2p.tasks.gan_codec import P2PGANCodecModel, P2PGANCodecTask

SMALL = SMALL_SIZES["secousti"]


def trained_a_little(**changes):
    torch.manual_seed(0)
    c = SecoustiCodec(**{**SMALL, **changes})
    # a few steps so that weights are not at their initial symmetric values
    opt = torch.optim.Adam(c.generator.parameters(), lr=1e-3)
    x = torch.randn(2, 1, 192 * 20) * 0.3
    for _ in range(3):
        out = c(x, frame_labels=torch.randint(0, 12, (2, x.shape[-1])))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    return c.eval()


@pytest.fixture(scope="module")
def codec():
    return trained_a_little()


@pytest.fixture(scope="module")
def linear_codec():
    return trained_a_little(decoder_upsample="linear")


def stream(codec, x, g, k):
    """Encode x in pieces of k code frames, decode the tokens in pieces of k frames."""
    hop = codec.hop_length
    enc = codec.encode_stream()
    parts = [enc(x[..., i : i + k * hop]) for i in range(0, x.shape[-1], k * hop)] + [enc.flush()]
    codes = torch.cat(parts, dim=-1)
    dec = codec.decode_stream(g, batch=x.shape[0])
    audio = [dec(codes[..., i : i + k]) for i in range(0, codes.shape[-1], k)] + [dec.flush(x.shape[-1])]
    return codes, torch.cat(audio, dim=-1)[..., : x.shape[-1]]


@pytest.mark.parametrize("upsample", ["patch", "linear"])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_streaming_equals_offline(codec, linear_codec, upsample, k):
    codec = codec if upsample == "patch" else linear_codec
    x = torch.randn(2, 1, 192 * 23 + 77) * 0.3  # 24 frames, the last one partial
    codes = codec.encode(x)
    g = codec.reference(x)
    offline = codec.decode(codes, g, length=x.shape[-1])
    s_codes, s_audio = stream(codec, x, g, k)
    assert torch.equal(s_codes, codes)
    assert s_audio.shape == offline.shape
    assert (s_audio - offline).abs().max() < 1e-4
    assert offline.abs().max() > 1e-3  # not trivially equal


def test_causal_linear_upsampling():
    """Each code frame's MDCT frames run from the previous code frame to its own (so a
    steady input stays steady), need nothing later, and pieces give the whole."""
    up = CausalLinearUpsample(4)
    u = torch.randn(2, 3, 6)
    whole, last = up(u)
    assert whole.shape == (2, 3, 24) and torch.equal(last, u[..., -1:])
    assert torch.allclose(whole[..., 3::4], u)  # the last MDCT frame of each code frame is it
    assert torch.allclose(
        whole[..., 4:8], u[..., :1] + torch.tensor([0.25, 0.5, 0.75, 1.0]) * (u[..., 1:2] - u[..., :1])
    )
    assert torch.allclose(whole[..., :4], u[..., :1].expand(2, 3, 4))  # a stream starts steady
    first, state = up(u[..., :2])
    empty, same = up(u[..., :0], state)
    assert empty.shape == (2, 3, 0) and same is state
    second, _ = up(u[..., 2:], state)
    assert torch.equal(torch.cat([first, second], -1), whole)
    steady, _ = up(torch.ones(1, 2, 5))
    assert torch.equal(steady, torch.ones(1, 2, 20))


def test_linear_decoder_stamps_no_pattern_on_code_frames(codec, linear_codec):
    """Steady FSQ values: the linear decoder's MDCT frames settle to a steady value within
    a few code frames, where the patch decoder repeats a pattern every code frame."""

    def coefficients(c):
        gen = c.generator
        values = torch.full((1, gen.dec_in.in_channels, 12), 0.5)
        with torch.no_grad():
            return gen.decode_frames(values, torch.zeros(1, c.paralinguistic_dim))[0][0]

    D = codec.generator.D
    linear, patch = coefficients(linear_codec)[:, 6 * D :], coefficients(codec)[:, 6 * D :]
    assert (linear - linear[:, -1:]).abs().max() < 1e-4 * linear.abs().max()
    assert (patch - patch[:, -1:]).abs().max() > 0.1 * patch.abs().max()
    assert torch.allclose(patch[:, :D], patch[:, D : 2 * D], atol=1e-5)  # a pattern repeated


def test_unknown_decoder_upsampling_is_refused():
    with pytest.raises(ValueError, match="decoder_upsample must be one of"):
        SecoustiCodec(**{**SMALL, "decoder_upsample": "cubic"})


def test_encoding_is_causal(codec):
    """Changing the future does not change the tokens of the past."""
    x = torch.randn(1, 1, 192 * 12) * 0.3
    y = x.clone()
    y[..., 192 * 8 :] = torch.randn(1, 1, 192 * 4)
    assert torch.equal(codec.encode(x)[..., :8], codec.encode(y)[..., :8])
    assert not torch.equal(codec.encode(x)[..., 8:], codec.encode(y)[..., 8:])


def test_streams_of_odd_pieces(codec):
    x = torch.randn(1, 1, 3000) * 0.3
    enc = codec.encode_stream()
    pieces = [enc(x[..., a:b]) for a, b in [(0, 50), (50, 700), (700, 701), (701, 3000)]] + [enc.flush()]
    assert torch.equal(torch.cat(pieces, -1), codec.encode(x))


def test_rates_latency_and_meta_info():
    tiny = SecoustiCodec(**load_config("secousti_tiny.yaml")["codec_conf"])
    info = tiny.bitrate_info()
    assert tiny.hop_length == 192 and math.isclose(info["frame_rate_hz"], 16000 / 192)
    assert info["bits_per_frame_packed"] == 13
    assert math.isclose(info["bitrate_packed"], 13 * 16000 / 192)  # 1083.3 bit/s
    assert math.isclose(info["algorithmic_latency_ms"], 1000 * (192 + 24) / 16000)  # 13.5 ms
    assert info["paralinguistic_bits_per_stream"] == 32 * 8
    assert tiny.meta_info() == {"fs": 16000, "num_streams": 1, "frame_shift": 192, "code_size_per_stream": [6561]}
    slow = SecoustiCodec(**load_config("secousti_21hz.yaml")["codec_conf"])
    assert slow.hop_length == 768 and math.isclose(slow.bitrate(), 13 * 16000 / 768)  # 270.8 bit/s


def test_registered_and_trains_through_espnets_model_with_labels():
    assert codec_choices.classes["secousti"] is SecoustiCodec
    config = load_config("secousti_tiny.yaml")
    model = P2PGANCodecTask.build_model(task_args(config))
    assert isinstance(model, P2PGANCodecModel) and isinstance(model.codec, SecoustiCodec)
    audio = torch.randn(2, 9600) * 0.1
    labels = torch.randint(0, 40, (2, 9600)).to(torch.int16)
    out = model(audio=audio, forward_generator=True, frame_labels=labels)
    assert {"contrastive_loss", "contrastive_acc", "kl_loss", "mel_l1_loss"} <= set(out["stats"])
    out["loss"].backward()
    assert model.codec.contrastive_proj.weight.grad.abs().sum() > 0
    assert model.codec.generator.bottleneck.vae.proj.weight.grad.abs().sum() > 0
    # without labels (e.g. P2PSynCodec-style data) the term is simply absent
    out = model(audio=audio, forward_generator=True)
    assert "contrastive_loss" not in out["stats"]
    disc = model(audio=audio, forward_generator=False)
    assert disc["optim_idx"] == 1


def test_contrastive_term_can_be_switched_off(codec):
    """lambda_contrastive = 0 leaves the term out of the loss (still reported); the total
    with lambda = 1 is larger by exactly the term."""
    labels = torch.randint(0, 12, (1, 192 * 10))
    x = torch.randn(1, 1, 192 * 10) * 0.3
    totals = {}
    try:
        codec.train()
        for weight in (0.0, 1.0):
            codec.lambda_contrastive = weight
            torch.manual_seed(3)  # the same VAE sample in both passes
            out = codec(x, frame_labels=labels)
            totals[weight] = (out["loss"].item(), float(out["stats"]["contrastive_loss"]))
    finally:
        codec.lambda_contrastive = 1.0
        codec.eval()
    (off, term_off), (on, term_on) = totals[0.0], totals[1.0]
    assert term_off > 0 and term_on == pytest.approx(term_off)  # reported either way
    assert on - off == pytest.approx(term_on, rel=1e-4)


def test_frame_label_targets_take_the_centre_sample(codec):
    labels = torch.arange(192 * 3).view(1, -1) // 192  # 0, 1, 2 per frame
    assert codec.frame_label_targets(labels, 4).tolist() == [[0, 1, 2, -1]]
    big = torch.full((1, 192), 99)
    assert codec.frame_label_targets(big, 1).tolist() == [[-1]]  # outside the vocabulary


def test_bad_input(codec):
    with pytest.raises(ValueError, match="NaN|finite|nan"):
        codec.encode(torch.full((1, 1, 400), float("nan")))
    with pytest.raises(ValueError, match="empty"):
        codec.encode(torch.zeros(1, 1, 0))
    with pytest.raises(ValueError, match=r"\(1, B, frames\)"):
        codec.decode(torch.zeros(2, 1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="6561"):
        codec.decode(torch.full((1, 1, 5), 7000))
    with pytest.raises(ValueError, match="paralinguistic vector"):
        codec.decode(torch.zeros(1, 1, 5, dtype=torch.long), torch.zeros(1, 3))


def test_decode_without_reference_uses_the_neutral_vector(codec):
    codes = torch.randint(0, 6561, (1, 1, 9))
    a = codec.decode(codes)
    b = codec.decode(codes, torch.zeros(1, 8))
    assert torch.equal(a, b) and a.shape == (1, 1, 9 * 192)


def test_paralinguistic_codes_round_trip(codec):
    g = codec.reference(torch.randn(2, 1, 16000) * 0.3)
    codes = codec.paralinguistic_codes(g)
    assert codes.dtype == torch.long and int(codes.min()) >= 0 and int(codes.max()) <= 255
    assert torch.allclose(codec.paralinguistic_from_codes(codes), g, atol=1e-6)
    assert np.all(np.isfinite(g.numpy()))
    assert codec.paralinguistic_bytes(g[:1]) == bytes(codes[0].tolist())


def test_paralinguistic_codes_out_of_range_are_refused_not_wrapped():
    from espnet2_p2p.errors import TokenError

    torch.manual_seed(0)
    c = SecoustiCodec(**SMALL).eval()
    with pytest.raises(TokenError, match=r"paralinguistic codes must lie in \[0, 256\), got 0\.\.256"):
        c.paralinguistic_from_codes(torch.tensor([[0] * 7 + [256]]))
    with pytest.raises(TokenError, match=r"must lie in \[0, 256\), got -1"):
        c.paralinguistic_from_codes(torch.tensor([[-1] * 8]))
    wide = SecoustiCodec(**SMALL, paralinguistic_bits=9).eval()
    g = wide.reference(torch.randn(1, 1, 16000) * 0.3)
    with pytest.raises(TokenError, match="codes of 9 bits do not fit the one byte per value"):
        wide.paralinguistic_bytes(g)


def test_mismatched_checkpoints_are_refused():
    from espnet2_p2p.errors import ModelLoadError
    from espnet2_p2p.model_io import build_codec

    secousti = load_config("secousti_tiny.yaml")
    p2psyn = load_config("teacher_tiny.yaml")
    p2p_state = P2PGANCodecTask.build_model(task_args(p2psyn)).state_dict()
    with pytest.raises(ModelLoadError):
        build_codec(secousti, p2p_state, "p2psyn.pth")
    own = P2PGANCodecTask.build_model(task_args(secousti)).state_dict()
    assert isinstance(build_codec(secousti, own, "own.pth").codec, SecoustiCodec)
    wider = dict(secousti, codec_conf=dict(secousti["codec_conf"], paralinguistic_dim=16))
    with pytest.raises(ModelLoadError):
        build_codec(wider, own, "own.pth")


def test_gan_turns_share_one_generator_pass():
    """ESPnet's GAN trainer calls the generator turn, then the discriminator turn on the
    same batch: the generator runs once for both; the next generator turn runs it again."""
    torch.manual_seed(0)
    conf = dict(
        SMALL,
        lambda_adv=1.0,
        lambda_feat_match=2.0,
        discriminator_params=dict(periods=[2, 3], mdct_frame_lengths=[128]),
    )
    codec = SecoustiCodec(**conf).train()
    passes = []
    codec.generator.analyse = lambda *a, _f=codec.generator.analyse, **k: passes.append(1) or _f(*a, **k)
    x = torch.randn(2, 1, 192 * 8) * 0.3
    gen = codec(x, forward_generator=True)
    assert {"adv_loss", "feat_match_loss"} <= set(gen["stats"]) and len(passes) == 1
    gen["loss"].backward()
    disc = codec(x, forward_generator=False)  # reuses the generator turn's output
    assert len(passes) == 1
    assert disc["optim_idx"] == 1 and disc["stats"]["discriminator_loss"] > 0
    disc["loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in codec.discriminator.parameters())
    again = codec(x, forward_generator=True)  # a new generator turn computes afresh
    assert len(passes) == 2
    again["loss"].backward()


def test_tokenizer_gives_one_stream_and_the_paralinguistic_codes(codec):
    from espnet2_p2p.speechlm.tokenizer import P2PTokenizer, TokenError

    tok = P2PTokenizer(codec, "all")
    assert tok.num_streams == 1 and tok.sizes == [6561] and tok.has_paralinguistic
    assert P2PTokenizer(codec, "plain").sizes == [6561]
    torch.manual_seed(1)
    a, b = 0.3 * torch.randn(192 * 9 + 5), 0.3 * torch.randn(192 * 4)
    ta, tb = tok.encode(a), tok.encode(b)
    assert ta.shape == (10, 1) and tb.shape == (4, 1)
    assert torch.equal(ta[:, 0], codec.encode(a.view(1, 1, -1))[0, 0])
    # a zero-padded batch: each item's own frames are what it gets alone, the rest 0
    batch = torch.zeros(2, a.numel())
    batch[0], batch[1, : b.numel()] = a, b
    tt = tok.encode(batch, [a.numel(), b.numel()])
    assert torch.equal(tt[0], ta) and torch.equal(tt[1, :4], tb) and not tt[1, 4:].any()
    para = tok.paralinguistic(a)
    assert para.shape == (8,) and 0 <= int(para.min()) and int(para.max()) < 256
    g = codec.paralinguistic_from_codes(para.view(1, -1))
    ref = codec.decode(ta.t().unsqueeze(1), paralinguistic=g, length=a.numel())[0, 0]
    assert torch.allclose(tok.decode(ta, length=a.numel(), paralinguistic=para), ref)
    assert not torch.allclose(tok.decode(ta, length=a.numel()), ref)  # neutral vector
    with pytest.raises(TokenError, match="expected 8 integer codes in \\[0, 256\\)"):
        tok.decode(ta, paralinguistic=torch.full((8,), 256))
    with pytest.raises(TokenError, match="expected 8 integer codes"):
        tok.decode(ta, paralinguistic=np.zeros(7, dtype=np.int64))
    with pytest.raises(TokenError, match="outside \\[0, 6561\\)"):
        tok.decode(torch.full((3, 1), 6561))
    with pytest.raises(ValueError, match="wav contains non-finite samples: 1 NaN"):
        tok.paralinguistic(torch.tensor([0.1, float("nan"), 0.2]))


def secousti_models():
    """The committed SecoustiCodec fixture and every shipped SecoustiCodec model."""
    from pathlib import Path

    from espnet2_p2p import pretrained

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "secousti_fixture.zip"
    shipped = [n for n, (_, _, models) in pretrained.MODELS.items() if "secousti" in models]
    return [pytest.param(fixture, id="fixture")] + [pytest.param(n, id=n) for n in shipped]


@pytest.mark.skipif(not REAL_SPEECH.is_dir(), reason="../shared/data/real_speech is not present")
@pytest.mark.parametrize("model", secousti_models())
def test_real_speech_streams_chunk_by_chunk_as_it_codes_whole(model):
    """On real voices (two LibriTTS clips and a VCTK one, resampled to 16 kHz), encoding
    in pieces gives the whole file's tokens and decoding in pieces its audio."""
    import soundfile as sf

    from espnet2_p2p import pretrained
    from espnet2_p2p.evaluation.metrics import resample
    from espnet2_p2p.model_io import load_codec

    codec = load_codec(pretrained.chosen_model(str(model))).codec
    clips = (
        sorted((REAL_SPEECH / "libritts_16k").glob("*.wav"))[:2] + sorted((REAL_SPEECH / "vctk_48k").glob("*.wav"))[:1]
    )
    assert len(clips) == 3
    for clip, k in zip(clips, (1, 7, 25)):
        audio, fs = sf.read(str(clip), dtype="float32")
        x = torch.from_numpy(resample(audio, fs, 16000)).view(1, 1, -1)
        codes = codec.encode(x)
        g = codec.reference(x)
        whole = codec.decode(codes, g, length=x.shape[-1])
        s_codes, s_audio = stream(codec, x, g, k)
        assert torch.equal(s_codes, codes), clip.name
        assert s_audio.shape == whole.shape and (s_audio - whole).abs().max() < 1e-4, clip.name
        assert whole.abs().max() > 1e-2  # speech came out
