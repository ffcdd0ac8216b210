import copy
import math

import pytest
import torch
from espnet2.gan_codec.espnet_model import ESPnetGANCodecModel
from espnet2.tasks.gan_codec import GANCodecTask

from conftest import load_config, task_args
from espnet2_p2p.codec.p2psyn import P2PSynCodec


@pytest.fixture(scope="module")
def tiny_model(tiny_config):
    torch.manual_seed(0)
    return GANCodecTask.build_model(task_args(tiny_config))


def test_build_model_from_tiny_config(tiny_model):
    assert isinstance(tiny_model, ESPnetGANCodecModel)
    assert isinstance(tiny_model.codec, P2PSynCodec)
    n_gen = sum(p.numel() for p in tiny_model.codec.generator.parameters())
    assert 100_000 < n_gen < 1_000_000  # "a few hundred K"
    info = tiny_model.meta_info()
    assert info == {
        "fs": 16000,
        "num_streams": 4,
        "frame_shift": 320,
        "code_size_per_stream": [1024, 1024, 1024, 1024],
    }
    # Teacher: all streams are sent: 4 x 10 bits at 50 Hz.
    assert tiny_model.codec.bitrate() == pytest.approx(2000.0)


@pytest.fixture(scope="module")
def linear_model(tiny_config):
    torch.manual_seed(0)
    config = copy.deepcopy(tiny_config)
    config["codec_conf"]["decoder_upsample"] = "linear"
    return GANCodecTask.build_model(task_args(config))


@pytest.mark.parametrize("upsample", ["transposed", "linear"])
@pytest.mark.parametrize("length", [1, 319, 320, 16000, 16001])
def test_encode_decode_shapes(tiny_model, linear_model, upsample, length):
    model = tiny_model if upsample == "transposed" else linear_model
    codec = model.codec.eval()
    x = 0.1 * torch.randn(2, 1, length)
    codes = codec.encode(x)
    assert codes.shape == (4, 2, math.ceil(length / 320))
    assert codes.dtype == torch.long
    y = codec.decode(codes, length=length)
    assert y.shape == (2, 1, length)
    assert codec.decode(codes).shape[-1] == codes.shape[-1] * 320
    out = codec.inference(x[0, 0])
    assert out["wav"].shape == (length,)
    # ESPnet's wrapper accepts (B, T) and gives the same codes.
    assert torch.equal(model.encode(x[:, 0]), codes)


def test_linear_upsampling_stamps_no_pattern_on_code_frames(tiny_model, linear_model):
    """A steady latent: the linear decoder's MDCT frames are steady away from the edges,
    the transposed conv's repeat a pattern every 8 frames (the 50 Hz buzz of issue 40)."""
    z = torch.randn(1, 32, 1).expand(1, 32, 12)
    steady = linear_model.codec.generator.decoder.eval()(z)[0, :, 24:-24]
    assert (steady - steady[:, :1]).abs().max() < 1e-5
    stamped = tiny_model.codec.generator.decoder.eval()(z)[0, :, 24:-24]
    assert torch.allclose(stamped[:, :-8], stamped[:, 8:], atol=1e-5)  # period 8 ...
    assert (stamped - stamped[:, :1]).abs().max() > 1e-2  # ... and not steady


def test_the_causal_codec_refuses_linear_upsampling(tiny_config):
    config = copy.deepcopy(tiny_config)
    config["codec_conf"].update(decoder_upsample="linear", causal=True)
    with pytest.raises(ValueError, match="decoder_upsample must be 'transposed'"):
        GANCodecTask.build_model(task_args(config))


def test_plain_only_decoding_differs_from_full(tiny_config):
    codec = GANCodecTask.build_model(task_args(tiny_config)).codec
    x = 0.1 * torch.randn(1, 1, 3200)
    codec.train()
    codec.generator(x)  # k-means initialisation of the codebooks on a first batch
    codec.eval()
    codes = codec.encode(x)
    assert not torch.equal(codec.decode(codes[:1]), codec.decode(codes))


