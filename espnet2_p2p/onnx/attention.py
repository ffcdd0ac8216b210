"""The predictors' relative-position self-attention in query blocks, for the export.

:class:`~espnet2_p2p.quantizer.predictor.FusedRelPositionAttention` keeps memory at
``block x T`` scores with a Python loop over query blocks and a strided view for the
relative shift; the exporter can keep neither for a dynamic length. ESPnet's own
attention exports, but it holds ``T x (2T - 1)`` position scores and their shifted copies
per head, which cost ONNX Runtime 3.4 GB on 60 s (paper scale).

:class:`BlockedRelPositionAttention` computes the same function as a ``scan`` over query
blocks (``torch._higher_order_ops.scan``; ONNX ``Scan``): each step scores
``block`` queries against all keys and all ``2T`` relative positions, picks each row's
``T`` positions with a gather (the relative shift) and normalises. Only one block's
scores exist at a time.

It is swapped in by class assignment during the export alone (:mod:`.export`): the same
parameters, no checkpoint change. It assumes what the export guarantees: every frame
valid (no mask), eval mode, ESPnet's ``rel_pos_type="latest"`` layout without
``zero_triu``.
"""

import math

import torch
from torch._higher_order_ops.scan import scan

from espnet2_p2p.utils.quiet import no_flash_attention_notice

with no_flash_attention_notice():
    from espnet.nets.pytorch_backend.transformer.attention import RelPositionMultiHeadedAttention

#: Queries per scan step: one step holds (batch, heads, BLOCK, 2T) position scores.
BLOCK = 256


def _block(carry, start):
    """One scan step: the attention output (B, H, BLOCK, d_k) of queries ``start`` ..
    ``start + BLOCK - 1`` (past the end, the last query is repeated; the caller drops it)."""
    q_u, q_v, k, v, p, cols, offsets = carry  # q_u, q_v, k, v: (B, H, T, d_k); p: (H, 2, T, d_k)
    last = cols[-1:]  # T - 1, as a tensor (sizes inside the step stay symbolic)
    rows = torch.minimum(start + offsets, last)
    # position scores of these rows against the 2T positions (ESPnet's 2T - 1 and one unused)
    bd = torch.matmul(q_v.index_select(2, rows), p.flatten(1, 2).transpose(-2, -1))
    # the relative shift: row i, key j reads relative position column T - 1 - i + j
    shift = (last - rows).unsqueeze(1) + cols.unsqueeze(0)
    bd = torch.gather(bd, 3, shift.expand(q_u.shape[0], q_u.shape[1], -1, -1))
    q = q_u.index_select(2, rows)
    scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1])) + bd
    out = torch.matmul(torch.softmax(scores, dim=-1), v)
    return tuple(t.clone() for t in carry), out


class BlockedRelPositionAttention(RelPositionMultiHeadedAttention):
    """ESPnet's relative-position attention (``latest``), exportable in query blocks."""

    def forward(self, query, key, value, pos_emb, mask):
        q, k, v = self.forward_qkv(query, key, value)  # (B, H, T, d_k)
        batch, heads, time, d_k = q.shape
        p = self.linear_pos(pos_emb).reshape(1, 2 * time - 1, heads, d_k).transpose(1, 2)[0]
        # 2T positions, (H, 2, T, d_k): the size stays a multiple of T for the tracer
        p = torch.cat([p, p[:, :1]], dim=1).reshape(heads, 2, time, d_k)
        q_u = q + self.pos_bias_u.unsqueeze(1)
        q_v = (q + self.pos_bias_v.unsqueeze(1)) / math.sqrt(d_k)
        cols = torch.arange(time, device=q.device)
        offsets = torch.arange(BLOCK, device=q.device)
        starts = torch.arange(0, time, BLOCK, device=q.device)
        carry = tuple(t.contiguous() for t in (q_u, q_v, k, v, p)) + (cols, offsets)
        _, blocks = scan(_block, carry, starts)  # (blocks, B, H, BLOCK, d_k)
        # frame t is row t % BLOCK of block t // BLOCK (indexing, not a reshape, keeps T symbolic)
        x = blocks.permute(1, 2, 0, 3, 4)[:, :, cols // BLOCK, cols % BLOCK]
        return self.linear_out(x.transpose(1, 2).reshape(batch, time, heads * d_k))
