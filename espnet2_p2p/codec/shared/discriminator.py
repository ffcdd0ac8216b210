"""Discriminators of P2PSynCodec: multi-period (ESPnet's HiFi-GAN) + multi-resolution MDCT.

Every discriminator returns a list of feature maps whose last element is its logit map,
the layout ESPnet's adversarial and feature-matching losses expect.
"""

from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from espnet2.gan_tts.hifigan.hifigan import HiFiGANMultiPeriodDiscriminator, HiFiGANPeriodDiscriminator
from torch.nn.utils.parametrizations import weight_norm

from espnet2_p2p.layers.mdct import MDCT
from espnet2_p2p.utils.quiet import old_weight_norm


def _current_weight(conv: torch.nn.Module) -> torch.Tensor:
    """``conv``'s weight as its forward would use it: the module's forward pre-hooks (the
    weight or spectral norm that ESPnet applies) recompute it first, as calling it does."""
    for hook in conv._forward_pre_hooks.values():
        hook(conv, ())
    return conv.weight


class PeriodDiscriminator1d(HiFiGANPeriodDiscriminator):
    """ESPnet's HiFi-GAN period discriminator, computed with 1-D convolutions.

    ESPnet folds the audio into (B, C, T / P, P) and convolves with (k, 1) kernels: each of
    the P columns is convolved alone along time. Here the P columns become batch items,
    (B * P, C, T / P), and the same weights (the 2-D kernels' one column) run as 1-D
    convolutions, which take about a third less time on a CPU thread (issue 40: the
    adversarial step's cost; ``benchmarks/adversarial_step.py``). Parameters, their names
    and initialisation are ESPnet's (this class only replaces ``forward``); the feature
    maps are returned in ESPnet's (B, C, T / P, P) layout, as views, so the losses see the
    same tensors (tested against ESPnet's forward).
    """

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        b, c, t = x.shape
        p = self.period
        if t % p != 0:
            n_pad = p - t % p
            x = F.pad(x, (0, n_pad), "reflect")
            t += n_pad
        h = x.view(b, c, t // p, p).permute(0, 3, 1, 2).reshape(b * p, c, t // p)

        def conv1d(conv, h):  # a (k, 1) Conv2d's weights as a 1-D convolution
            return F.conv1d(h, _current_weight(conv)[..., 0], conv.bias, conv.stride[0], conv.padding[0])

        def folded(h):  # (B * P, C, T') -> ESPnet's (B, C, T', P), a view
            return h.view(b, p, h.shape[1], h.shape[2]).permute(0, 2, 3, 1)

        outs = []
        for conv, act in self.convs:
            h = act(conv1d(conv, h))
            outs.append(folded(h))
        outs.append(folded(conv1d(self.output_conv, h)).flatten(1, -1))
        return outs


class MDCTDiscriminator(torch.nn.Module):
    """2-D convolutional discriminator on the MDCT of one resolution.

    The signed coefficients are compressed with ``sign(c) * log1p(|c| * scale)`` so
    that quiet bands are visible to the convolutions.

    Args:
        frame_length (int): MDCT window length (hop is half of it).
        channels (int): Channels of the hidden conv layers.
        num_layers (int): Strided (frequency) conv layers.
        kernel_size (Sequence[int]): (frequency, time) kernel of the hidden layers.
    """

    def __init__(
        self,
        frame_length: int = 512,
        channels: int = 32,
        num_layers: int = 4,
        kernel_size: Sequence[int] = (3, 9),
        compress_scale: float = 100.0,
    ):
        super().__init__()
        self.mdct = MDCT(frame_length, frame_length // 2)
        self.compress_scale = compress_scale
        kf, kt = kernel_size
        pad = (kf // 2, kt // 2)
        layers = [weight_norm(torch.nn.Conv2d(1, channels, (kf, kt), padding=pad))]
        for _ in range(num_layers):
            layers.append(weight_norm(torch.nn.Conv2d(channels, channels, (kf, kt), stride=(2, 1), padding=pad)))
        layers.append(weight_norm(torch.nn.Conv2d(channels, channels, 3, padding=1)))
        self.layers = torch.nn.ModuleList(layers)
        self.post = weight_norm(torch.nn.Conv2d(channels, 1, 3, padding=1))
        self.act = torch.nn.LeakyReLU(0.1)
        # channels-last maps: the same convolutions and values, faster on a CPU thread at
        # these few channels (a 3 x 9 conv of 8 channels 2.3x; issue 40, whose benchmark,
        # benchmarks/adversarial_step.py, turns it off for the computation before)
        self.channels_last = True

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Args: x (Tensor): Audio (B, 1, T). Returns: feature maps, logits last."""
        c = self.mdct.mdct(x[:, 0])  # (B, H, frames)
        c = torch.sign(c) * torch.log1p(c.abs() * self.compress_scale)
        # (B, 1, H, frames); channels-last strides, which for one channel are the same memory
        h = c.unsqueeze(-1).permute(0, 3, 1, 2) if self.channels_last else c.unsqueeze(1)
        feats = []
        for layer in self.layers:
            h = self.act(layer(h))
            if self.channels_last:
                h = h.contiguous(memory_format=torch.channels_last)
            feats.append(h)
        feats.append(self.post(h))
        return feats


class MultiResolutionMDCTDiscriminator(torch.nn.Module):
    """One :class:`MDCTDiscriminator` per MDCT frame length."""

    def __init__(
        self,
        frame_lengths: Sequence[int] = (128, 256, 512, 1024),
        channels: int = 32,
        num_layers: int = 4,
    ):
        super().__init__()
        self.discriminators = torch.nn.ModuleList(
            [MDCTDiscriminator(n, channels=channels, num_layers=num_layers) for n in frame_lengths]
        )

    def forward(self, x: torch.Tensor) -> List[List[torch.Tensor]]:
        return [d(x) for d in self.discriminators]


class P2PSynDiscriminator(torch.nn.Module):
    """Multi-period + multi-resolution MDCT discriminator.

    Args:
        periods (Sequence[int]): Periods of the HiFi-GAN period discriminators.
        period_discriminator_params (Optional[Dict]): Extra arguments of ESPnet's
            ``HiFiGANPeriodDiscriminator`` (channels, downsample scales, ...).
        mdct_frame_lengths (Sequence[int]): Frame lengths of the MDCT discriminators.
        mdct_channels (int): Hidden channels of the MDCT discriminators.
        mdct_num_layers (int): Strided layers per MDCT discriminator.
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        period_discriminator_params: Optional[Dict[str, Any]] = None,
        mdct_frame_lengths: Sequence[int] = (128, 256, 512, 1024),
        mdct_channels: int = 32,
        mdct_num_layers: int = 4,
    ):
        super().__init__()
        params = dict(
            in_channels=1,
            out_channels=1,
            kernel_sizes=[5, 3],
            channels=32,
            downsample_scales=[3, 3, 3, 3, 1],
            max_downsample_channels=1024,
            bias=True,
            nonlinear_activation="LeakyReLU",
            nonlinear_activation_params={"negative_slope": 0.1},
            use_weight_norm=True,
            use_spectral_norm=False,
        )
        params.update(period_discriminator_params or {})
        with old_weight_norm():  # torch's FutureWarning: see espnet2_p2p.utils.quiet
            self.mpd = HiFiGANMultiPeriodDiscriminator(periods=list(periods), discriminator_params=params)
        for d in self.mpd.discriminators:  # built by ESPnet; computed by PeriodDiscriminator1d.forward
            d.__class__ = PeriodDiscriminator1d
        self.mrd = MultiResolutionMDCTDiscriminator(
            mdct_frame_lengths, channels=mdct_channels, num_layers=mdct_num_layers
        )

    def forward(self, x: torch.Tensor) -> List[List[torch.Tensor]]:
        """Args: x (Tensor): Audio (B, 1, T). Returns: one feature list per discriminator."""
        return self.mpd(x) + self.mrd(x)