def test_generator_and_discriminator_steps_with_espnet_optimizers(tiny_config):
    torch.manual_seed(0)
    config = copy.deepcopy(tiny_config)
    config["codec_conf"].update(lambda_adv=1.0, lambda_feat_match=2.0)  # as a GAN
    args = task_args(config)
    model = GANCodecTask.build_model(args)
    optim_g, optim_d = GANCodecTask.build_optimizers(args, model)
    model.train()
    audio = 0.1 * torch.randn(2, 6400)
    gen_before = copy.deepcopy(model.codec.generator.state_dict())
    disc_before = copy.deepcopy(model.codec.discriminator.state_dict())

    out = model(audio, forward_generator=True)
    assert out["optim_idx"] == 0
    assert torch.isfinite(out["loss"]).all()
    for key in ["mel_l1_loss", "mel_l2_loss", "mdct_loss", "commit_loss", "adv_loss", "feat_match_loss"]:
        assert key in out["stats"] and torch.isfinite(out["stats"][key]).all()
    optim_g.zero_grad()
    out["loss"].backward()
    optim_g.step()

    out = model(audio, forward_generator=False)
    assert out["optim_idx"] == 1
    assert torch.isfinite(out["loss"]).all()
    optim_d.zero_grad()
    out["loss"].backward()
    optim_d.step()

    def changed(before, module):
        after = module.state_dict()
        return [k for k in before if not torch.equal(before[k], after[k])]

    gen_changed = changed(gen_before, model.codec.generator)
    assert any("encoder" in k for k in gen_changed)
    assert any("decoder" in k for k in gen_changed)
    assert any("quantizer" in k for k in gen_changed)  # EMA codebooks
    assert len(changed(disc_before, model.codec.discriminator)) > 0


def test_without_adversarial_losses_the_discriminator_turn_is_a_no_op(tiny_config):
    args = task_args(tiny_config)
    assert args.codec_conf["lambda_adv"] == 0.0  # the tiny config trains without a GAN
    model = GANCodecTask.build_model(args)
    _, optim_d = GANCodecTask.build_optimizers(args, model)
    before = copy.deepcopy(model.codec.discriminator.state_dict())
    model.train()
    audio = 0.1 * torch.randn(2, 3200)
    out = model(audio, forward_generator=True)
    assert "adv_loss" not in out["stats"]
    out = model(audio, forward_generator=False)
    assert float(out["loss"].detach()) == 0.0
    optim_d.zero_grad()
    out["loss"].backward()
    optim_d.step()
    after = model.codec.discriminator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.zeros(1, 1, 0), "empty"),
        (torch.zeros(0, 1, 100), "empty batch"),
        (torch.tensor([[[0.0, float("nan"), 0.1]]]), "1 NaN"),
        (torch.tensor([[[0.0, float("inf"), 0.1]]]), "1 Inf"),
        (torch.zeros(2, 100), r"\(B, 1, T\)"),
        (torch.zeros(1, 2, 100), r"\(B, 1, T\)"),
        (torch.zeros(1, 1, 100, dtype=torch.long), "floating point"),
    ],
)
def test_bad_input_is_refused(tiny_model, bad, message):
    with pytest.raises(ValueError, match=message):
        tiny_model.codec.encode(bad)


def test_bad_codes_are_refused(tiny_model):
    codec = tiny_model.codec
    with pytest.raises(ValueError, match="must lie in"):
        codec.decode(torch.full((1, 1, 5), 1024))
    with pytest.raises(ValueError, match="5 streams"):
        codec.decode(torch.zeros(5, 1, 5, dtype=torch.long))


def test_paper_scale_teacher_config_builds():
    config = load_config("teacher.yaml")
    model = GANCodecTask.build_model(task_args(config))
    codec = model.codec
    assert codec.meta_info()["num_streams"] == 4
    assert codec.bitrate() == pytest.approx(2000.0)
    n_gen = sum(p.numel() for p in codec.generator.parameters())
    # MDCT 80/40, 256 channels, 8 + 8 ConvNeXt v2 blocks, 4 x 1024 x 32 codebooks.
    assert 4_000_000 < n_gen < 5_000_000
