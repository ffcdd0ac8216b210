"""P2PSynCodec: an MDCT-domain speech codec with plain-to-pseudo synergistic VQ.

Signal path::

    wav -> MDCT -> encoder (ConvNeXt v2, strided conv) -> latent z (frame rate fs / hop)
        -> quantizer -> decoder (mirror of the encoder) -> MDCT coefficients -> IMDCT -> wav

Framing: a waveform of T samples is zero-padded to ``m * hop`` samples with
``m = ceil(T / hop)`` (hop = MDCT hop x downsample, 320 at 16 kHz); its MDCT has
``downsample * m + 1`` frames, and the strided conv with kernel ``downsample + 1``
maps them to exactly m latent frames. So a waveform of T samples has
``ceil(T / hop)`` code frames, and the bitrate of whole frames is exact.

In this module the quantizer is the teacher: a residual VQ of ``1 + num_pseudo``
codebooks (level 0 is the plain VQ).
"""

import math
from typing import Any, Dict, Optional

import torch
from espnet2.gan_codec.abs_gan_codec import AbsGANCodec
from espnet2.gan_tts.hifigan.loss import (
    DiscriminatorAdversarialLoss,
    FeatureMatchLoss,
    GeneratorAdversarialLoss,
)
from espnet2.torch_utils.device_funcs import force_gatherable
from typeguard import typechecked

from espnet2_p2p.codec.p2psyn.discriminator import P2PSynDiscriminator
from espnet2_p2p.codec.p2psyn.loss import MultiResolutionLogMelLoss, compressed_mdct_mse
from espnet2_p2p.layers.convnext import ChannelLayerNorm, ConvNeXtV2Block
from espnet2_p2p.layers.mdct import MDCT
from espnet2_p2p.quantizer.residual_vq import ResidualVQ
from espnet2_p2p.utils.checks import check_audio_batch


class MDCTEncoder(torch.nn.Module):
    """MDCT coefficients (B, H, downsample * m + 1) -> latent (B, latent_dim, m)."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        ffn_channels: int,
        num_blocks: int,
        kernel_size: int,
        downsample: int,
        latent_dim: int,
    ):
        super().__init__()
        self.input_conv = torch.nn.Conv1d(
            in_channels, channels, kernel_size, padding=kernel_size // 2
        )
        self.input_norm = ChannelLayerNorm(channels, eps=1e-6)
        self.blocks = torch.nn.Sequential(
            *[ConvNeXtV2Block(channels, ffn_channels, kernel_size) for _ in range(num_blocks)]
        )
        self.output_norm = ChannelLayerNorm(channels, eps=1e-6)
        # kernel = stride + 1: every MDCT frame is seen, and 8m + 1 frames give m outputs.
        self.downsample = torch.nn.Conv1d(
            channels, latent_dim, downsample + 1, stride=downsample
        )

    def forward(self, coeffs: torch.Tensor) -> torch.Tensor:
        h = self.input_norm(self.input_conv(coeffs))
        h = self.output_norm(self.blocks(h))
        return self.downsample(h)


class MDCTDecoder(torch.nn.Module):
    """Latent (B, latent_dim, m) -> MDCT coefficients (B, H, downsample * m + 1)."""

    def __init__(
        self,
        out_channels: int,
        channels: int,
        ffn_channels: int,
        num_blocks: int,
        kernel_size: int,
        downsample: int,
        latent_dim: int,
    ):
        super().__init__()
        self.upsample = torch.nn.ConvTranspose1d(
            latent_dim, channels, downsample + 1, stride=downsample
        )
        self.input_norm = ChannelLayerNorm(channels, eps=1e-6)
        self.blocks = torch.nn.Sequential(
            *[ConvNeXtV2Block(channels, ffn_channels, kernel_size) for _ in range(num_blocks)]
        )
        self.output_norm = ChannelLayerNorm(channels, eps=1e-6)
        self.output_conv = torch.nn.Conv1d(
            channels, out_channels, kernel_size, padding=kernel_size // 2
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.input_norm(self.upsample(z))
        h = self.output_norm(self.blocks(h))
        return self.output_conv(h)


class P2PSynGenerator(torch.nn.Module):
    """MDCT analysis, encoder, quantizer, decoder and IMDCT synthesis."""

    def __init__(
        self,
        mdct_frame_length: int,
        mdct_hop_length: int,
        mdct_window: str,
        channels: int,
        ffn_channels: int,
        num_blocks: int,
        kernel_size: int,
        downsample: int,
        latent_dim: int,
        quantizer: torch.nn.Module,
    ):
        super().__init__()
        self.mdct = MDCT(mdct_frame_length, mdct_hop_length, mdct_window)
        self.hop_length = mdct_hop_length * downsample
        arch = dict(
            channels=channels,
            ffn_channels=ffn_channels,
            num_blocks=num_blocks,
            kernel_size=kernel_size,
            downsample=downsample,
            latent_dim=latent_dim,
        )
        self.encoder = MDCTEncoder(in_channels=mdct_hop_length, **arch)
        self.quantizer = quantizer
        self.decoder = MDCTDecoder(out_channels=mdct_hop_length, **arch)

    def num_frames(self, num_samples: int) -> int:
        """Code frames for a waveform of ``num_samples`` samples: ceil(T / hop)."""
        return max(1, -(-num_samples // self.hop_length))

    def analyse(self, audio: torch.Tensor):
        """Audio (B, 1, T) -> (MDCT of the padded audio (B, H, 8m+1), latent (B, D, m))."""
        frames = self.num_frames(audio.shape[-1])
        padded = torch.nn.functional.pad(audio, (0, frames * self.hop_length - audio.shape[-1]))
        coeffs = self.mdct.mdct(padded[:, 0])
        return coeffs, self.encoder(coeffs)

    def synthesise(self, quantized: torch.Tensor, length: Optional[int] = None):
        """Quantized latent (B, D, m) -> (audio (B, 1, length), MDCT coefficients)."""
        coeffs = self.decoder(quantized)
        if length is None:
            length = quantized.shape[-1] * self.hop_length
        return self.mdct.imdct(coeffs, length).unsqueeze(1), coeffs

    def forward(self, audio: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Training pass: audio (B, 1, T) -> reconstruction, targets and VQ outputs."""
        coeffs, z = self.analyse(audio)
        vq = self.quantizer(z)
        audio_hat, coeffs_hat = self.synthesise(vq.quantized, audio.shape[-1])
        return dict(
            audio_hat=audio_hat,
            coeffs_hat=coeffs_hat,
            coeffs=coeffs,
            commit_loss=vq.commit_loss,
            codes=vq.codes,
        )


