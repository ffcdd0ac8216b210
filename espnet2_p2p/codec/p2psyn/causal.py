"""The causal generator of P2PSynCodec (``causal: true``): coding in pieces equals coding
the whole input.

Signal path::

    samples -> streaming MDCT (H per frame, no look-ahead) -> causal conv stack
        -> D MDCT frames patched into one latent frame -> quantizer
        -> latent frame unpatched into D frames -> causal conv stack -> MDCT -> overlap-add

Nothing looks at a later frame: the ConvNeXt blocks lose GRN (a norm over the whole time
axis) and their convolutions pad on the left only (:mod:`espnet2_p2p.layers.causal`); a
student's predictors are :class:`~espnet2_p2p.quantizer.predictor.CausalPseudoVQPredictor`.
A code frame needs its ``hop`` samples (buffering) and its audio is complete once the
next MDCT frame's overlap is added, so the algorithmic latency is ``hop + H`` samples
(320 + 40 at 16 kHz: 22.5 ms).
"""

from typing import Optional

import torch

from espnet2_p2p.codec.p2psyn.framing import GeneratorBase
from espnet2_p2p.layers.causal import causal_conv_stack
from espnet2_p2p.layers.mdct import MDCT


class CausalMDCTEncoder(torch.nn.Module):
    """MDCT frames (B, H, k * D) -> latent (B, latent_dim, k), with a state."""

    def __init__(self, in_channels, channels, ffn_channels, num_blocks, kernel_size, downsample, latent_dim):
        super().__init__()
        self.downsample = downsample
        self.stack = causal_conv_stack(in_channels, channels, ffn_channels, num_blocks, kernel_size)
        self.patch = torch.nn.Linear(channels * downsample, latent_dim)

    def forward(self, coeffs: torch.Tensor, state=None):
        h, state = self.stack(coeffs, state)
        b, c, t = h.shape
        h = h.view(b, c, t // self.downsample, self.downsample).permute(0, 2, 1, 3).reshape(b, -1, c * self.downsample)
        return self.patch(h).transpose(1, 2), state


class CausalMDCTDecoder(torch.nn.Module):
    """Latent (B, latent_dim, k) -> MDCT frames (B, H, k * D), with a state."""

    def __init__(self, out_channels, channels, ffn_channels, num_blocks, kernel_size, downsample, latent_dim):
        super().__init__()
        self.downsample, self.channels = downsample, channels
        self.unpatch = torch.nn.Linear(latent_dim, channels * downsample)
        self.stack = causal_conv_stack(None, channels, ffn_channels, num_blocks, kernel_size, out_channels)

    def forward(self, z: torch.Tensor, state=None):
        b, _, k = z.shape
        h = self.unpatch(z.transpose(1, 2)).view(b, k, self.channels, self.downsample)
        h = h.permute(0, 2, 1, 3).reshape(b, self.channels, k * self.downsample)
        return self.stack(h, state)


class CausalP2PSynGenerator(GeneratorBase):
    """Streaming MDCT, causal encoder, quantizer, causal decoder; offline and in pieces."""

    def __init__(self, mdct: MDCT, quantizer: torch.nn.Module, arch: dict):
        """``arch``: the sizes, as for :class:`~espnet2_p2p.codec.p2psyn.p2psyn.P2PSynGenerator`."""
        super().__init__()
        self.mdct = mdct
        self.H, self.D = mdct.hop_length, arch["downsample"]
        self.hop_length = self.H * self.D
        self.encoder = CausalMDCTEncoder(in_channels=self.H, **arch)
        self.quantizer = quantizer
        self.decoder = CausalMDCTDecoder(out_channels=self.H, **arch)

    @property
    def latency_samples(self) -> int:
        """One code frame of buffering plus the overlap of the last MDCT frame."""
        return self.hop_length + self.H

    # ------------------------------------------------------------- pieces
    def encode_frames(self, samples: torch.Tensor, state: Optional[dict] = None):
        """Samples (B, k * hop) -> (MDCT (B, H, k * D), latent (B, D_latent, k), new state)."""
        state = state or {}
        coeffs, tail = self.mdct.analysis_step(samples, state.get("tail"))
        z, enc = self.encoder(coeffs, state.get("encoder"))
        return coeffs, z, {"tail": tail, "encoder": enc}

    def decode_frames(self, quantized: torch.Tensor, state: Optional[dict] = None):
        """Quantized latent (B, D_latent, k) -> (MDCT (B, H, k * D), samples (B, k * hop),
        new state). The samples lag the frames by H (see :meth:`MDCT.synthesis_step`)."""
        state = state or {}
        coeffs, dec = self.decoder(quantized, state.get("decoder"))
        samples, overlap = self.mdct.synthesis_step(coeffs, state.get("overlap"))
        return coeffs, samples, {"decoder": dec, "overlap": overlap}

    # ------------------------------------------------------------ offline
    def analyse(self, audio: torch.Tensor, lengths: Optional[torch.Tensor] = None):
        """Audio (B, 1, T) -> (MDCT (B, H, m * D), latent (B, D_latent, m)), m = ceil(T / hop).
        Samples past ``lengths`` (B,) are zeroed; being causal, an item's first frames
        do not depend on what follows them."""
        frames = self.num_frames(audio.shape[-1])
        padded = torch.nn.functional.pad(audio[:, 0], (0, frames * self.hop_length - audio.shape[-1]))
        if lengths is not None:
            samples = torch.arange(padded.shape[-1], device=audio.device)
            padded = padded * (samples < lengths.to(audio.device).view(-1, 1))
        coeffs, z, _ = self.encode_frames(padded)
        return coeffs, z

    def synthesise(self, quantized: torch.Tensor, length: Optional[int] = None, frames: Optional[torch.Tensor] = None):
        """Quantized latent (B, D_latent, m) -> (audio (B, 1, length), MDCT (B, H, m * D)).
        With ``frames`` (B,), item b's audio equals what its first ``frames[b]`` code
        frames give alone (the MDCT frames after them are dropped; zero past them)."""
        if length is None:
            length = quantized.shape[-1] * self.hop_length
        coeffs, _ = self.decoder(quantized)
        if frames is not None:
            valid = (
                torch.arange(coeffs.shape[-1], device=coeffs.device) < frames.to(coeffs.device).view(-1, 1, 1) * self.D
            )
            coeffs = coeffs * valid
        samples, overlap = self.mdct.synthesis_step(coeffs)
        audio = torch.cat([samples, overlap], dim=-1)[:, self.H : self.H + length].unsqueeze(1)
        if frames is not None:
            keep = torch.arange(length, device=audio.device) < frames.to(audio.device).view(-1, 1, 1) * self.hop_length
            audio = audio * keep
        return audio, coeffs
