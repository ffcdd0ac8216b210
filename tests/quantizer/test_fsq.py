import math

import pytest
import torch

from espnet2_p2p.quantizer.fsq import FSQ, VAEFSQ, VAEBottleneck, codebook_usage, kl_warmup_weight


@pytest.mark.parametrize("levels", [[3] * 8, [8, 5, 5, 5], [2, 4, 3]])
def test_codes_round_trip_and_cover_the_codebook(levels):
    fsq = FSQ(levels)
    assert fsq.codebook_size == math.prod(levels)
    codes = torch.arange(fsq.codebook_size).view(1, -1)
    values = fsq.decode(codes)
    assert values.shape == (1, len(levels), fsq.codebook_size)
    assert values.abs().max() <= 1.0
    # grid values are fixed points of quantisation (bound=False) and give back their code
    raw = FSQ(levels, bound=False)
    q, back = raw(values)
    assert torch.equal(back, codes)
    assert torch.allclose(q, values)
    # every grid point is distinct
    assert torch.unique(values[0].T, dim=0).shape[0] == fsq.codebook_size


def test_quantize_is_nearest_level_with_straight_through_gradient():
    fsq = FSQ([3, 4], bound=False)
    z = torch.tensor([[[0.2, -0.7, 0.9]], [[0.1, -0.4, 0.5]]]).permute(1, 0, 2).contiguous()
    z.requires_grad_(True)
    q, codes = fsq(z)
    assert torch.allclose(q[0, 0], torch.tensor([0.0, -1.0, 1.0]))
    assert torch.allclose(q[0, 1], torch.tensor([1 / 3, -1 / 3, 1 / 3]))
    q.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))
    assert codes.shape == (1, 3)


def test_bad_codes_are_refused():
    fsq = FSQ([3] * 8)
    with pytest.raises(ValueError, match="6561"):
        fsq.decode(torch.tensor([[6561]]))
    with pytest.raises(ValueError, match="integers"):
        fsq.decode(torch.tensor([[1.0]]))
    with pytest.raises(ValueError, match="levels"):
        FSQ([3, 1])
    with pytest.raises(ValueError, match=r"\(B, 8, T\)"):
        fsq(torch.zeros(1, 7, 4))


def test_vae_samples_in_training_and_uses_the_mean_in_eval():
    torch.manual_seed(0)
    vae = VAEBottleneck(16, 4)
    x = torch.randn(2, 16, 30)
    vae.eval()
    a, b = vae(x), vae(x)
    assert torch.equal(a.latent, a.mean) and torch.equal(a.latent, b.latent)
    vae.train()
    c = vae(x)
    assert not torch.equal(c.latent, c.mean)
    assert c.kl.item() > 0
    # KL of the prior itself is zero
    with torch.no_grad():
        vae.proj.weight.zero_()
        vae.proj.bias.zero_()
    assert vae(x).kl.abs().item() < 1e-7


def test_kl_warmup_schedule():
    assert kl_warmup_weight(0, 100) == 0.0
    assert kl_warmup_weight(50, 100) == 0.5
    assert kl_warmup_weight(500, 100) == 1.0
    assert kl_warmup_weight(10, 100, start=20) == 0.0
    assert kl_warmup_weight(3, 0) == 1.0


def test_vaefsq_learns_to_spread_codes():
    """Trained to reconstruct its input, the bottleneck uses many codes."""
    torch.manual_seed(0)
    model = VAEFSQ(8, levels=[3] * 4)
    head = torch.nn.Conv1d(4, 8, 1)
    opt = torch.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=1e-2)
    x = torch.randn(4, 8, 200)
    before = codebook_usage(model.eval()(x).codes, 81)["used"]
    model.train()
    for _ in range(200):
        out = model(x)
        loss = (head(out.quantized) - x).pow(2).mean() + 1e-3 * out.vae.kl
        opt.zero_grad()
        loss.backward()
        opt.step()
    usage = codebook_usage(model.eval()(x).codes, 81)
    assert usage["used"] > before
    assert usage["usage"] > 0.6
    assert 0 < usage["entropy_bits"] <= math.log2(81)
