"""ConvNeXt v2 blocks for 1-D sequences, computed channels-last.

A stack of blocks runs on (B, T, C) features: LayerNorm and the pointwise layers work on
the last axis, the depthwise convolution runs as a channels-last 2-D convolution, and GRN
has its own backward (:class:`GRNFunction`), so a training step makes no transposed copies
and GRN takes 4 passes over its input instead of about 12 (``benchmarks/train_speed.py``
measures both). The parameters and their names are those of the (B, C, T) blocks written
before, so every checkpoint loads; :meth:`ConvNeXtV2Block.forward` still takes (B, C, T).

Every module takes an optional frame mask so that a batch of sequences of different
lengths, zero-padded, gives each sequence exactly what it gives alone: padded frames are
zeroed before each convolution (as the convolution's own zero padding would be) and are
left out of GRN's norm over time.
"""

import math
from typing import Optional

import torch
import torch.nn.functional as F

# A channel whose squared sum over time is below this gets no gradient through its norm:
# d sqrt(s)/ds is infinite at 0 (GELU gives exact zeros, e.g. on digital silence), and
# 0 * inf made the speechocean762 trainings NaN after about 3,000 steps.
_TINY = 1e-24


def _exporting() -> bool:
    """True while torch.export (and so ``torch.onnx.export(dynamo=True)``) traces."""
    return torch.compiler.is_exporting() or torch.compiler.is_compiling()


def _gelu(x: torch.Tensor, act: torch.nn.Module) -> torch.Tensor:
    """``act`` (exact GELU) in eager mode. Traced for export, the same function written
    so that ONNX Runtime fuses it into one Gelu kernel: the exporter's own decomposition,
    x * (0.5 * (1 + erf(x / sqrt 2))), is a pattern its GeluFusion does not match and
    runs as five operators."""
    if _exporting():
        return x * (1.0 + torch.erf(x / math.sqrt(2.0))) * 0.5
    return act(x)


def _sum_over_time(v: torch.Tensor) -> torch.Tensor:
    """v (B, T, C) summed over time -> (B, 1, C). Traced for export, the sum is written as a
    product with a row of ones: ONNX Runtime's ReduceSum over the middle axis took 14 ms
    on (1, 4000, 512) against 0.35 ms for that MatMul (one thread here), and GRN is in
    every ConvNeXt block (a quarter of the exported encoder's time). Eager PyTorch keeps
    its own sum (the tokens of every committed fixture stay as they are)."""
    if _exporting():
        return torch.matmul(torch.ones_like(v[:, :, :1]).transpose(1, 2), v)
    return v.sum(dim=1, keepdim=True)


def _grn_scale(h: torch.Tensor, mask: Optional[torch.Tensor], gamma: torch.Tensor, eps: float):
    """GRN's per-channel scale of h (B, T, C): (squared sum s, norm gx, its channel mean
    plus eps m, normalised norm nx, scale a = gamma * nx + 1), each (B, 1, C) or (B, 1, 1)."""
    hm = h if mask is None else h * mask
    s = _sum_over_time(hm * hm)
    gx = s.clamp_min(_TINY).sqrt()
    m = gx.mean(dim=-1, keepdim=True) + eps
    nx = gx / m
    return s, gx, m, nx, gamma * nx + 1.0


class GRNFunction(torch.autograd.Function):
    """GRN with a hand-written backward: ``y = h * (gamma * nx + 1) + beta``.

    Forward reads h twice (the norm, the output); backward reads the gradient and h twice
    more. Autograd of the same formula keeps about a dozen (B, T, C) intermediates.
    """

    @staticmethod
    def forward(ctx, h, mask, gamma, beta, eps):
        s, gx, m, nx, a = _grn_scale(h, mask, gamma, eps)
        ctx.save_for_backward(h, mask, gamma, s, gx, m, nx, a)
        return torch.addcmul(beta, h, a)

    @staticmethod
    def backward(ctx, g):
        h, mask, gamma, s, gx, m, nx, a = ctx.saved_tensors
        da = (g * h).sum(dim=1, keepdim=True)  # dL/da (B, 1, C)
        dbeta = g.sum(dim=(0, 1), keepdim=True)
        dgamma = (da * nx).sum(dim=0, keepdim=True)
        dnx = da * gamma
        # nx = gx / m with m = mean_c(gx) + eps
        dgx = dnx / m - (dnx * gx).sum(dim=-1, keepdim=True) / (m * m * gx.shape[-1])
        ds = torch.where(s > _TINY, dgx * 0.5 / gx, torch.zeros_like(dgx))
        hm = h if mask is None else h * mask  # mask is 0/1: d s / d h = 2 h mask
        dh = torch.addcmul(g * a, hm, 2.0 * ds)
        return dh, None, dgamma, dbeta, None


