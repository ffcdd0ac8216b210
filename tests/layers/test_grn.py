"""GRN (ConvNeXt v2): a channel that is exactly zero over time keeps gradients finite."""

import torch

from espnet2_p2p.layers.convnext import GRN, GRNFunction


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


def _reference_grn(x, gamma, beta, eps, mask=None):
    """GRN as autograd sees the formula (the code before its own backward)."""
    gx = (x if mask is None else x * mask).square().sum(dim=1, keepdim=True).clamp_min(1e-24).sqrt()
    nx = gx / (gx.mean(dim=-1, keepdim=True) + eps)
    return gamma * (x * nx) + beta + x


def _grn64(channels=5):
    torch.manual_seed(1)
    grn = GRN(channels).double()
    with torch.no_grad():
        grn.gamma.normal_()
        grn.beta.normal_()
    return grn


def test_its_backward_passes_gradcheck_with_and_without_a_mask():
    grn = _grn64()
    x = torch.randn(2, 6, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(2, 6, 1, dtype=torch.float64)
    mask[1, 4:] = 0.0
    for m in (None, mask):
        assert torch.autograd.gradcheck(
            lambda x, g, b: GRNFunction.apply(x, m, g, b, grn.eps), (x, grn.gamma, grn.beta)
        )


def test_its_outputs_and_gradients_equal_autograd_of_the_formula():
    grn = _grn64()
    x = torch.randn(3, 9, 5, dtype=torch.float64)
    x[0, :, 2] = 0.0  # a silent channel takes the clamped branch
    mask = torch.ones(3, 9, 1, dtype=torch.float64)
    mask[2, 5:] = 0.0
    for m in (None, mask):
        grads = []
        for fn in (lambda x: grn(x, m), lambda x: _reference_grn(x, grn.gamma, grn.beta, grn.eps, m)):
            xi = x.clone().requires_grad_(True)
            grn.zero_grad()
            y = fn(xi)
            (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
            grads.append((y.detach(), xi.grad, grn.gamma.grad.clone(), grn.beta.grad.clone()))
        for a, b in zip(*grads):
            assert torch.allclose(a, b, atol=1e-12), (a - b).abs().max()


def test_without_gradients_it_computes_the_same_formula():
    grn = _grn64()
    x = torch.randn(2, 7, 5, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(grn(x), _reference_grn(x, grn.gamma, grn.beta, grn.eps), atol=1e-12)


def test_exported_grn_sums_over_time_with_a_matmul_and_gives_the_same_output():
    """ONNX Runtime's ReduceSum over the time axis was a quarter of the exported encoder's
    time: traced for export, GRN's squared sum over time is a product with a row of ones."""
    from espnet2_p2p.layers.convnext import GRN

    torch.manual_seed(0)
    grn = GRN(16).eval()
    torch.nn.init.normal_(grn.gamma)
    torch.nn.init.normal_(grn.beta)
    x = torch.randn(2, 50, 16)
    time = torch.export.Dim("time", min=2, max=400)
    program = torch.export.export(grn, (x,), dynamic_shapes=({1: time},))
    ops = [str(n.target) for n in program.graph.nodes if n.op == "call_function"]
    assert any("matmul" in o or "bmm" in o for o in ops), ops
    assert not any("sum" in o for o in ops), ops
    longer = torch.randn(2, 123, 16)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(longer), grn(longer), rtol=1e-5, atol=1e-5)
