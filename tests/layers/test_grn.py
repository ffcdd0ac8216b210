"""GRN (ConvNeXt v2): a channel that is exactly zero over time keeps gradients finite."""

import torch

from espnet2_p2p.layers.convnext import GRN


def test_a_silent_channel_gives_finite_gradients():
    torch.manual_seed(0)
    grn = GRN(4)
    with torch.no_grad():
        grn.gamma.normal_()
    x = torch.randn(2, 10, 4)
    x[:, :, 1] = 0.0  # GELU gives exact zeros: a whole channel can be silent
    x.requires_grad_(True)
    grn(x).square().sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(grn.gamma.grad).all()


def test_the_norm_is_the_l2_norm_over_time():
    torch.manual_seed(0)
    grn = GRN(3)
    with torch.no_grad():
        grn.gamma.fill_(1.0)
    x = torch.randn(1, 7, 3)
    gx = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    expected = x * (gx / (gx.mean(-1, keepdim=True) + grn.eps)) + x
    assert torch.allclose(grn(x), expected, atol=1e-6)
