"""The generator-output cache both codecs use across ESPnet's two GAN turns."""

import copy

import pytest
import torch

from espnet2_p2p.codec.p2psyn import P2PSynCodec
from espnet2_p2p.codec.shared.gan_codec import TurnCache, as_audio_batch


def counting():
    calls = []

    def compute():
        calls.append(1)
        return {"n": len(calls)}

    return calls, compute


def test_other_turn_reuses_once_same_turn_recomputes():
    cache, x = TurnCache(), torch.randn(2, 1, 8)
    calls, compute = counting()
    assert cache.get(x, "generator", compute, store=True)["n"] == 1
    assert cache.get(x.clone(), "discriminator", compute, store=True)["n"] == 1  # reused
    assert cache.get(x, "discriminator", compute, store=True)["n"] == 2  # used up
    assert cache.get(x, "discriminator", compute, store=True)["n"] == 3  # same turn: afresh
    assert len(calls) == 3


def test_no_reuse_for_another_batch_when_disabled_or_not_storing():
    x = torch.randn(2, 1, 8)
    for cache, store in [(TurnCache(), True), (TurnCache(enabled=False), True), (TurnCache(), False)]:
        calls, compute = counting()
        cache.get(x, "generator", compute, store=store)
        other = x + 1 if store and cache.enabled else x
        cache.get(other, "discriminator", compute, store=store)
        assert len(calls) == 2
    with pytest.raises(ValueError, match="turn must be one of"):
        TurnCache().get(x, "critic", lambda: {}, store=True)


def test_as_audio_batch_shapes():
    assert as_audio_batch(torch.zeros(5)).shape == (1, 1, 5)
    assert as_audio_batch(torch.zeros(3, 5)).shape == (3, 1, 5)
    assert as_audio_batch(torch.zeros(3, 1, 5)).shape == (3, 1, 5)


def test_p2psyn_two_generator_turns_on_one_batch(tiny_config):
    # The older cache handed the second generator turn the first one's outputs, whose
    # graph the first backward had freed.
    torch.manual_seed(0)
    codec = P2PSynCodec(**copy.deepcopy(tiny_config["codec_conf"])).train()
    x = 0.3 * torch.randn(2, 1, 3200)
    codec(x, forward_generator=True)["loss"].backward()
    codec(x, forward_generator=True)["loss"].backward()
    disc = codec(x, forward_generator=False)
    assert disc["optim_idx"] == 1
    disc["loss"].backward()


def test_training_forward_refuses_unbatched_audio(tiny_config):
    # inference() takes (T,); the trainer's forward() wants a batch and says so
    from test_secousti import SMALL

    from espnet2_p2p.codec.secousti import SecoustiCodec

    for codec in (P2PSynCodec(**copy.deepcopy(tiny_config["codec_conf"])), SecoustiCodec(**SMALL)):
        with pytest.raises(ValueError, match="must be a mono batch"):
            codec(torch.zeros(3200), forward_generator=True)


def _reference_turn_grads(codec, x):
    """The gradients of both turns computed the plain way: every discriminator pass run
    afresh, the discriminator's weights differentiated in the generator turn too."""
    out = codec.generator_pass(x)
    p_hat = codec.discriminator(out["audio_hat"])
    with torch.no_grad():
        p = codec.discriminator(x)
    loss, _ = codec.generator_loss(x, out)
    loss = (
        loss
        + codec.lambda_adv * codec.generator_adv_loss(p_hat)
        + codec.lambda_feat_match * codec.feat_match_loss(p_hat, p)
    )
    gen = dict(codec.generator.named_parameters())
    g_grads = torch.autograd.grad(loss, [p for p in gen.values() if p.requires_grad], allow_unused=True)
    real, fake = codec.discriminator_adv_loss(codec.discriminator(out["audio_hat"].detach()), codec.discriminator(x))
    disc = [p for p in codec.discriminator.parameters()]
    d_grads = torch.autograd.grad(real + fake, disc)
    return g_grads, d_grads


def _adversarial_codec(tiny_config):
    conf = copy.deepcopy(tiny_config["codec_conf"])
    conf.update(lambda_adv=1.0, lambda_feat_match=2.0)
    conf["quantizer_conf"] = dict(conf.get("quantizer_conf") or {}, quantizer_dropout=0.0)
    torch.manual_seed(0)
    codec = P2PSynCodec(**conf).train()
    x = 0.3 * torch.randn(2, 1, 3200)
    codec.generator_pass(x)  # k-means initialisation; then no codebook update, so that
    codec.generator.quantizer.eval()  # both computations see the same codebooks
    codec._turns.clear()
    return codec, x


def _check_grads(params, ref):
    for p, b in zip(params, ref):
        assert (p.grad is None and b is None) or torch.allclose(p.grad, b, atol=1e-6)