class GRN(torch.nn.Module):
    """Global response normalisation (ConvNeXt v2) over the time axis.

    Args:
        channels (int): Feature size of the channels-last input (B, T, C).
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.gamma = torch.nn.Parameter(torch.zeros(1, 1, channels))
        self.beta = torch.nn.Parameter(torch.zeros(1, 1, channels))

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: (B, T, C); mask: optional (B, T, 1), 1 on valid frames (padding is left out
        of the norm, so a padded batch item gives what it gives alone)."""
        if torch.is_grad_enabled() and not torch.jit.is_tracing() and not torch.compiler.is_compiling():
            return GRNFunction.apply(x, mask, self.gamma, self.beta, self.eps)
        return torch.addcmul(self.beta, x, _grn_scale(x, mask, self.gamma, self.eps)[-1])


def depthwise_conv_channels_last(x: torch.Tensor, conv: torch.nn.Conv1d) -> torch.Tensor:
    """A depthwise ``Conv1d`` (its weight and padding) applied to channels-last x (B, T, C).

    The (B, T, C) memory is a channels-last (B, C, 1, T) image, which oneDNN convolves
    without reordering; the result comes back as (B, T, C) without a copy."""
    image = x.transpose(1, 2).unsqueeze(2)
    y = F.conv2d(image, conv.weight.unsqueeze(2), conv.bias, padding=(0, conv.padding[0]), groups=conv.groups)
    return y.squeeze(2).transpose(1, 2)


class ConvNeXtV2Block(torch.nn.Module):
    """Depthwise conv -> LayerNorm -> pointwise up -> GELU -> GRN -> pointwise down, residual.

    Args:
        channels (int): Input and output channels.
        ffn_channels (int): Hidden channels of the pointwise MLP.
        kernel_size (int): Depthwise kernel size (odd; "same" padding).
    """

    def __init__(self, channels: int, ffn_channels: int, kernel_size: int = 7):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.dwconv = torch.nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        self.norm = torch.nn.LayerNorm(channels, eps=1e-6)
        self.pwconv1 = torch.nn.Linear(channels, ffn_channels)
        self.act = torch.nn.GELU()
        self.grn = GRN(ffn_channels)
        self.pwconv2 = torch.nn.Linear(ffn_channels, channels)

    def forward_channels_last(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x (B, T, C), zero on padded frames when ``mask`` (B, T, 1) is given -> (B, T, C)."""
        y = depthwise_conv_channels_last(x, self.dwconv)
        y = self.pwconv2(self.grn(_gelu(self.pwconv1(self.norm(y)), self.act), mask))
        y = x + y
        return y if mask is None else y * mask

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Apply the block.

        Args:
            x (Tensor): Features (B, C, T), zero on padded frames when ``mask`` is given.
            mask (Optional[Tensor]): (B, 1, T), 1 on valid frames.

        Returns:
            Tensor: Features (B, C, T) (padded frames zeroed when ``mask`` is given).
        """
        mask = None if mask is None else mask.transpose(1, 2)
        return self.forward_channels_last(x.transpose(1, 2), mask).transpose(1, 2)


def run_blocks(
    x: torch.Tensor,
    norm_in: torch.nn.LayerNorm,
    blocks: torch.nn.Sequential,
    norm_out: torch.nn.LayerNorm,
    mask: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """LayerNorm -> ConvNeXt v2 blocks -> LayerNorm on x (B, C, T), computed channels-last
    with one transpose in and one out; mask (B, 1, T) zeroes padded frames after each."""
    h = x.transpose(1, 2)
    mask = None if mask is None else mask.transpose(1, 2)
    h = torch.nn.functional.layer_norm(h, norm_in.normalized_shape, norm_in.weight, norm_in.bias, norm_in.eps)
    h = h if mask is None else h * mask
    for block in blocks:
        h = block.forward_channels_last(h, mask)
    h = torch.nn.functional.layer_norm(h, norm_out.normalized_shape, norm_out.weight, norm_out.bias, norm_out.eps)
    h = h if mask is None else h * mask
    return h.transpose(1, 2)


class ChannelLayerNorm(torch.nn.LayerNorm):
    """LayerNorm over the channel axis of a (B, C, T) tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)
