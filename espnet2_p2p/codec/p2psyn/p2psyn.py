"""P2PSynCodec: an MDCT-domain speech codec with plain-to-pseudo synergistic VQ.

Signal path::

    wav -> MDCT -> encoder (ConvNeXt v2, strided conv) -> latent z (frame rate fs / hop)
        -> quantizer -> decoder (mirror of the encoder) -> MDCT coefficients -> IMDCT -> wav

Framing: a waveform of T samples is zero-padded to ``m * hop`` samples with
``m = ceil(T / hop)`` (hop = MDCT hop x downsample, 320 at 16 kHz); its MDCT has
``downsample * m + 1`` frames, and the strided conv with kernel ``downsample + 1``
maps them to exactly m latent frames. So a waveform of T samples has
``ceil(T / hop)`` code frames, and the bitrate of whole frames is exact.

The quantizer is :class:`espnet2_p2p.quantizer.P2PSVQ`:

- ``quantizer_mode: teacher`` (stage 1): a residual VQ of ``1 + num_pseudo`` codebooks,
  all transmitted (level 0 is the plain VQ); trained end to end as a GAN codec.
- ``quantizer_mode: student`` (stage 2): only the plain tokens are transmitted; the
  pseudo VQs' tokens are predicted at the decoder. Stage 2 starts from the teacher
  (``--init_param``), keeps encoder, codebooks and decoder fixed and trains the
  predictors by cross-entropy against the teacher's tokens (teacher forcing). With
  ``finetune_decoder: true`` the decoder also learns from the predicted codewords.
"""

from typing import Any, Dict, List, Optional, Tuple

import torch
from typeguard import typechecked

from espnet2_p2p.codec.p2psyn.causal import CausalP2PSynGenerator
from espnet2_p2p.codec.p2psyn.framing import GeneratorBase
from espnet2_p2p.codec.shared.gan_codec import GANCodecBase, as_audio_batch
from espnet2_p2p.codec.shared.loss import compressed_mdct_mse
from espnet2_p2p.codec.shared.streaming import StreamDecoder, StreamEncoder
from espnet2_p2p.layers.convnext import ChannelLayerNorm, ConvNeXtV2Block, run_blocks
from espnet2_p2p.layers.mdct import MDCT
from espnet2_p2p.quantizer.p2psvq import P2PSVQ
from espnet2_p2p.utils.checks import check_audio_batch, check_counts


