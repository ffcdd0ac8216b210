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


def test_an_exported_block_runs_as_onnx_runtimes_fused_kernels_and_gives_the_same_output(tmp_path):
    """Issue 31: traced for export, GELU is written in the form ONNX Runtime fuses (one
    Gelu kernel, no Erf) and GRN sums over time with a MatMul (no ReduceSum, whose middle-
    axis reduction was a quarter of the encoder's time); the output is eager PyTorch's."""
    import collections
    import contextlib
    import io
    import warnings

    import onnx
    import onnxruntime as ort

    torch.manual_seed(0)
    block = ConvNeXtV2Block(16, 32, 7).eval()
    with torch.no_grad():
        block.grn.gamma.normal_()
        block.grn.beta.normal_()
    x = torch.randn(1, 16, 90)
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            block,
            (x,),
            dynamo=True,
            opset_version=18,
            optimize=True,
            verbose=False,
            dynamic_shapes=({2: torch.export.Dim("time", min=8, max=1000)},),
        )
    program.save(str(tmp_path / "block.onnx"))
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.log_severity_level = 3
    session = ort.InferenceSession(str(tmp_path / "block.onnx"), options, providers=["CPUExecutionProvider"])
    ops = collections.Counter(n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node)
    assert ops["Gelu"] + ops["BiasGelu"] == 1 and ops["Erf"] == 0 and ops["ReduceSum"] == 0, ops
    longer = torch.randn(1, 16, 333)
    with torch.no_grad():
        expected = block(longer).numpy()
    got = session.run(None, {session.get_inputs()[0].name: longer.numpy()})[0]
    assert abs(got - expected).max() < 1e-5
