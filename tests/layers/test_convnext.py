"""ConvNeXt v2 blocks computed channels-last equal the (B, C, T) computation they replace."""

import torch
import torch.nn.functional as F

from espnet2_p2p.layers.convnext import ConvNeXtV2Block, run_blocks


def _block_bct(block, x, mask=None):
    """The block as written for (B, C, T) features: conv1d, then transposes around the MLP."""
    y = block.dwconv(x).transpose(1, 2)
    y = block.act(block.pwconv1(block.norm(y)))
    m = None if mask is None else mask.transpose(1, 2)
    hm = y if m is None else y * m
    gx = hm.square().sum(dim=1, keepdim=True).clamp_min(1e-24).sqrt()
    nx = gx / (gx.mean(dim=-1, keepdim=True) + block.grn.eps)
    y = block.grn.gamma * (y * nx) + block.grn.beta + y
    y = x + block.pwconv2(y).transpose(1, 2)
    return y if mask is None else y * mask


def _blocks(n=2):
    torch.manual_seed(0)
    blocks = torch.nn.Sequential(*[ConvNeXtV2Block(6, 10, 7).double() for _ in range(n)])
    with torch.no_grad():
        for b in blocks:
            b.grn.gamma.normal_()
            b.grn.beta.normal_()
    return blocks


def test_a_block_gives_the_bct_outputs_and_gradients():
    block = _blocks(1)[0]
    x = torch.randn(3, 6, 11, dtype=torch.float64)
    mask = torch.ones(3, 1, 11, dtype=torch.float64)
    mask[1, :, 7:] = 0.0
    for m in (None, mask):
        xin = x if m is None else x * m
        results = []
        for fn in (block, lambda v, mm: _block_bct(block, v, mm)):
            xi = xin.clone().requires_grad_(True)
            block.zero_grad()
            y = fn(xi, m)
            (y * y).sum().backward()
            results.append([y.detach(), xi.grad] + [p.grad.clone() for p in block.parameters()])
        for a, b in zip(*results):
            assert torch.allclose(a, b, atol=1e-10), (a - b).abs().max()


def test_run_blocks_equals_norms_and_blocks_applied_in_bct():
    blocks = _blocks(3)
    norm_in, norm_out = torch.nn.LayerNorm(6).double(), torch.nn.LayerNorm(6).double()
    x = torch.randn(2, 6, 9, dtype=torch.float64)
    mask = torch.ones(2, 1, 9, dtype=torch.float64)
    mask[0, :, 5:] = 0.0

    def ln(norm, v):
        return F.layer_norm(v.transpose(1, 2), (6,), norm.weight, norm.bias, norm.eps).transpose(1, 2)

    expected = ln(norm_in, x) * mask
    for b in blocks:
        expected = _block_bct(b, expected, mask)
    expected = ln(norm_out, expected) * mask
    assert torch.allclose(run_blocks(x, norm_in, blocks, norm_out, mask), expected, atol=1e-10)