def _masked(x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    return x if mask is None else x * mask


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
        self.input_conv = torch.nn.Conv1d(in_channels, channels, kernel_size, padding=kernel_size // 2)
        self.input_norm = ChannelLayerNorm(channels, eps=1e-6)
        self.blocks = torch.nn.Sequential(
            *[ConvNeXtV2Block(channels, ffn_channels, kernel_size) for _ in range(num_blocks)]
        )
        self.output_norm = ChannelLayerNorm(channels, eps=1e-6)
        # kernel = stride + 1: every MDCT frame is seen, and 8m + 1 frames give m outputs.
        self.downsample = torch.nn.Conv1d(channels, latent_dim, downsample + 1, stride=downsample)

    def forward(self, coeffs: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """coeffs (B, H, 8m + 1); mask: optional (B, 1, 8m + 1), 1 on valid MDCT frames."""
        h = self.input_conv(_masked(coeffs, mask))
        return self.downsample(run_blocks(h, self.input_norm, self.blocks, self.output_norm, mask))


class LinearUpsample(torch.nn.Module):
    """Linear interpolation of code frames (B, C, m) to MDCT frames (B, C, factor * m + 1).

    Code frame j is placed at MDCT frame ``factor * j + factor // 2``, the middle of the
    ``factor + 1`` frames the encoder's strided conv reads for it; the frames before the
    first and after the last one repeat it. Nothing is learned: unlike a transposed conv,
    which adds one learned pattern per code frame, a steady input gives a steady output,
    and the interpolation's response is zero at every multiple of the code rate.
    """

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor
        taps = 1.0 - torch.arange(1 - factor, factor).abs().float() / factor  # a triangle
        self.register_buffer("kernel", taps.view(1, 1, -1), persistent=False)

    def forward(self, h: torch.Tensor, frames: Optional[torch.Tensor] = None) -> torch.Tensor:
        """h (B, C, m); frames: valid code frames per item (B,), whose last frame is then
        repeated past them (as when the item is alone)."""
        b, c, m = h.shape
        f = self.factor
        if frames is not None:
            last = (frames.long().clamp(min=1) - 1).view(-1, 1, 1)
            index = torch.minimum(torch.arange(m, device=h.device).view(1, 1, -1), last)
            h = h.gather(-1, index.expand(b, c, m))
        h = torch.nn.functional.pad(h, (1, 1), mode="replicate")
        up = torch.nn.functional.conv_transpose1d(h.reshape(b * c, 1, m + 2), self.kernel, stride=f)
        start = 2 * f - 1 - f // 2  # code frame j peaks at f * (j + 1) + f - 1 before the cut
        return up[:, 0, start : start + f * m + 1].reshape(b, c, f * m + 1)


UPSAMPLERS = ("transposed", "linear")


class MDCTDecoder(torch.nn.Module):
    """Latent (B, latent_dim, m) -> MDCT coefficients (B, H, downsample * m + 1).

    ``upsample`` is how code frames become MDCT frames: "transposed" (a transposed conv
    of kernel downsample + 1, the layout of the models trained before issue 40) or
    "linear" (a conv of kernel 3 at the code rate, then :class:`LinearUpsample`).
    """

    def __init__(
        self,
        out_channels: int,
        channels: int,
        ffn_channels: int,
        num_blocks: int,
        kernel_size: int,
        downsample: int,
        latent_dim: int,
        upsample: str = "transposed",
    ):
        super().__init__()
        if upsample not in UPSAMPLERS:
            raise ValueError(f"decoder_upsample must be one of {UPSAMPLERS}, got {upsample!r}")
        self.upsample_mode = upsample
        if upsample == "transposed":
            self.upsample = torch.nn.ConvTranspose1d(latent_dim, channels, downsample + 1, stride=downsample)
        else:
            self.project = torch.nn.Conv1d(latent_dim, channels, 3, padding=1)
            self.interpolate = LinearUpsample(downsample)
        self.input_norm = ChannelLayerNorm(channels, eps=1e-6)
        self.blocks = torch.nn.Sequential(
            *[ConvNeXtV2Block(channels, ffn_channels, kernel_size) for _ in range(num_blocks)]
        )
        self.output_norm = ChannelLayerNorm(channels, eps=1e-6)
        self.output_conv = torch.nn.Conv1d(channels, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, z: torch.Tensor, masks=None) -> torch.Tensor:
        """z (B, D, m); masks: optional (code-frame mask (B, 1, m), MDCT-frame mask
        (B, 1, 8m + 1)), 1 on valid frames."""
        frame_mask, mask = (None, None) if masks is None else masks
        z = _masked(z, frame_mask)
        if self.upsample_mode == "transposed":
            h = self.upsample(z)
        else:
            frames = None if frame_mask is None else frame_mask.sum(-1).view(-1)
            h = self.interpolate(self.project(z), frames)
        return _masked(self.output_conv(run_blocks(h, self.input_norm, self.blocks, self.output_norm, mask)), mask)


class P2PSynGenerator(GeneratorBase):
    """MDCT analysis, encoder, quantizer, decoder and IMDCT synthesis."""

    def __init__(
        self, mdct: MDCT, quantizer: torch.nn.Module, arch: Dict[str, int], decoder_upsample: str = "transposed"
    ):
        """``arch``: the encoder's and decoder's sizes (``channels``, ``ffn_channels``,
        ``num_blocks``, ``kernel_size``, ``downsample``, ``latent_dim``)."""
        super().__init__()
        self.mdct = mdct
        self.hop_length = mdct.hop_length * arch["downsample"]
        self.encoder = MDCTEncoder(in_channels=mdct.hop_length, **arch)
        self.quantizer = quantizer
        self.decoder = MDCTDecoder(out_channels=mdct.hop_length, upsample=decoder_upsample, **arch)

    def frame_masks(self, frames: torch.Tensor, max_frames: int):
        """Masks for a batch whose item b has ``frames[b]`` code frames: code-frame mask
        (B, 1, max_frames) and MDCT-frame mask (B, 1, downsample * max_frames + 1)."""
        down = self.hop_length // self.mdct.hop_length
        frames = frames.view(-1, 1, 1)
        code = torch.arange(max_frames, device=frames.device).view(1, 1, -1) < frames
        mdct = torch.arange(down * max_frames + 1, device=frames.device).view(1, 1, -1)
        mdct = mdct < down * frames + 1
        return code.float(), mdct.float()

    def analyse(self, audio: torch.Tensor, lengths: Optional[torch.Tensor] = None):
        """Audio (B, 1, T) -> (MDCT of the padded audio (B, H, 8m+1), latent (B, D, m)).

        With ``lengths`` (B,), item b is ``audio[b, :, :lengths[b]]`` (the rest is ignored)
        and its first ``ceil(lengths[b] / hop)`` latent frames equal those it gets alone.
        """
        frames = self.num_frames(audio.shape[-1])
        padded = torch.nn.functional.pad(audio, (0, frames * self.hop_length - audio.shape[-1]))
        masks = None
        if lengths is not None:
            lengths = lengths.to(audio.device)
            samples = torch.arange(padded.shape[-1], device=audio.device)
            padded = padded * (samples < lengths.view(-1, 1, 1))
            masks = self.frame_masks(self.num_frames_tensor(lengths), frames)
        coeffs = self.mdct.mdct(padded[:, 0])
        return coeffs, self.encoder(coeffs, None if masks is None else masks[1])

    def synthesise(
        self,
        quantized: torch.Tensor,
        length: Optional[int] = None,
        frames: Optional[torch.Tensor] = None,
    ):
        """Quantized latent (B, D, m) -> (audio (B, 1, length), MDCT coefficients).

        With ``frames`` (B,), item b has ``frames[b]`` valid code frames and its audio
        equals what those frames give alone (samples past them are zero).
        """
        masks = None if frames is None else self.frame_masks(frames.to(quantized.device), quantized.shape[-1])
        coeffs = self.decoder(quantized, masks)
        if length is None:
            length = quantized.shape[-1] * self.hop_length
        audio = self.mdct.imdct(coeffs, length).unsqueeze(1)
        if frames is not None:
            samples = torch.arange(length, device=audio.device)
            audio = audio * (samples < frames.to(audio.device).view(-1, 1, 1) * self.hop_length)
        return audio, coeffs


class P2PSynCodec(GANCodecBase):
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
        decoder_upsample (str): How the decoder turns code frames into MDCT frames:
            "transposed" (a transposed conv, which stamps a learned pattern on every code
            frame: the 50 Hz buzz of issue 40) or "linear" (a conv at the code rate, then
            linear interpolation). The causal variant has its own decoder and takes
            "transposed" only.
        codebook_size (int): Entries of the plain codebook (sets the bitrate).
        num_pseudo (int): N, the residual codebooks beyond the plain one.
        pseudo_codebook_size (Optional[int]): Entries of each residual codebook
            (default: codebook_size).
        codebook_dim (Optional[int]): Codebook dimension if it differs from latent_dim.
        quantizer_mode (str): "teacher" (stage 1) or "student" (stage 2).
        pseudo_codeword (str): Student: "expected" or "argmax" codewords from the
            predictors' logits (see :class:`P2PSVQ`).
        predictor_conf (Optional[Dict]): Student: arguments of the pseudo-VQ predictors
            (channels, conformer_blocks, attention_heads, linear_units,
            cnn_module_kernel, lstm_layers, dropout).
        quantizer_conf (Optional[Dict]): Extra arguments of the residual VQ
            (decay, kmeans_init, kmeans_iters, threshold_ema_dead_code, quantizer_dropout).
        finetune_decoder (bool): Student: also train the decoder on predicted codewords
            with the reconstruction (and, if lambda_adv > 0, adversarial) losses.
        decoder_only (bool): Train the decoder (and the discriminator) alone: the
            encoder, the codebooks and a student's predictors stay exactly as they are
            (no gradient, no codebook update, no dropout), so the tokens, and with them
            the entropy prior and the bit rate, do not change (issue 40's decoder-side
            training; a teacher with ``num_pseudo: 0`` is then the plain-only control).
        discriminator_params (Optional[Dict]): Arguments of
            :class:`P2PSynDiscriminator`.
        mel_loss_params (Optional[Dict]): Arguments of :class:`MultiResolutionLogMelLoss`
            (``fs`` is taken from sampling_rate).
        mdct_loss_power (float): Compression power of the MDCT MSE (1 = plain MSE).
        adv_loss_type (str): "mse" (LSGAN) or "hinge".
        lambda_mel_l1, lambda_mel_l2, lambda_mdct, lambda_commit, lambda_adv,
        lambda_feat_match, lambda_ce (float): Loss weights (lambda_ce: the pseudo VQs'
            cross-entropy, student only).
        cache_generator_outputs (bool): Reuse the generator output of the generator
            turn in the discriminator turn (one quantizer update per batch).
        causal (bool): The causal variant (:mod:`espnet2_p2p.codec.p2psyn.causal`):
            nothing looks ahead, so ``encode_stream``/``decode_stream`` code in pieces
            exactly as offline (algorithmic latency hop + mdct_hop_length samples). A
            student's ``predictor_conf`` may then set ``context``, the frames each
            attention query sees (default 50).
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
        decoder_upsample: str = "transposed",
        codebook_size: int = 1024,
        num_pseudo: int = 3,
        pseudo_codebook_size: Optional[int] = None,
        codebook_dim: Optional[int] = None,
        quantizer_mode: str = "teacher",
        pseudo_codeword: str = "expected",
        predictor_conf: Optional[Dict[str, Any]] = None,
        quantizer_conf: Optional[Dict[str, Any]] = None,
        finetune_decoder: bool = False,
        decoder_only: bool = False,
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
        lambda_ce: float = 1.0,
        cache_generator_outputs: bool = True,
        causal: bool = False,
    ):
        super().__init__()
        if num_pseudo < 0:
            raise ValueError(f"num_pseudo must be >= 0, got {num_pseudo}")
        self.fs = sampling_rate
        self.num_pseudo = num_pseudo
        quantizer = P2PSVQ(
            dim=latent_dim,
            codebook_size=codebook_size,
            num_pseudo=num_pseudo,
            pseudo_codebook_size=pseudo_codebook_size,
            codebook_dim=codebook_dim,
            mode=quantizer_mode,
            pseudo_codeword=pseudo_codeword,
            predictor=predictor_conf,
            rvq_conf=quantizer_conf,
            causal=causal,
        )
        self.causal = causal
        if causal and decoder_upsample != "transposed":
            raise ValueError("the causal P2PSynCodec has its own decoder: decoder_upsample must be 'transposed'")
        if causal and mdct_frame_length != 2 * mdct_hop_length:
            raise ValueError(
                f"a causal P2PSynCodec needs mdct_frame_length = 2 x mdct_hop_length, got"
                f" {mdct_frame_length} and {mdct_hop_length}"
            )
        mdct = MDCT(mdct_frame_length, mdct_hop_length, mdct_window)
        arch = dict(channels=channels, ffn_channels=ffn_channels, num_blocks=num_blocks, kernel_size=kernel_size)
        arch.update(downsample=downsample, latent_dim=latent_dim)
        if causal:
            self.generator = CausalP2PSynGenerator(mdct, quantizer, arch)
        else:
            self.generator = P2PSynGenerator(mdct, quantizer, arch, decoder_upsample)
        self.setup_gan(
            sampling_rate,
            discriminator_params,
            mel_loss_params,
            adv_loss_type,
            lambda_adv,
            lambda_feat_match,
            cache_generator_outputs,
        )
        self.mdct_loss_power = mdct_loss_power
        self.lambda_mel_l1 = lambda_mel_l1
        self.lambda_mel_l2 = lambda_mel_l2
        self.lambda_mdct = lambda_mdct
        self.lambda_commit = lambda_commit
        self.lambda_ce = lambda_ce
        self.decoder_only = decoder_only
        self.finetune_decoder = finetune_decoder or decoder_only
        if self.is_student:
            self._freeze_for_stage2()
        if decoder_only:
            self.generator.encoder.requires_grad_(False)
            self.generator.quantizer.requires_grad_(False)
            self.train(self.training)

    def train(self, mode: bool = True):
        """As ``torch.nn.Module.train``; with ``decoder_only`` the encoder and the quantizer
        stay in eval mode (no codebook update, no quantizer or predictor dropout)."""
        super().train(mode)
        if getattr(self, "decoder_only", False):
            self.generator.encoder.eval()
            self.generator.quantizer.eval()
        return self

    @property
    def is_student(self) -> bool:
        return self.generator.quantizer.mode == "student"

    @property
    def uses_discriminator(self) -> bool:
        """Whether the discriminator takes part in training this stage."""
        adversarial = self.lambda_adv > 0 or self.lambda_feat_match > 0
        return adversarial and (not self.is_student or self.finetune_decoder)

    def _freeze_for_stage2(self) -> None:
        # As in the paper, stage 2 trains only the pseudo VQs' predictors; the
        # decoder joins when finetune_decoder is set. (ESPnet's --freeze_param can
        # freeze more.) Codebooks are EMA buffers, never updated in student mode.
        gen = self.generator
        gen.encoder.requires_grad_(False)
        gen.quantizer.rvq.requires_grad_(False)
        gen.decoder.requires_grad_(self.finetune_decoder)
        self.discriminator.requires_grad_(self.uses_discriminator)

    # ------------------------------------------------------------------ info
    @property
    def hop_length(self) -> int:
        """Samples per code frame."""
        return self.generator.hop_length

    @property
    def streaming(self) -> bool:
        return self.causal

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency of the causal variant: a code frame of buffering plus the
        IMDCT overlap (hop + H samples)."""
        if not self.causal:
            raise ValueError("the offline P2PSynCodec does not stream (causal: false)")
        return self.generator.latency_samples

    @property
    def stream_sizes(self) -> List[int]:
        """Plain codebook, then the N residual (teacher) or pseudo (student) codebooks."""
        return list(self.generator.quantizer.codebook_sizes)

    @property
    def transmitted_streams(self) -> int:
        """A student sends the plain stream; a teacher all 1 + N."""
        return 1 if self.is_student else 1 + self.num_pseudo

    @property
    def predictor_parameters(self) -> int:
        predictors = self.generator.quantizer.predictors
        return 0 if predictors is None else sum(p.numel() for p in predictors.parameters())

    def set_pseudo_codeword(self, mode: str) -> None:
        """A student's rule for the pseudo VQs' codewords: "expected" or "argmax"."""
        if mode not in ("expected", "argmax"):
            raise ValueError(f"pseudo_codeword must be 'expected' or 'argmax', got {mode!r}")
        self.generator.quantizer.pseudo_codeword = mode

    @torch.no_grad()
    def teacher_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The residual VQ's tokens of every level (1 + N, B, frames): what the teacher
        transmits, and for a student the targets its pseudo VQs predict."""
        _, z = self.generator.analyse(x)
        return self.generator.quantizer.encode_residual(z)

    def meta_info(self) -> Dict[str, Any]:
        """ESPnet's codec meta information about the *transmitted* streams.

        Teacher: all 1 + N levels. Student: the plain stream only (the pseudo streams
        cost no bits; :meth:`tokens` gives all 1 + N for language models).
        """
        sizes = self.stream_sizes[: self.transmitted_streams]
        return {
            "fs": self.fs,
            "num_streams": len(sizes),
            "frame_shift": self.hop_length,
            "code_size_per_stream": list(sizes),
        }

    # ------------------------------------------------------------ training
    def generator_pass(self, audio: torch.Tensor) -> Dict[str, Any]:
        # A stage-2 student needs the decoder only to fine-tune it, or to report the
        # reconstruction losses on validation data.
        synthesise = not self.is_student or self.finetune_decoder or not self.training
        return self.generator(audio, synthesise=synthesise)

    def generator_loss(
        self, audio: torch.Tensor, out: Dict[str, Any], **inputs
    ) -> Tuple[torch.Tensor, Dict[str, float]]:
        """Teacher: commitment + reconstruction. Student: cross-entropy of the pseudo VQs
        (+ reconstruction when its decoder is fine-tuned); reconstruction stats whenever
        it synthesised."""
        vq = out["vq"]
        stats = {k: v.item() for k, v in vq.stats.items()}
        if self.is_student:
            loss = self.lambda_ce * vq.ce_loss
            stats.update(ce_loss=vq.ce_loss.item())
        else:
            loss = self.lambda_commit * vq.commit_loss
            stats.update(commit_loss=vq.commit_loss.item())
        if self.decoder_only:  # nothing those terms reach is trained
            loss = torch.zeros((), device=audio.device)
        if "audio_hat" in out:
            mel_l1, mel_l2 = self.mel_loss(out["audio_hat"], audio)
            mdct_loss = compressed_mdct_mse(out["coeffs_hat"], out["coeffs"], self.mdct_loss_power)
            stats.update(mel_l1_loss=mel_l1.item(), mel_l2_loss=mel_l2.item(), mdct_loss=mdct_loss.item())
            if not self.is_student or self.finetune_decoder:
                loss = loss + self.lambda_mel_l1 * mel_l1 + self.lambda_mel_l2 * mel_l2 + self.lambda_mdct * mdct_loss
        return loss, stats

    # ----------------------------------------------------------- inference
    @torch.no_grad()
    def encode(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None, **kwargs) -> torch.Tensor:
        """Waveform -> the transmitted codes.

        Args:
            x (Tensor): Audio (B, 1, T).
            lengths (Optional[Tensor]): Samples per item (B,) for a zero-padded batch of
                different lengths; item b then gets exactly the codes it gets alone in
                its first ``ceil(lengths[b] / hop)`` frames (the frames past them are 0).

        Returns:
            Tensor: Codes (n_streams, B, ceil(T / hop)), long. Teacher: 1 + N streams
            (stream 0 is the plain VQ). Student: the plain stream only (1, B, frames).
        """
        check_audio_batch(x)
        lengths = check_counts(lengths, x.shape[0], x.shape[-1], "lengths")
        _, z = self.generator.analyse(x, lengths)
        quantizer = self.generator.quantizer
        codes = quantizer.encode(z).unsqueeze(0) if self.is_student else quantizer.encode_residual(z)
        if lengths is not None:
            frames = self.generator.num_frames_tensor(lengths).to(codes.device)
            codes = codes * (torch.arange(codes.shape[-1], device=codes.device) < frames.view(-1, 1))
        return codes

    @torch.no_grad()
    def tokens(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Waveform -> all 1 + N token streams, for language models.

        Student: the plain tokens and the pseudo tokens its predictors give (argmax),
        exactly what the decoder reconstructs from. Teacher: its residual tokens.

        Args:
            x (Tensor): Audio (B, 1, T).
            lengths (Optional[Tensor]): Samples per item, as in :meth:`encode` (the
                predictors then run on each item's own frames).

        Returns:
            Tensor: Tokens (1 + N, B, ceil(T / hop)), long.
        """
        codes = self.encode(x, lengths)
        if not self.is_student:
            return codes
        pseudo = torch.zeros((self.num_pseudo,) + codes.shape[1:], dtype=codes.dtype, device=codes.device)
        for b, n in enumerate(self._item_frames(codes, lengths)):
            _, pseudo[:, b : b + 1, :n] = self.generator.quantizer.decode(codes[0, b : b + 1, :n])
        return torch.cat([codes, pseudo], dim=0)

    def _item_frames(self, codes: torch.Tensor, lengths: Optional[torch.Tensor]):
        if lengths is None:
            return [codes.shape[-1]] * codes.shape[1]
        return self.generator.num_frames_tensor(torch.as_tensor(lengths)).tolist()

    @torch.no_grad()
    def decode(
        self,
        codes: torch.Tensor,
        length: Optional[int] = None,
        frames: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> torch.Tensor:
        """Codes -> waveform.

        Args:
            codes (Tensor): (n_streams, B, frames). Student: 1 stream (plain tokens; the
                pseudo tokens are predicted) or 1 + N streams (all given, e.g. generated
                by a language model; nothing is predicted). Teacher: the first
                n_streams levels are summed (1 = plain-only decoding).
            length (Optional[int]): Output samples; ``frames * hop`` when omitted.
            frames (Optional[Tensor]): Valid frames per item (B,) of a padded batch;
                item b's audio then equals what its first ``frames[b]`` frames give
                alone (zero past ``frames[b] * hop``).

        Returns:
            Tensor: Audio (B, 1, length).
        """
        quantizer = self.generator.quantizer
        frames = check_counts(frames, codes.shape[1], codes.shape[-1], "frames")
        if self.is_student and codes.dim() == 3 and codes.shape[0] == 1:
            if frames is None:
                quantized, _ = quantizer.decode(codes[0])
            else:  # the predictors see each item's own frames only
                quantized = torch.zeros(codes.shape[1], quantizer.dim, codes.shape[-1], device=codes.device)
                for b, n in enumerate(frames.tolist()):
                    quantized[b : b + 1, :, :n], _ = quantizer.decode(codes[0, b : b + 1, :n])
        else:
            if self.is_student and codes.dim() == 3 and codes.shape[0] != 1 + self.num_pseudo:
                raise ValueError(
                    f"a student decodes 1 stream (plain) or {1 + self.num_pseudo}"
                    f" (plain + pseudo), got {codes.shape[0]} streams"
                )
            quantized = quantizer.dequantize(codes)
        audio, _ = self.generator.synthesise(quantized, length, frames)
        return audio

    @torch.no_grad()
    def inference(self, x: torch.Tensor, **kwargs) -> Dict[str, torch.Tensor]:
        """Encode and decode.

        Args:
            x (Tensor): Audio (T,), (B, T) or (B, 1, T).

        Returns:
            Dict[str, Tensor]: ``wav`` with the input's shape and length, ``codec``
            (n_streams, B, frames) as transmitted.
        """
        x3 = as_audio_batch(x)
        codes = self.encode(x3)
        wav = self.decode(codes, length=x3.shape[-1])
        return {"wav": wav.reshape(x.shape), "codec": codes}

    # ----------------------------------------------------------- streaming
    def onnx_graphs(self, example: torch.Tensor, batch, frames):
        from espnet2_p2p.codec.p2psyn.onnx_graphs import graphs

        return graphs(self, example, batch, frames)

    def encode_stream(self) -> StreamEncoder:
        """Causal variant: the transmitted tokens (streams, B, k) of audio fed in pieces."""
        if not self.causal:
            raise ValueError("encode_stream needs the causal P2PSynCodec (causal: true)")
        gen = self.generator

        def step(samples, state):
            _, z, state = gen.encode_frames(samples, state)
            if self.is_student:
                return gen.quantizer.encode(z).unsqueeze(0), state
            return gen.quantizer.encode_residual(z), state

        return StreamEncoder(step, self.hop_length, self.transmitted_streams)

    @torch.no_grad()
    def predict_stream(self, plain: torch.Tensor, state=None):
        """Causal student: the pseudo tokens (N, B, k) its predictors give for the next k
        plain tokens (1, B, k), and the state after them (None starts a stream); the
        pieces equal :meth:`tokens`' pseudo streams."""
        _, pseudo, state = self.generator.quantizer.predict_step(plain[0], state)
        return pseudo, state

    def decode_stream(self, paralinguistic: Optional[torch.Tensor] = None, batch: int = 1) -> StreamDecoder:
        """Causal variant: audio of tokens fed in pieces, as :meth:`decode` takes them (a
        student's plain stream is predicted from, with state). ``paralinguistic`` must be
        None (the argument matches SecoustiCodec's)."""
        if not self.causal:
            raise ValueError("decode_stream needs the causal P2PSynCodec (causal: true)")
        if paralinguistic is not None:
            raise ValueError("P2PSynCodec takes no paralinguistic vector")
        gen = self.generator

        def step(codes, state):
            state = state or {"predictors": None, "generator": None}
            if self.is_student and codes.shape[0] == 1:
                quantized, _, predictors = gen.quantizer.predict_step(codes[0], state["predictors"])
            else:
                quantized, predictors = gen.quantizer.dequantize(codes), None
            _, samples, generator = gen.decode_frames(quantized, state["generator"])
            return samples, {"predictors": predictors, "generator": generator}

        device = next(self.parameters()).device
        return StreamDecoder(step, gen.H, batch, device, overlap=lambda state: state["generator"]["overlap"])
