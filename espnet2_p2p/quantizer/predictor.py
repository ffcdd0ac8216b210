"""The predictor of a pseudo VQ: Conformer blocks + BiLSTM -> logits over its codebook
(:class:`PseudoVQPredictor`), or its causal, streaming counterpart
(:class:`CausalPseudoVQPredictor`)."""

import math
from typing import Optional, Tuple

import torch

from espnet2_p2p.layers.causal import CausalConvBlock, CausalLSTM, CausalStack, CausalTransformerLayer
from espnet2_p2p.utils.quiet import no_flash_attention_notice

with no_flash_attention_notice():
    from espnet.nets.pytorch_backend.transformer.attention import RelPositionMultiHeadedAttention
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder


class FusedRelPositionAttention(RelPositionMultiHeadedAttention):
    """ESPnet's relative-position self-attention computed with less memory traffic.

    Same parameters and the same function as
    :class:`~espnet.nets.pytorch_backend.transformer.attention.RelPositionMultiHeadedAttention`
    (``rel_pos_type="latest"``), two steps changed, both where the profile of decoding
    spent its time (copies, concatenation, masking and a separate softmax over
    T x T scores, per head):

    - the relative shift of the position scores (T x (2T-1) -> T x T) is a strided view
      instead of ESPnet's pad + concatenate + reshape copy: element (i, j) of the shifted
      matrix is element (i, j + T - 1 - i) of the unshifted one; queries go in blocks, so
      a block of b rows needs only T + b - 1 relative positions (about half the
      multiply-adds of ESPnet's T x (2T - 1) for long inputs, and b x T memory);
    - the content scores, softmax and weighted sum go through
      :func:`torch.nn.functional.scaled_dot_product_attention`, with the position scores
      as its additive mask.

    It applies when every position is valid (the predictors always see whole
    sequences); otherwise, and with ``zero_triu``, ESPnet's own path runs. Results agree
    with ESPnet's path to float rounding (summation order differs); it is swapped in by
    class assignment, so checkpoints are the same either way.
    """

    #: Queries per block: the position scores of a block span T + block - 1 relative
    #: positions instead of 2T - 1, and only block x T scores exist at a time.
    query_block = 256

    def forward(self, query, key, value, pos_emb, mask):
        time = query.size(1)
        if (
            self.zero_triu
            or (mask is not None and not bool(mask.all()))
            or pos_emb.size(1) != 2 * time - 1
            or key.size(1) != time
        ):
            return super().forward(query, key, value, pos_emb, mask)
        q, k, v = self.forward_qkv(query, key, value)  # (B, H, T, d_k)
        batch, heads, _, d_k = q.shape
        p = self.linear_pos(pos_emb).view(pos_emb.size(0), -1, heads, d_k).transpose(1, 2)
        scale = 1.0 / math.sqrt(d_k)
        q_u = q + self.pos_bias_u.unsqueeze(1)
        q_v = (q + self.pos_bias_v.unsqueeze(1)) * scale
        dropout = self.dropout.p if self.training else 0.0
        out = []
        for i0 in range(0, time, self.query_block):
            i1 = min(i0 + self.query_block, time)
            rows = i1 - i0
            # relative positions T-1-i .. -i for the rows i0..i1-1 of ESPnet's layout
            bd = torch.matmul(q_v[:, :, i0:i1], p[:, :, time - i1 : 2 * time - 1 - i0].transpose(-2, -1))
            width = bd.size(-1)  # T + rows - 1
            bd = bd.as_strided(
                (batch, heads, rows, time),
                (heads * rows * width, rows * width, width - 1, 1),
                bd.storage_offset() + rows - 1,
            )
            out.append(
                torch.nn.functional.scaled_dot_product_attention(
                    q_u[:, :, i0:i1], k, v, attn_mask=bd, dropout_p=dropout
                )
            )
        x = torch.cat(out, dim=2) if len(out) > 1 else out[0]
        return self.linear_out(x.transpose(1, 2).reshape(batch, time, heads * d_k))