def test_adversarial_turns_update_as_the_plain_computation_does(tiny_config):
    """The generator turn leaves the discriminator without gradients and hands both its
    passes (decoded and real audio) to the discriminator turn, which runs none of its own;
    the gradients of both turns are those of the plain computation."""
    codec, x = _adversarial_codec(tiny_config)
    ref_g, ref_d = _reference_turn_grads(codec, x)
    calls = []
    codec.discriminator.register_forward_hook(lambda *a: calls.append(1))
    gen_turn = codec(x, forward_generator=True)
    expected = codec.generator_loss(x, codec.generator_pass(x))[0].item()  # the same codebooks, no dropout
    stats = {k: v.item() for k, v in gen_turn["stats"].items()}
    adversarial = codec.lambda_adv * stats["adv_loss"] + codec.lambda_feat_match * stats["feat_match_loss"]
    assert abs(adversarial) > 1e-3 and stats["loss"] == pytest.approx(expected + adversarial, rel=1e-5)
    gen_turn["loss"].backward()
    assert all(p.grad is None for p in codec.discriminator.parameters())
    _check_grads([p for p in codec.generator.parameters() if p.requires_grad], ref_g)
    codec.generator.zero_grad(set_to_none=True)
    codec(x, forward_generator=False)["loss"].backward()
    _check_grads(codec.discriminator.parameters(), ref_d)
    assert all(p.grad is None for p in codec.generator.parameters())
    assert len(calls) == 2  # fake and real in the generator turn, none in the other
    assert all(p.requires_grad for p in codec.discriminator.parameters())


def test_discriminator_turn_first_keeps_nothing_past_the_batch(tiny_config):
    """ESPnet's generator_first: false: the discriminator turn runs its own passes, the
    generator turn after it keeps no discriminator pass (nothing would use it), and both
    turns' gradients are the plain computation's."""
    codec, x = _adversarial_codec(tiny_config)
    ref_g, ref_d = _reference_turn_grads(codec, x)
    codec(x, forward_generator=False)["loss"].backward()
    _check_grads(codec.discriminator.parameters(), ref_d)
    assert all(p.grad is None for p in codec.generator.parameters())
    codec.discriminator.zero_grad(set_to_none=True)
    codec(x, forward_generator=True)["loss"].backward()
    _check_grads([p for p in codec.generator.parameters() if p.requires_grad], ref_g)
    assert all(p.grad is None for p in codec.discriminator.parameters())
    assert codec._fake_outputs._entry is None and codec._real_outputs._entry is None


def test_a_kept_fake_pass_serves_only_its_own_decoded_audio(tiny_config):
    """The same batch again after the generator has changed (overfitting one batch): the
    discriminator turn runs a pass on the new decoded audio, not the kept one."""
    codec, x = _adversarial_codec(tiny_config)
    codec(x, forward_generator=True)  # keeps its passes for a discriminator turn...
    with torch.no_grad():
        for p in codec.generator.parameters():
            p.add_(0.01)  # ...that, in this test, sees another generator
    codec._turns.clear()
    calls = []
    codec.discriminator.register_forward_hook(lambda *a: calls.append(1))
    codec(x, forward_generator=False)["loss"].backward()
    assert len(calls) == 1  # the decoded audio afresh; the real pass (same weights) kept


@pytest.mark.parametrize("length", [1600, 1601])  # 1601 is prime: every period pads (reflect)
def test_period_discriminators_compute_what_espnets_do(length):
    """The 1-D computation of the period discriminators gives ESPnet's feature maps (same
    layout) and gradients, from ESPnet's own parameters."""
    from espnet2.gan_tts.hifigan.hifigan import HiFiGANPeriodDiscriminator

    from espnet2_p2p.codec.shared.discriminator import P2PSynDiscriminator, PeriodDiscriminator1d

    torch.manual_seed(0)
    disc = P2PSynDiscriminator(
        period_discriminator_params=dict(channels=8, max_downsample_channels=32), mdct_frame_lengths=[128]
    )
    for d in disc.mpd.discriminators:
        assert type(d) is PeriodDiscriminator1d and isinstance(d, HiFiGANPeriodDiscriminator)
        x = torch.randn(3, 1, length, requires_grad=True)
        ours, theirs = d(x), HiFiGANPeriodDiscriminator.forward(d, x)
        assert [o.shape for o in ours] == [t.shape for t in theirs]
        for o, t in zip(ours, theirs):
            assert torch.allclose(o, t, atol=1e-6)
        params = [x] + list(d.parameters())
        g_ours = torch.autograd.grad(sum((o**2).sum() for o in ours), params)
        g_theirs = torch.autograd.grad(sum((t**2).sum() for t in theirs), params)
        for a, b in zip(g_ours, g_theirs):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * b.abs().max().item())
    names = {k for k in disc.state_dict() if k.startswith("mpd.")}
    assert "mpd.discriminators.0.convs.0.0.weight_g" in names and "mpd.discriminators.4.output_conv.weight_v" in names


def test_mdct_discriminators_give_the_same_maps_channels_last():
    from espnet2_p2p.codec.shared.discriminator import MDCTDiscriminator

    torch.manual_seed(0)
    d = MDCTDiscriminator(128, channels=8, num_layers=3)
    x = torch.randn(2, 1, 3000, requires_grad=True)
    fast = d(x)
    assert fast[1].is_contiguous(memory_format=torch.channels_last)
    g_fast = torch.autograd.grad(sum((m**2).sum() for m in fast), [x] + list(d.parameters()))
    d.channels_last = False
    plain = d(x)
    assert plain[1].is_contiguous()
    g_plain = torch.autograd.grad(sum((m**2).sum() for m in plain), [x] + list(d.parameters()))
    for a, b in zip(fast, plain):
        assert torch.allclose(a, b, atol=1e-5)
    for a, b in zip(g_fast, g_plain):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * b.abs().max().item())
