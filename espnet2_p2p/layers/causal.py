"""Causal layers that run offline on a whole sequence or in chunks with a state.

Every module here maps ``(x, state) -> (y, new_state)`` on (B, C, T) tensors; ``state``
is ``None`` at the start of a stream. Running a sequence through in one call or in
consecutive chunks (passing each call's state to the next) gives the same output up to
float rounding, because nothing looks at a frame later than the one being computed:

- :class:`CausalConv1d`: left padding only; the state is the last
  ``(kernel - 1) * dilation`` input frames.
- :class:`CausalConvBlock`: ConvNeXt-style block (causal depthwise conv, LayerNorm over
  channels, pointwise MLP, residual). ConvNeXt v2's GRN is left out: it normalises over
  the whole time axis, which a stream does not have.
- :class:`CausalLSTM`: a unidirectional LSTM; the state is its (h, c).
- :class:`CausalTransformerLayer`: pre-LayerNorm self-attention over the last
  ``context`` frames (itself included) with rotary position embeddings (RoPE), then a
  feed-forward layer; the state is the keys and values of the last ``context - 1``
  frames and the absolute position.
"""

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F


class CausalConv1d(torch.nn.Conv1d):
    """Conv1d that sees the current and past frames only."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, groups: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, groups=groups)
        self.left = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor, state: Optional[torch.Tensor] = None):
        if self.left == 0:
            return super().forward(x), state
        if state is None:
            state = x.new_zeros(x.shape[0], x.shape[1], self.left)
        xs = torch.cat([state, x], dim=-1)
        return super().forward(xs), xs[..., -self.left :]


class ChannelNorm(torch.nn.LayerNorm):
    """LayerNorm over the channels of (B, C, T) (per frame, so causal)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class StatelessNorm(torch.nn.Module):
    """:class:`ChannelNorm` as a member of a :class:`CausalStack` (its state passes through)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = ChannelNorm(channels, eps=1e-6)

    def forward(self, x, state=None):
        return self.norm(x), state


class CausalConvBlock(torch.nn.Module):
    """Causal depthwise conv -> LayerNorm -> Linear up -> GELU -> Linear down, residual."""

    def __init__(self, channels: int, ffn_channels: int, kernel_size: int = 7):
        super().__init__()
        self.dwconv = CausalConv1d(channels, channels, kernel_size, groups=channels)
        self.norm = torch.nn.LayerNorm(channels, eps=1e-6)
        self.pwconv1 = torch.nn.Linear(channels, ffn_channels)
        self.pwconv2 = torch.nn.Linear(ffn_channels, channels)

    def forward(self, x: torch.Tensor, state=None):
        y, state = self.dwconv(x, state)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y.transpose(1, 2)))))
        return x + y.transpose(1, 2), state


def _rope(x: torch.Tensor, start: int) -> torch.Tensor:
    """Rotary position embedding of (B, H, T, d) at absolute positions start..start+T-1."""
    d = x.shape[-1]
    inv = 1.0 / (10000.0 ** (torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d))
    pos = torch.arange(start, start + x.shape[-2], device=x.device, dtype=torch.float32)
    ang = torch.outer(pos, inv)  # (T, d/2)
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.flatten(-2)


class CausalTransformerLayer(torch.nn.Module):
    """Pre-LN transformer layer with causal self-attention over ``context`` frames.

    Args:
        dim (int): Model width.
        heads (int): Attention heads (dim must divide by heads; head size even).
        ffn_dim (int): Hidden size of the feed-forward layer.
        context (int): Frames a query sees, itself included (the paper: 250).
        dropout (float): Dropout on attention weights and feed-forward output.
    """

    def __init__(self, dim: int, heads: int, ffn_dim: int, context: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads or (dim // heads) % 2:
            raise ValueError(f"dim {dim} must split into {heads} heads of even size")
        if context < 1:
            raise ValueError(f"context must be >= 1 frame, got {context}")
        self.heads, self.context, self.dropout = heads, context, dropout
        self.norm1 = torch.nn.LayerNorm(dim)
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.out = torch.nn.Linear(dim, dim)
        self.norm2 = torch.nn.LayerNorm(dim)
        self.ffn = torch.nn.Sequential(
            torch.nn.Linear(dim, ffn_dim), torch.nn.GELU(), torch.nn.Dropout(dropout), torch.nn.Linear(ffn_dim, dim)
        )

    def forward(self, x: torch.Tensor, state=None):
        """x (B, C, T) -> (B, C, T); state: (keys, values, position) or None."""
        h = x.transpose(1, 2)  # (B, T, C)
        batch, time, dim = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(batch, time, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        if state is None:
            past_k = past_v = h.new_zeros(batch, self.heads, 0, q.shape[-1])
            start = 0
        else:
            past_k, past_v, start = state
        q, k = _rope(q, start), _rope(k, start)
        keys, values = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        # query i (absolute start + i) sees keys at absolute positions in
        # (start + i - context, start + i]
        key_pos = torch.arange(start - past_k.shape[2], start + time, device=x.device)
        query_pos = torch.arange(start, start + time, device=x.device)
        delta = query_pos.view(-1, 1) - key_pos.view(1, -1)
        mask = (delta >= 0) & (delta < self.context)
        att = F.scaled_dot_product_attention(
            q, keys, values, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        h = h + self.out(att.transpose(1, 2).reshape(batch, time, dim))
        h = h + self.ffn(self.norm2(h))
        first = max(0, keys.shape[2] - (self.context - 1))  # keep the last context - 1
        new_state = (keys[:, :, first:], values[:, :, first:], start + time)
        return h.transpose(1, 2), new_state


class CausalStack(torch.nn.Module):
    """A sequence of the causal modules above, with a list of their states."""

    def __init__(self, layers: List[torch.nn.Module]):
        super().__init__()
        self.layers = torch.nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, state: Optional[list] = None) -> Tuple[torch.Tensor, list]:
        state = state or [None] * len(self.layers)
        new = []
        for layer, s in zip(self.layers, state):
            x, s = layer(x, s)
            new.append(s)
        return x, new


class CausalLSTM(torch.nn.LSTM):
    """Unidirectional LSTM on (B, C, T) whose state is its ``(h, c)``."""

    def __init__(self, channels: int, num_layers: int, dropout: float = 0.0):
        super().__init__(
            channels, channels, num_layers=num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0
        )

    def forward(self, x: torch.Tensor, state=None):
        y, state = super().forward(x.transpose(1, 2), state)
        return y.transpose(1, 2), state


def causal_conv_stack(
    in_channels: int,
    channels: int,
    ffn_channels: int,
    num_blocks: int,
    kernel_size: int,
    out_channels: Optional[int] = None,
) -> CausalStack:
    """The causal conv stack both streaming codecs use at the MDCT frame rate.

    With ``in_channels`` (an analysis side): conv to ``channels``, norm, ``num_blocks``
    :class:`CausalConvBlock`, norm. With ``out_channels`` instead (a synthesis side): norm,
    the blocks, norm, conv to ``out_channels``. Layer indices (state-dict keys) are those
    the codecs had before this helper.
    """
    blocks = [CausalConvBlock(channels, ffn_channels, kernel_size) for _ in range(num_blocks)]
    if out_channels is None:
        return CausalStack(
            [CausalConv1d(in_channels, channels, kernel_size), StatelessNorm(channels)]
            + blocks
            + [StatelessNorm(channels)]
        )
    return CausalStack(
        [StatelessNorm(channels)]
        + blocks
        + [StatelessNorm(channels), CausalConv1d(channels, out_channels, kernel_size)]
    )