class PseudoVQPredictor(torch.nn.Module):
    """Maps a cascade input (B, D, T) to logits over a pseudo codebook (B, K, T).

    The paper's predictor has 3 Conformer blocks and 2 BiLSTM layers with 256 channels
    and 8 heads. The Conformer blocks are ESPnet's (relative positional self-attention,
    convolution module); the BiLSTM has ``channels`` units per direction.

    Args:
        dim (int): Dimension D of the cascade input (the quantized latent).
        codebook_size (int): K, the entries of the pseudo codebook.
        channels (int): Model width.
        conformer_blocks (int): Conformer blocks (0 to skip).
        attention_heads (int): Attention heads.
        linear_units (int): Hidden units of the Conformer feed-forward layers.
        cnn_module_kernel (int): Depthwise kernel of the Conformer conv module.
        lstm_layers (int): BiLSTM layers (0 to skip).
        dropout (float): Dropout in the Conformer and between LSTM layers.
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        channels: int = 256,
        conformer_blocks: int = 3,
        attention_heads: int = 8,
        linear_units: int = 1024,
        cnn_module_kernel: int = 15,
        lstm_layers: int = 2,
        dropout: float = 0.1,
    ):
        super().__init__()
        if conformer_blocks > 0:
            self.conformer = ConformerEncoder(
                input_size=dim,
                output_size=channels,
                attention_heads=attention_heads,
                linear_units=linear_units,
                num_blocks=conformer_blocks,
                dropout_rate=dropout,
                positional_dropout_rate=dropout,
                input_layer="linear",
                rel_pos_type="latest",
                cnn_module_kernel=cnn_module_kernel,
                use_flash_attn=False,
            )
            for module in self.conformer.modules():
                if type(module) is RelPositionMultiHeadedAttention:
                    module.__class__ = FusedRelPositionAttention
        else:
            self.conformer = None
            self.input_proj = torch.nn.Linear(dim, channels)
        if lstm_layers > 0:
            self.lstm = torch.nn.LSTM(
                channels,
                channels,
                num_layers=lstm_layers,
                batch_first=True,
                bidirectional=True,
                dropout=dropout if lstm_layers > 1 else 0.0,
            )
            out_in = 2 * channels
        else:
            self.lstm = None
            out_in = channels
        self.output = torch.nn.Linear(out_in, codebook_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): Cascade input (B, D, T). Returns: logits (B, K, T)."""
        h = x.transpose(1, 2)
        if self.conformer is not None:
            lengths = torch.full((h.shape[0],), h.shape[1], dtype=torch.long, device=h.device)
            h, _, _ = self.conformer(h, lengths)
        else:
            h = self.input_proj(h)
        if self.lstm is not None:
            h, _ = self.lstm(h)
        return self.output(h).transpose(1, 2)


class CausalPseudoVQPredictor(torch.nn.Module):
    """The causal counterpart of :class:`PseudoVQPredictor`: logits of frame t depend on
    the cascade input of frames <= t only, so it runs chunk by chunk with a state.

    Each of the ``conformer_blocks`` blocks is a transformer layer attending to the last
    ``context`` frames (itself included) followed by a causal convolution block (the
    Conformer's convolution module made causal); then a unidirectional LSTM.

    Args:
        dim, codebook_size, channels, conformer_blocks, attention_heads, linear_units,
        cnn_module_kernel, lstm_layers, dropout: as :class:`PseudoVQPredictor`.
        context (int): Frames each attention query sees (50 = 1 s at 50 Hz).
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        channels: int = 256,
        conformer_blocks: int = 3,
        attention_heads: int = 8,
        linear_units: int = 1024,
        cnn_module_kernel: int = 15,
        lstm_layers: int = 2,
        dropout: float = 0.1,
        context: int = 50,
    ):
        super().__init__()
        self.input_proj = torch.nn.Linear(dim, channels)
        layers = []
        for _ in range(conformer_blocks):
            layers.append(CausalTransformerLayer(channels, attention_heads, linear_units, context, dropout))
            layers.append(CausalConvBlock(channels, linear_units, cnn_module_kernel))
        if lstm_layers > 0:
            layers.append(CausalLSTM(channels, lstm_layers, dropout))
        self.body = CausalStack(layers)
        self.output = torch.nn.Linear(channels, codebook_size)

    def step(self, x: torch.Tensor, state: Optional[list] = None) -> Tuple[torch.Tensor, list]:
        """Cascade input (B, D, k) of the next k frames -> (logits (B, K, k), new state)."""
        h = self.input_proj(x.transpose(1, 2)).transpose(1, 2)
        h, state = self.body(h, state)
        return self.output(h.transpose(1, 2)).transpose(1, 2), state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Cascade input (B, D, T) -> logits (B, K, T), offline."""
        return self.step(x)[0]
