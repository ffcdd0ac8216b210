import pytest
import torch

from conftest import SMALL
from espnet2_p2p.quantizer import P2PSVQ

SMALL_PREDICTOR = SMALL["predictor"]


def ready(q: P2PSVQ, codebooks) -> P2PSVQ:
    """Give a quantizer fixed codebooks (as a loaded teacher would)."""
    for layer, embed in zip(q.rvq.layers, codebooks):
        layer._codebook.embed.data.copy_(embed)
        layer._codebook.inited.fill_(1.0)
    return q


def structured_codebooks(dim, sizes, generator):
    # Level n has scale 4^-n, so the residual VQ recovers the levels in order.
    return [torch.randn(k, dim, generator=generator) * 4.0**-n for n, k in enumerate(sizes)]


def synthetic_latents(codebooks, batch, frames, generator):
    """Latents whose residual indices are a function of the plain index sequence."""
    k0, k1, k2 = (c.shape[0] for c in codebooks)
    i0 = torch.randint(0, k0, (batch, frames), generator=generator)
    i1 = (i0 + torch.roll(i0, 1, dims=1)) % k1
    i2 = (3 * i0 + i1) % k2
    z = sum(c[i] for c, i in zip(codebooks, (i0, i1, i2)))
    return z.transpose(1, 2) + 0.001 * torch.randn(z.transpose(1, 2).shape, generator=generator)


@pytest.mark.parametrize("num_pseudo", [1, 3, 5, 7])
def test_n_is_a_parameter(num_pseudo):
    q = P2PSVQ(
        8, codebook_size=32, num_pseudo=num_pseudo, pseudo_codebook_size=16, mode="student", predictor=SMALL_PREDICTOR
    )
    g = torch.Generator().manual_seed(0)
    ready(q, structured_codebooks(8, q.codebook_sizes, g)).eval()
    z = torch.randn(2, 8, 7)
    plain = q.encode(z)
    assert plain.shape == (2, 7)
    quantized, pseudo = q.decode(plain)
    assert quantized.shape == (2, 8, 7) and pseudo.shape == (num_pseudo, 2, 7)
    assert int(pseudo.max()) < 16
    assert q.encode_residual(z).shape == (1 + num_pseudo, 2, 7)
    assert len(q.predictors) == num_pseudo


def test_decode_needs_only_plain_tokens_zero_bits():
    # Move the latent towards its plain codeword: the plain token stays (Voronoi
    # cells are convex), the residual changes, and the decoded latent does not.
    g = torch.Generator().manual_seed(1)
    q = P2PSVQ(8, codebook_size=32, num_pseudo=3, pseudo_codebook_size=16, mode="student", predictor=SMALL_PREDICTOR)
    ready(q, structured_codebooks(8, q.codebook_sizes, g)).eval()
    z = torch.randn(2, 8, 20, generator=g)
    plain = q.encode(z)
    c0 = q.rvq.codeword(0, plain)
    z_moved = c0 + 0.3 * (z - c0)
    assert torch.equal(q.encode(z_moved), plain)
    assert not torch.equal(q.encode_residual(z_moved)[1:], q.encode_residual(z)[1:])
    a, tok_a = q.decode(q.encode(z))
    b, tok_b = q.decode(q.encode(z_moved))
    assert torch.equal(a, b) and torch.equal(tok_a, tok_b)


def test_predictors_learn_a_learnable_problem():
    g = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    q = P2PSVQ(8, codebook_size=16, num_pseudo=2, pseudo_codebook_size=8, mode="student", predictor=SMALL_PREDICTOR)
    codebooks = structured_codebooks(8, q.codebook_sizes, g)
    ready(q, codebooks)
    optim = torch.optim.Adam(q.predictors.parameters(), lr=3e-3)
    q.train()
    for _ in range(150):
        out = q(synthetic_latents(codebooks, 16, 32, g))
        optim.zero_grad()
        out.ce_loss.backward()
        optim.step()
    q.eval()
    z = synthetic_latents(codebooks, 32, 32, g)
    targets = q.encode_residual(z)[1:]
    _, predicted = q.decode(q.encode(z))
    for level in range(2):
        accuracy = (predicted[level] == targets[level]).float().mean().item()
        majority = torch.bincount(targets[level].flatten()).max().item() / targets[level].numel()
        assert accuracy > majority + 0.3, (level, accuracy, majority)
    # Training stats report the same per-level quantities.
    assert {"acc_level1", "acc_level2", "majority_level1", "ce_level2"} <= set(out.stats)


def test_expected_and_argmax_codewords():
    g = torch.Generator().manual_seed(3)
    q = P2PSVQ(8, codebook_size=16, num_pseudo=1, pseudo_codebook_size=8, mode="student", predictor=SMALL_PREDICTOR)
    ready(q, structured_codebooks(8, q.codebook_sizes, g))
    logits = torch.randn(2, 8, 5)
    q.pseudo_codeword = "argmax"
    hard = q._codeword_from_logits(1, logits)
    assert torch.equal(hard, q.rvq.codeword(1, logits.argmax(1)))
    q.pseudo_codeword = "expected"
    soft = q._codeword_from_logits(1, logits)
    probs = logits.softmax(1)
    manual = torch.einsum("bkt,kd->bdt", probs, q.rvq.layers[1]._codebook.embed)
    assert torch.allclose(soft, manual, atol=1e-6)
    # A confident predictor makes the two rules agree.
    confident = 50.0 * torch.nn.functional.one_hot(logits.argmax(1), 8).transpose(1, 2).float()
    assert torch.allclose(q._codeword_from_logits(1, confident), hard, atol=1e-5)


def test_student_needs_teacher_codebooks_and_modes_are_checked():
    q = P2PSVQ(8, codebook_size=16, num_pseudo=1, mode="student", predictor=SMALL_PREDICTOR)
    with pytest.raises(RuntimeError, match="--init_param"):
        q(torch.randn(1, 8, 4))
    with pytest.raises(RuntimeError, match="student"):
        P2PSVQ(8, codebook_size=16, num_pseudo=1).predict(torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="mode"):
        P2PSVQ(8, mode="pupil")
    with pytest.raises(ValueError, match="pseudo_codeword"):
        P2PSVQ(8, pseudo_codeword="sample")


def test_mismatched_layout_is_named():
    teacher = P2PSVQ(8, codebook_size=16, num_pseudo=5, pseudo_codebook_size=8)
    student = P2PSVQ(
        8, codebook_size=16, num_pseudo=3, pseudo_codebook_size=8, mode="student", predictor=SMALL_PREDICTOR
    )
    with pytest.raises(ValueError, match=r"checkpoint has N=5 .*this model has N=3"):
        student.load_state_dict(teacher.state_dict(), strict=False)
    other_size = P2PSVQ(8, codebook_size=32, num_pseudo=3, pseudo_codebook_size=8)
    with pytest.raises(ValueError, match=r"\[32, 8, 8, 8\].*\[16, 8, 8, 8\]"):
        student.load_state_dict(other_size.state_dict(), strict=False)
