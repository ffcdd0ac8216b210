"""The predictors' fused relative-position attention computes ESPnet's function."""

import pytest
import torch
from espnet.nets.pytorch_backend.transformer.attention import (
    RelPositionMultiHeadedAttention,
)
from espnet.nets.pytorch_backend.transformer.embedding import RelPositionalEncoding

from espnet2_p2p.quantizer import P2PSVQ
from espnet2_p2p.quantizer.predictor import FusedRelPositionAttention, PseudoVQPredictor


def _pair(heads=4, dim=32):
    torch.manual_seed(0)
    espnet_attn = RelPositionMultiHeadedAttention(heads, dim, 0.0)
    fused = RelPositionMultiHeadedAttention(heads, dim, 0.0)
    fused.load_state_dict(espnet_attn.state_dict())
    fused.__class__ = FusedRelPositionAttention
    return espnet_attn, fused


# lengths around the query block (256) and odd ones
@pytest.mark.parametrize("time", [1, 2, 17, 255, 256, 257, 600])
def test_equals_espnet_forward_and_backward(time):
    espnet_attn, fused = _pair()
    pos = RelPositionalEncoding(32, 0.0)
    x = torch.randn(2, time, 32)
    xs, pos_emb = pos(x)
    mask = torch.ones(2, 1, time, dtype=torch.bool)
    ref_in = xs.clone().requires_grad_(True)
    new_in = xs.clone().requires_grad_(True)
    ref = espnet_attn(ref_in, ref_in, ref_in, pos_emb, mask)
    out = fused(new_in, new_in, new_in, pos_emb, mask)
    scale = ref.abs().max()
    assert (out - ref).abs().max() <= 1e-5 * scale
    weights = torch.randn_like(ref)
    (ref * weights).sum().backward()
    (out * weights).sum().backward()
    assert torch.allclose(new_in.grad, ref_in.grad, rtol=1e-4, atol=1e-5 * ref_in.grad.abs().max())
    # (the key bias gets a zero gradient in exact arithmetic: compare on the scale of all)
    largest = max(a.grad.abs().max() for a in espnet_attn.parameters())
    for (name, a), (_, b) in zip(espnet_attn.named_parameters(), fused.named_parameters()):
        assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-5 * largest), name


def test_padded_batches_take_espnets_path():
    espnet_attn, fused = _pair()
    xs, pos_emb = RelPositionalEncoding(32, 0.0)(torch.randn(2, 9, 32))
    mask = torch.ones(2, 1, 9, dtype=torch.bool)
    mask[1, :, 6:] = False
    assert torch.equal(espnet_attn(xs, xs, xs, pos_emb, mask), fused(xs, xs, xs, pos_emb, mask))


def test_predictor_uses_it_and_keeps_espnets_checkpoint_layout():
    pred = PseudoVQPredictor(8, 16, channels=32, conformer_blocks=2, attention_heads=4, linear_units=64, lstm_layers=1)
    attns = [m for m in pred.modules() if isinstance(m, RelPositionMultiHeadedAttention)]
    assert len(attns) == 2 and all(type(m) is FusedRelPositionAttention for m in attns)
    keys = set(pred.state_dict())
    assert "conformer.encoders.0.self_attn.pos_bias_u" in keys
    assert "conformer.encoders.1.self_attn.linear_pos.weight" in keys


def test_predicted_tokens_match_espnets_attention():
    torch.manual_seed(3)
    predictor = dict(channels=64, conformer_blocks=2, attention_heads=4, linear_units=128, lstm_layers=1, dropout=0.0)
    q = P2PSVQ(16, codebook_size=64, num_pseudo=3, pseudo_codebook_size=32, mode="student", predictor=predictor).eval()
    plain = torch.randint(0, 64, (2, 700))
    fused_latent, fused_tokens = q.decode(plain)
    for m in q.modules():
        if type(m) is FusedRelPositionAttention:
            m.__class__ = RelPositionMultiHeadedAttention
    ref_latent, ref_tokens = q.decode(plain)
    assert (fused_tokens == ref_tokens).float().mean() >= 0.999
    assert torch.allclose(fused_latent, ref_latent, atol=1e-4)
