import pytest
import torch

from espnet2_p2p.quantizer import ResidualVQ


def make_rvq(**kw):
    args = dict(dim=8, num_quantizers=3, codebook_size=[16, 8, 8], kmeans_iters=5)
    args.update(kw)
    return ResidualVQ(**args)


def test_shapes_and_eval_consistency():
    rvq = make_rvq(quantizer_dropout=0.0)
    z = torch.randn(4, 8, 25)
    rvq.train()
    out = rvq(z)  # first call initialises the codebooks by k-means
    assert out.codes.shape == (3, 4, 25) and out.codes.dtype == torch.long
    assert out.codewords.shape == (3, 4, 8, 25)
    assert torch.isfinite(out.commit_loss)
    rvq.eval()
    codes = rvq.encode(z)
    assert int(codes[0].max()) < 16 and int(codes[1:].max()) < 8
    # decode(encode(z)) equals the eval forward, and each level decodes alone.
    assert torch.allclose(rvq.decode(codes), rvq(z).quantized, atol=1e-6)
    plain = rvq.decode(codes[:1])
    assert torch.allclose(plain, rvq.codeword(0, codes[0]))


def test_residual_levels_reduce_error():
    rvq = make_rvq(codebook_size=64, quantizer_dropout=0.0)
    z = torch.randn(8, 8, 50)
    rvq.train()
    for _ in range(30):
        rvq(z)
    rvq.eval()
    codes = rvq.encode(z)
    errors = [(rvq.decode(codes[: k + 1]) - z).pow(2).mean().item() for k in range(3)]
    assert errors[0] > errors[1] > errors[2]


def test_straight_through_gradient_reaches_input():
    rvq = make_rvq(quantizer_dropout=0.5)
    rvq.train()
    z = torch.randn(4, 8, 10, requires_grad=True)
    out = rvq(z)
    (out.quantized.sum() + out.commit_loss).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_quantizer_dropout_uses_fewer_levels():
    rvq = make_rvq(quantizer_dropout=1.0)
    rvq.train()
    z = torch.randn(64, 8, 5)
    out = rvq(z)
    full = out.codewords.sum(0)
    dropped = [(out.quantized[b] - full[b]).abs().max() > 1e-6 for b in range(64)]
    # With dropout 1.0 every item keeps k ~ U{1..3} levels: about a third keep all.
    assert 20 < sum(dropped) < 64


def test_invalid_codes_and_latents():
    rvq = make_rvq()
    rvq.eval()
    with pytest.raises(ValueError, match="stream 1 must lie in \\[0, 8\\)"):
        rvq.decode(torch.full((2, 1, 3), 9))
    with pytest.raises(ValueError, match="4 streams"):
        rvq.decode(torch.zeros(4, 1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="integers"):
        rvq.decode(torch.zeros(1, 1, 3))
    with pytest.raises(ValueError, match=r"latent must be \(B, 8, T\)"):
        rvq.encode(torch.zeros(1, 7, 3))
    with pytest.raises(ValueError, match="codebook_size"):
        ResidualVQ(dim=8, num_quantizers=3, codebook_size=[16, 8])