class P2PSynCodec(AbsGANCodec):
    """P2PSynCodec for ESPnet's GAN codec task (``--codec p2psyn``).

    Args:
        sampling_rate (int): Sampling rate of the audio.
        mdct_frame_length (int): MDCT window (2H).
        mdct_hop_length (int): MDCT hop H (also coefficients per frame).
        mdct_window (str): "sine" or "kbd".
        channels (int): Channels of the ConvNeXt stacks.
        ffn_channels (int): Hidden channels of the ConvNeXt MLPs.
        num_blocks (int): ConvNeXt v2 blocks in the encoder (and in the decoder).
        kernel_size (int): Kernel of the depthwise and input/output convs.
        downsample (int): MDCT frames per code frame.
        latent_dim (int): Dimension of the quantized latent.
        codebook_size (int): Entries of the plain codebook (sets the bitrate).
        num_pseudo (int): N, the residual codebooks beyond the plain one.
        pseudo_codebook_size (Optional[int]): Entries of each residual codebook
            (default: codebook_size).
        codebook_dim (Optional[int]): Codebook dimension if it differs from latent_dim.
        quantizer_conf (Optional[Dict]): Extra arguments of
            :class:`espnet2_p2p.quantizer.ResidualVQ` (decay, kmeans_init,
            kmeans_iters, threshold_ema_dead_code, quantizer_dropout).
        discriminator_params (Optional[Dict]): Arguments of
            :class:`P2PSynDiscriminator`.
        mel_loss_params (Optional[Dict]): Arguments of :class:`MultiResolutionLogMelLoss`
            (``fs`` is taken from sampling_rate).
        mdct_loss_power (float): Compression power of the MDCT MSE (1 = plain MSE).
        adv_loss_type (str): "mse" (LSGAN) or "hinge".
        lambda_mel_l1, lambda_mel_l2, lambda_mdct, lambda_commit, lambda_adv,
        lambda_feat_match (float): Loss weights.
        cache_generator_outputs (bool): Reuse the generator output of the generator
            turn in the discriminator turn (one quantizer update per batch).
    """

    @typechecked
    def __init__(
        self,
        sampling_rate: int = 16000,
        mdct_frame_length: int = 80,
        mdct_hop_length: int = 40,
        mdct_window: str = "sine",
        channels: int = 256,
        ffn_channels: int = 512,
        num_blocks: int = 8,
        kernel_size: int = 7,
        downsample: int = 8,
        latent_dim: int = 32,
        codebook_size: int = 1024,
        num_pseudo: int = 3,
        pseudo_codebook_size: Optional[int] = None,
        codebook_dim: Optional[int] = None,
        quantizer_conf: Optional[Dict[str, Any]] = None,
        discriminator_params: Optional[Dict[str, Any]] = None,
        mel_loss_params: Optional[Dict[str, Any]] = None,
        mdct_loss_power: float = 0.5,
        adv_loss_type: str = "hinge",
        lambda_mel_l1: float = 15.0,
        lambda_mel_l2: float = 5.0,
        lambda_mdct: float = 10.0,
        lambda_commit: float = 1.0,
        lambda_adv: float = 1.0,
        lambda_feat_match: float = 2.0,
        cache_generator_outputs: bool = True,
    ):
        super().__init__()
        if num_pseudo < 0:
            raise ValueError(f"num_pseudo must be >= 0, got {num_pseudo}")
        self.fs = sampling_rate
        self.num_pseudo = num_pseudo
        self.codebook_size = codebook_size
        self.pseudo_codebook_size = pseudo_codebook_size or codebook_size
        quantizer = ResidualVQ(
            dim=latent_dim,
            num_quantizers=1 + num_pseudo,
            codebook_size=[codebook_size] + [self.pseudo_codebook_size] * num_pseudo,
            codebook_dim=codebook_dim,
            **(quantizer_conf or {}),
        )
        self.generator = P2PSynGenerator(
            mdct_frame_length=mdct_frame_length,
            mdct_hop_length=mdct_hop_length,
            mdct_window=mdct_window,
            channels=channels,
            ffn_channels=ffn_channels,
            num_blocks=num_blocks,
            kernel_size=kernel_size,
            downsample=downsample,
            latent_dim=latent_dim,
            quantizer=quantizer,
        )
        self.discriminator = P2PSynDiscriminator(**(discriminator_params or {}))
        self.mel_loss = MultiResolutionLogMelLoss(fs=sampling_rate, **(mel_loss_params or {}))
        self.generator_adv_loss = GeneratorAdversarialLoss(loss_type=adv_loss_type)
        self.discriminator_adv_loss = DiscriminatorAdversarialLoss(loss_type=adv_loss_type)
        self.feat_match_loss = FeatureMatchLoss()
        self.mdct_loss_power = mdct_loss_power
        self.lambda_mel_l1 = lambda_mel_l1
        self.lambda_mel_l2 = lambda_mel_l2
        self.lambda_mdct = lambda_mdct
        self.lambda_commit = lambda_commit
        self.lambda_adv = lambda_adv
        self.lambda_feat_match = lambda_feat_match
        self.cache_generator_outputs = cache_generator_outputs
        self._cache = None

    # ------------------------------------------------------------------ info
    @property
    def hop_length(self) -> int:
        """Samples per code frame."""
        return self.generator.hop_length

    @property
    def frame_rate(self) -> float:
        return self.fs / self.hop_length

    def meta_info(self) -> Dict[str, Any]:
        """ESPnet's codec meta information (teacher: every level is a transmitted stream)."""
        sizes = self.generator.quantizer.codebook_sizes
        return {
            "fs": self.fs,
            "num_streams": len(sizes),
            "frame_shift": self.hop_length,
            "code_size_per_stream": list(sizes),
        }

    def bitrate(self) -> float:
        """Bits per second of the transmitted streams."""
        bits = sum(math.log2(k) for k in self.meta_info()["code_size_per_stream"])
        return bits * self.frame_rate

    # ------------------------------------------------------------ training
    def forward(
        self, audio: torch.Tensor, forward_generator: bool = True, **kwargs
    ) -> Dict[str, Any]:
        """Generator or discriminator loss for ESPnet's GAN trainer.

        Args:
            audio (Tensor): Audio batch (B, T).
            forward_generator (bool): Generator turn (True) or discriminator turn.

        Returns:
            Dict[str, Any]: loss, stats, weight, optim_idx (0 generator, 1 discriminator).
        """
        audio = audio.unsqueeze(1) if audio.dim() == 2 else audio
        check_audio_batch(audio)
        if forward_generator:
            return self._forward_generator(audio)
        return self._forward_discriminator(audio)

    def _generator_outputs(self, audio: torch.Tensor) -> Dict[str, torch.Tensor]:
        # The GAN trainer runs a generator and a discriminator turn on the same batch
        # (in either order); running the generator once keeps one codebook update per
        # batch. The cache is used only for the very batch it was computed on.
        cache, self._cache = self._cache, None
        if cache is not None and cache[0].shape == audio.shape and torch.equal(cache[0], audio):
            return cache[1]
        outputs = self.generator(audio)
        if self.training and self.cache_generator_outputs:
            self._cache = (audio, outputs)
        return outputs

    def _forward_generator(self, audio: torch.Tensor) -> Dict[str, Any]:
        out = self._generator_outputs(audio)
        audio_hat = out["audio_hat"]
        mel_l1, mel_l2 = self.mel_loss(audio_hat, audio)
        mdct_loss = compressed_mdct_mse(out["coeffs_hat"], out["coeffs"], self.mdct_loss_power)
        loss = (
            self.lambda_mel_l1 * mel_l1
            + self.lambda_mel_l2 * mel_l2
            + self.lambda_mdct * mdct_loss
            + self.lambda_commit * out["commit_loss"]
        )
        stats = dict(
            mel_l1_loss=mel_l1.item(),
            mel_l2_loss=mel_l2.item(),
            mdct_loss=mdct_loss.item(),
            commit_loss=out["commit_loss"].item(),
        )
        if self.lambda_adv > 0 or self.lambda_feat_match > 0:
            p_hat = self.discriminator(audio_hat)
            with torch.no_grad():
                p = self.discriminator(audio)
            adv_loss = self.generator_adv_loss(p_hat)
            feat_match_loss = self.feat_match_loss(p_hat, p)
            loss = loss + self.lambda_adv * adv_loss + self.lambda_feat_match * feat_match_loss
            stats.update(adv_loss=adv_loss.item(), feat_match_loss=feat_match_loss.item())
        stats.update(loss=loss.item())
        loss, stats, weight = force_gatherable((loss, stats, audio.shape[0]), loss.device)
        return dict(loss=loss, stats=stats, weight=weight, optim_idx=0)

    def _forward_discriminator(self, audio: torch.Tensor) -> Dict[str, Any]:
        out = self._generator_outputs(audio)
        p_hat = self.discriminator(out["audio_hat"].detach())
        p = self.discriminator(audio)
        real_loss, fake_loss = self.discriminator_adv_loss(p_hat, p)
        loss = real_loss + fake_loss
        stats = dict(
            discriminator_loss=loss.item(),
            real_loss=real_loss.item(),
            fake_loss=fake_loss.item(),
        )
        loss, stats, weight = force_gatherable((loss, stats, audio.shape[0]), loss.device)
        return dict(loss=loss, stats=stats, weight=weight, optim_idx=1)

    # ----------------------------------------------------------- inference
    @torch.no_grad()
    def encode(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """Waveform -> codes.

        Args:
            x (Tensor): Audio (B, 1, T).

        Returns:
            Tensor: Codes (1 + N, B, ceil(T / hop)), long; stream 0 is the plain VQ.
        """
        check_audio_batch(x)
        _, z = self.generator.analyse(x)
        return self.generator.quantizer.encode(z)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, length: Optional[int] = None, **kwargs) -> torch.Tensor:
        """Codes -> waveform.

        Args:
            codes (Tensor): Codes (n_streams, B, frames); the first n_streams levels
                are used (1 = plain-only decoding).
            length (Optional[int]): Output samples; ``frames * hop`` when omitted.

        Returns:
            Tensor: Audio (B, 1, length).
        """
        quantized = self.generator.quantizer.decode(codes)
        audio, _ = self.generator.synthesise(quantized, length)
        return audio

    @torch.no_grad()
    def inference(self, x: torch.Tensor, **kwargs) -> Dict[str, torch.Tensor]:
        """Encode and decode.

        Args:
            x (Tensor): Audio (T,), (B, T) or (B, 1, T).

        Returns:
            Dict[str, Tensor]: ``wav`` with the input's shape and length, ``codec``
            (n_streams, B, frames).
        """
        shape = x.shape
        x3 = x.view(1, 1, -1) if x.dim() == 1 else (x.unsqueeze(1) if x.dim() == 2 else x)
        codes = self.encode(x3)
        wav = self.decode(codes, length=x3.shape[-1])
        return {"wav": wav.reshape(shape), "codec": codes}
