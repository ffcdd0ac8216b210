"""Stage 2: the student codec, knowledge transfer from the teacher, freezing, mismatches."""

import copy

import pytest
import torch
from espnet2.tasks.gan_codec import GANCodecTask
from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

from conftest import load_config, task_args


@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory):
    """A tiny teacher after one training step (codebooks initialised), saved as ESPnet does."""
    torch.manual_seed(0)
    model = GANCodecTask.build_model(task_args(load_config("teacher_tiny.yaml")))
    model.train()
    model(0.1 * torch.randn(4, 8000), forward_generator=True)
    path = tmp_path_factory.mktemp("teacher") / "teacher.pth"
    torch.save(model.state_dict(), path)
    return path


def build_student(**codec_overrides):
    config = load_config("student_tiny.yaml")
    config["codec_conf"].update(codec_overrides)
    args = task_args(config)
    return GANCodecTask.build_model(args), args


def test_student_meta_info_and_streams(teacher_file):
    model, _ = build_student()
    load_pretrained_model(str(teacher_file), model, ignore_init_mismatch=False)
    codec = model.codec.eval()
    assert codec.meta_info() == {
        "fs": 16000,
        "num_streams": 1,
        "frame_shift": 320,
        "code_size_per_stream": [1024],
    }
    assert codec.bitrate() == pytest.approx(500.0)
    x = 0.1 * torch.randn(2, 1, 16000)
    codes = codec.encode(x)
    assert codes.shape == (1, 2, 50)
    tokens = codec.tokens(x)
    assert tokens.shape == (4, 2, 50) and torch.equal(tokens[:1], codes)
    assert int(tokens[1:].max()) < 1024
    assert codec.decode(codes, length=16000).shape == (2, 1, 16000)
    # Given all 1 + N streams (as a language model would generate them), nothing is
    # predicted: with argmax codewords that is the same as predicting them.
    codec.generator.quantizer.pseudo_codeword = "argmax"
    assert torch.equal(codec.decode(tokens, length=16000), codec.decode(codes, length=16000))
    with pytest.raises(ValueError, match="1 stream .* or 4"):
        codec.decode(tokens[:2])


def test_zero_bits_changing_the_residual_keeps_the_output(teacher_file):
    model, _ = build_student()
    load_pretrained_model(str(teacher_file), model, ignore_init_mismatch=False)
    codec = model.codec.eval()
    quantizer = codec.generator.quantizer
    x = 0.1 * torch.randn(1, 1, 8000)
    reference = codec.decode(codec.encode(x), length=8000)
    residual_before = quantizer.encode_residual(codec.generator.analyse(x)[1])

    def swap_residuals(module, inputs, z):
        # Keep each frame's plain codeword, give it another frame's (halved) residual.
        c0 = quantizer.rvq.codeword(0, quantizer.encode(z))
        return c0 + 0.5 * (z - c0).roll(1, dims=-1)

    handle = codec.generator.encoder.register_forward_hook(swap_residuals)
    try:
        residual_after = quantizer.encode_residual(codec.generator.analyse(x)[1])
        assert torch.equal(residual_after[0], residual_before[0])
        assert not torch.equal(residual_after[1:], residual_before[1:])
        assert torch.equal(codec.decode(codec.encode(x), length=8000), reference)
    finally:
        handle.remove()


def test_knowledge_transfer_and_frozen_parameters(teacher_file):
    model, args = build_student()
    load_pretrained_model(str(teacher_file), model, ignore_init_mismatch=False)
    teacher_state = torch.load(teacher_file, weights_only=True)
    student_state = model.state_dict()
    shared = [k for k in teacher_state if k in student_state]
    assert len(shared) == len(teacher_state)  # every teacher tensor has a home
    for key in shared:
        assert torch.equal(teacher_state[key], student_state[key]), key

    optim_g, optim_d = GANCodecTask.build_optimizers(args, model)
    before = copy.deepcopy(model.state_dict())
    model.train()
    x = 0.1 * torch.randn(4, 8000)
    for turn, optim in ((True, optim_g), (False, optim_d)):
        out = model(x, forward_generator=turn)
        if turn:
            stats = out["stats"]
        assert torch.isfinite(out["loss"]).all()
        optim.zero_grad()
        out["loss"].backward()
        optim.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".quantizer.predictors." in k for k in changed)
    assert all(torch.equal(before[k], after[k]) for k in shared)  # frozen: bit-identical
    assert {"ce_loss", "acc_level1", "acc_level3", "majority_level2"} <= set(stats)


def test_finetune_decoder_flag_trains_the_decoder(teacher_file):
    model, args = build_student(finetune_decoder=True, lambda_adv=0.0, lambda_feat_match=0.0)
    load_pretrained_model(str(teacher_file), model, ignore_init_mismatch=False)
    optim_g, _ = GANCodecTask.build_optimizers(args, model)
    before = copy.deepcopy(model.codec.generator.state_dict())
    model.train()
    out = model(0.1 * torch.randn(2, 8000), forward_generator=True)
    assert "mel_l1_loss" in out["stats"]
    optim_g.zero_grad()
    out["loss"].backward()
    optim_g.step()
    after = model.codec.generator.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith("decoder.") for k in changed)
    assert not any(k.startswith(("encoder.", "quantizer.rvq.")) for k in changed)


@pytest.mark.parametrize("mode", ["student", "teacher"])
def test_decoder_only_trains_the_decoder_alone_and_keeps_the_tokens(teacher_file, mode):
    """Issue 40's decoder-side training: the student's predictors, the codebooks and the
    encoder stay bit-identical (and so do the tokens); a teacher of the plain VQ alone
    (num_pseudo 0) is trained the same way as the plain-only control."""
    overrides = dict(decoder_only=True, lambda_adv=1.0, lambda_feat_match=2.0, decoder_upsample="linear")
    if mode == "student":
        model, args = build_student(**overrides)
    else:
        config = load_config("teacher_tiny.yaml")
        config["codec_conf"].update(overrides, num_pseudo=0)
        args = task_args(config)
        model = GANCodecTask.build_model(args)
    q = "codec.generator.quantizer.rvq.layers"
    drop = ["codec.generator.decoder.upsample"]  # the teacher's decoder upsampled otherwise
    if mode == "teacher":  # its plain VQ alone
        drop += [f"{q}.1", f"{q}.2", f"{q}.3", "codec.generator.quantizer.layout"]
    load_pretrained_model(f"{teacher_file}:::{','.join(drop)}", model, False)
    optim_g, optim_d = GANCodecTask.build_optimizers(args, model)
    x = 0.1 * torch.randn(2, 8000)
    codec = model.codec
    tokens = codec.eval().tokens(x.view(2, 1, -1)) if mode == "student" else codec.eval().encode(x.view(2, 1, -1))
    before = copy.deepcopy(codec.generator.state_dict())
    model.train()
    assert not codec.generator.quantizer.training and not codec.generator.encoder.training
    assert codec.generator.decoder.training
    for turn, optim in ((True, optim_g), (False, optim_d)):
        out = model(x, forward_generator=turn)
        optim.zero_grad()
        out["loss"].backward()
        optim.step()
    after = codec.generator.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("decoder.") for k in changed)
    assert out["stats"]["discriminator_loss"] > 0  # the discriminator trained too
    again = codec.eval().tokens(x.view(2, 1, -1)) if mode == "student" else codec.eval().encode(x.view(2, 1, -1))
    assert torch.equal(tokens, again)


@pytest.mark.parametrize(
    "teacher_overrides, message",
    [
        (dict(num_pseudo=5), r"checkpoint has N=5 pseudo VQs.*this model has N=3"),
        (dict(codebook_size=512), r"\[512, 1024, 1024, 1024\].*\[1024, 1024, 1024, 1024\]"),
        (dict(pseudo_codebook_size=64), r"\[1024, 64, 64, 64\]"),
    ],
)
def test_mismatched_teacher_checkpoint_is_named(tmp_path, teacher_overrides, message):
    config = load_config("teacher_tiny.yaml")
    config["codec_conf"].update(teacher_overrides)
    teacher = GANCodecTask.build_model(task_args(config))
    path = tmp_path / "other_teacher.pth"
    torch.save(teacher.state_dict(), path)
    student, _ = build_student()
    with pytest.raises(ValueError, match=message):
        load_pretrained_model(str(path), student, ignore_init_mismatch=False)
