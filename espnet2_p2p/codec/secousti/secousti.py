"""SecoustiCodec: a streaming single-codebook codec (semantic FSQ tokens + a global
paralinguistic embedding), for ESPnet's GAN codec task (``--codec secousti``).

Signal path (all causal)::

    wav -> MDCT (hop H) -> causal conv blocks -> patch D MDCT frames -> causal transformer
        -> VAE (Gaussian) -> FSQ (levels [3]*8 = 6561 codes)       = the transmitted stream
    reference (first ``reference_seconds``) -> paralinguistic encoder -> 8-bit vector g
    FSQ values + g -> causal transformer -> unpatch -> causal conv blocks -> MDCT -> IMDCT

Choices, and why:

- The decoder predicts MDCT coefficients and synthesises with the project's IMDCT
  (:class:`espnet2_p2p.layers.mdct.MDCT`), not mel + vocoder: MDCT is invertible, so no
  second network (a vocoder) has to be trained or shipped, and the overlap-add of two
  frames is the only synthesis state a stream needs.
- Framing: a waveform of T samples is padded to m = ceil(T / hop) code frames of
  hop = H * D samples. MDCT frame t covers samples [(t-1)H, (t+1)H); the encoder uses
  frames 0 .. D*m - 1, so code frame j needs samples < (j + 1) * hop only (no
  look-ahead). IMDCT frame t is complete after frame t + 1 arrives, so decoded audio
  lags the code frames by H samples. Algorithmic latency: hop + H samples
  (16 kHz, H=24, D=8: 216 samples = 13.5 ms).
- Frame rates at 16 kHz (hop = H * D): 192 samples = 83.33 Hz (the paper's 86 Hz at
  22.05 kHz) and 768 samples = 20.83 Hz (the paper's 21.5 Hz). Bitrate: the 6561 FSQ
  codes are packed at 13 bits per frame (1083.3 / 270.8 bit/s; the entropy bound
  log2(6561) = 12.68 bits gives 1056.6 / 264.2).
- Paralinguistic branch: one global vector from the first ``reference_seconds`` of
  the input (or a reference clip given by the caller), bounded by tanh and quantized to
  ``paralinguistic_bits`` per dimension. It is *sent once per stream* (in the header
  of a coded file), so it costs ``paralinguistic_dim * paralinguistic_bits`` bits per
  stream, reported beside the per-second rate (:meth:`SecoustiCodec.bitrate_info`).
- Text alignment: with ``frame_labels`` (one label per *sample*, chunked by ESPnet's
  iterator together with the audio; see :mod:`espnet2_p2p.bin.frame_labels`), a
  frame-level contrastive loss (InfoNCE over the label vocabulary) pulls each frame's
  semantic latent towards the embedding of its aligned text unit and away from all
  other units.
"""

import math
from typing import Any, Dict, List, NamedTuple, Optional

import torch
import torch.nn.functional as F
from typeguard import typechecked

from espnet2_p2p.codec.shared.gan_codec import GANCodecBase, as_audio_batch
from espnet2_p2p.codec.shared.loss import compressed_mdct_mse
from espnet2_p2p.codec.shared.streaming import StreamDecoder, StreamEncoder
from espnet2_p2p.errors import TokenError
from espnet2_p2p.layers.causal import CausalStack, CausalTransformerLayer, ChannelNorm, causal_conv_stack
from espnet2_p2p.layers.mdct import MDCT
from espnet2_p2p.quantizer.fsq import VAEFSQ, kl_warmup_weight
from espnet2_p2p.utils.checks import check_audio_batch
from espnet2_p2p.utils.tokens import frames_for


class ParalinguisticEncoder(torch.nn.Module):
    """MDCT of a reference clip (B, H, T') -> a global vector in [-1, 1]^P, quantized
    to ``bits`` per dimension (straight-through in training)."""

    def __init__(self, in_channels: int, channels: int, dim: int, bits: int, kernel_size: int = 5):
        super().__init__()
        self.bits = bits
        self.net = torch.nn.Sequential(
            torch.nn.Conv1d(in_channels, channels, kernel_size, padding=kernel_size // 2),
            torch.nn.GELU(),
            torch.nn.Conv1d(channels, channels, kernel_size, stride=2, padding=kernel_size // 2),
            torch.nn.GELU(),
            torch.nn.Conv1d(channels, channels, kernel_size, stride=2, padding=kernel_size // 2),
            torch.nn.GELU(),
        )
        self.proj = torch.nn.Linear(2 * channels, dim)

    def quantize(self, g: torch.Tensor) -> torch.Tensor:
        steps = 2**self.bits - 1
        q = torch.round((g + 1) / 2 * steps) / steps * 2 - 1
        return g + (q - g).detach()

    def forward(self, coeffs: torch.Tensor) -> torch.Tensor:
        h = self.net(torch.log1p(coeffs.abs()) * coeffs.sign())
        stats = torch.cat([h.mean(-1), h.std(-1, unbiased=False)], dim=-1)
        return self.quantize(torch.tanh(self.proj(stats)))

    def to_bytes_codes(self, g: torch.Tensor) -> torch.Tensor:
        """Quantized vector (B, P) -> integer codes (B, P) in [0, 2^bits)."""
        return torch.round((g + 1) / 2 * (2**self.bits - 1)).long()

    def from_codes(self, codes: torch.Tensor) -> torch.Tensor:
        return codes.float() / (2**self.bits - 1) * 2 - 1


class EncodedFrames(NamedTuple):
    """What :meth:`SecoustiGenerator.encode_frames` returns for new code frames."""

    features: torch.Tensor  # encoder output (B, model_dim, k)
    bottleneck: Any  # the VAE + FSQ output (quantized values, codes, ...)
    state: dict  # the stream state after these frames
    coeffs: torch.Tensor  # their MDCT frames (B, H, k * D)


SECOUSTI_UPSAMPLERS = ("patch", "linear")


class CausalLinearUpsample(torch.nn.Module):
    """Causal linear interpolation of code frames (B, C, k) to MDCT frames (B, C, k * factor).

    MDCT frame ``i`` of code frame ``j`` (``i`` = 0 .. factor - 1) is
    ``u[j - 1] + (i + 1) / factor * (u[j] - u[j - 1])``: it reaches ``u[j]`` on the frame's
    last MDCT frame and needs no later code frame, so streaming stays exact and adds no
    latency. ``u[-1]`` is the state (the last code frame of the previous piece), or at the
    start of a stream ``u[0]`` itself. Nothing is learned, so a steady input gives a steady
    output; the interpolation is a triangle filter whose response is zero at every
    multiple of the code rate, where a per-position patch (``decoder_upsample: patch``)
    stamps one learned pattern per code frame (issue 41's buzz at 20.83 Hz).
    """

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor
        weights = torch.arange(1, factor + 1, dtype=torch.float32) / factor
        self.register_buffer("weights", weights, persistent=False)

    def forward(self, u: torch.Tensor, last: Optional[torch.Tensor] = None):
        """u (B, C, k); last: (B, C, 1) or None -> ((B, C, k * factor), new last (B, C, 1))."""
        b, c, k = u.shape
        if k == 0:
            return u.new_zeros(b, c, 0), last
        previous = torch.cat([u[..., :1] if last is None else last, u[..., :-1]], dim=-1)
        step = (u - previous).unsqueeze(-1) * self.weights.to(u.dtype)
        return (previous.unsqueeze(-1) + step).reshape(b, c, k * self.factor), u[..., -1:]


class SecoustiGenerator(torch.nn.Module):
    """Encoder, VAE + FSQ, paralinguistic encoder, decoder; offline and streaming."""

    def __init__(
        self,
        mdct_hop_length: int,
        downsample: int,
        channels: int,
        ffn_channels: int,
        conv_blocks: int,
        kernel_size: int,
        model_dim: int,
        encoder_layers: int,
        decoder_layers: int,
        attention_heads: int,
        transformer_ffn_dim: int,
        context_frames: int,
        dropout: float,
        fsq_levels: List[int],
        paralinguistic_dim: int,
        paralinguistic_bits: int,
        paralinguistic_channels: int,
        decoder_upsample: str = "patch",
    ):
        super().__init__()
        if decoder_upsample not in SECOUSTI_UPSAMPLERS:
            raise ValueError(f"decoder_upsample must be one of {SECOUSTI_UPSAMPLERS}, got {decoder_upsample!r}")
        H, D = mdct_hop_length, downsample
        self.mdct = MDCT(2 * H, H)
        self.H, self.D, self.hop_length = H, D, H * D
        self.channels = channels
        self.enc_conv = causal_conv_stack(H, channels, ffn_channels, conv_blocks, kernel_size)
        self.patch = torch.nn.Linear(channels * D, model_dim)
        self.enc_tf = CausalStack(
            [
                CausalTransformerLayer(model_dim, attention_heads, transformer_ffn_dim, context_frames, dropout)
                for _ in range(encoder_layers)
            ]
        )
        self.enc_norm = ChannelNorm(model_dim)
        self.bottleneck = VAEFSQ(model_dim, fsq_levels)
        self.paralinguistic = ParalinguisticEncoder(H, paralinguistic_channels, paralinguistic_dim, paralinguistic_bits)
        self.dec_in = torch.nn.Conv1d(len(fsq_levels), model_dim, 1)
        self.dec_global = torch.nn.Linear(paralinguistic_dim, 2 * model_dim)
        self.dec_tf = CausalStack(
            [
                CausalTransformerLayer(model_dim, attention_heads, transformer_ffn_dim, context_frames, dropout)
                for _ in range(decoder_layers)
            ]
        )
        self.upsample_mode = decoder_upsample
        if decoder_upsample == "patch":
            self.unpatch = torch.nn.Linear(model_dim, channels * D)
        else:
            self.unpatch = torch.nn.Linear(model_dim, channels)
            self.interpolate = CausalLinearUpsample(D)
        self.dec_conv = causal_conv_stack(None, channels, ffn_channels, conv_blocks, kernel_size, out_channels=H)

    # ------------------------------------------------------------- framing
    def num_frames(self, num_samples: int) -> int:
        return frames_for(num_samples, self.hop_length)

    def pad(self, audio: torch.Tensor) -> torch.Tensor:
        frames = self.num_frames(audio.shape[-1])
        return F.pad(audio, (0, frames * self.hop_length - audio.shape[-1]))

    # ------------------------------------------------------------- encoder
    def reference_embedding(self, reference: torch.Tensor) -> torch.Tensor:
        """Reference audio (B, T') -> paralinguistic vector (B, P) (quantized)."""
        return self.paralinguistic(self.mdct.mdct(reference))

    def _features(self, samples: torch.Tensor, state: dict):
        """Samples (B, k * hop) -> (encoder features (B, model_dim, k), MDCT (B, H, k * D),
        new state)."""
        coeffs, tail = self.mdct.analysis_step(samples, state.get("tail"))
        h, conv_state = self.enc_conv(coeffs, state.get("conv"))
        b, c, t = h.shape
        h = self.patch(h.view(b, c, t // self.D, self.D).permute(0, 2, 1, 3).reshape(b, t // self.D, c * self.D))
        h, tf_state = self.enc_tf(h.transpose(1, 2), state.get("tf"))
        return self.enc_norm(h), coeffs, {"tail": tail, "conv": conv_state, "tf": tf_state}

    def analyse(self, audio: torch.Tensor):
        """Offline: audio (B, 1, T) -> (MDCT of the padded audio (B, H, m * D), latent
        (B, model_dim, m)), as P2PSynGenerator.analyse; the bottleneck takes the latent."""
        h, coeffs, _ = self._features(self.pad(audio[:, 0]), {})
        return coeffs, h

    def encode_frames(self, samples: torch.Tensor, state: Optional[dict] = None) -> EncodedFrames:
        """Streaming: samples (B, k * hop) -> :class:`EncodedFrames` (features, bottleneck
        output, new state, MDCT). ``state`` None starts a stream."""
        h, coeffs, new = self._features(samples, state or {})
        return EncodedFrames(h, self.bottleneck(h), new, coeffs)

    # ------------------------------------------------------------- decoder
    def decode_frames(self, values: torch.Tensor, g: torch.Tensor, state: Optional[dict] = None):
        """FSQ values (B, d, k) + paralinguistic vector (B, P) -> (MDCT (B, H, k * D),
        samples (B, k * hop), new state)."""
        state = state or {}
        scale, shift = self.dec_global(g).unsqueeze(-1).chunk(2, dim=1)
        h = self.dec_in(values) * (1 + scale) + shift
        h, tf_state = self.dec_tf(h, state.get("tf"))
        b, _, k = h.shape
        new = {"tf": tf_state}
        if self.upsample_mode == "patch":
            h = self.unpatch(h.transpose(1, 2)).view(b, k, self.channels, self.D)
            h = h.permute(0, 2, 1, 3).reshape(b, self.channels, k * self.D)
        else:
            h, new["unpatch"] = self.interpolate(self.unpatch(h.transpose(1, 2)).transpose(1, 2), state.get("unpatch"))
        coeffs, new["conv"] = self.dec_conv(h, state.get("conv"))
        samples, new["overlap"] = self.mdct.synthesis_step(coeffs, state.get("overlap"))
        return coeffs, samples, new

    def synthesise(self, values: torch.Tensor, g: torch.Tensor, length: int):
        """Offline decoding: (audio (B, 1, length), MDCT coefficients)."""
        coeffs, samples, state = self.decode_frames(values, g)
        audio = torch.cat([samples, state["overlap"]], dim=-1)[:, self.H : self.H + length]
        return audio.unsqueeze(1), coeffs


class SecoustiCodec(GANCodecBase):
    """SecoustiCodec for ESPnet's GAN codec task (``--codec secousti``).

    Args:
        sampling_rate (int): Sampling rate (16 kHz by default).
        mdct_hop_length (int): MDCT hop H (coefficients per MDCT frame; window 2H).
        downsample (int): MDCT frames per code frame D (hop = H * D samples).
        channels, ffn_channels, conv_blocks, kernel_size: The causal conv stacks at the
            MDCT frame rate (encoder input side, decoder output side).
        model_dim, encoder_layers, decoder_layers, attention_heads,
        transformer_ffn_dim, context_frames, dropout: The causal transformers at the
            code frame rate (the paper: 512, 8 layers, 8 heads, 250 frames).
        decoder_upsample (str): How the decoder turns code frames into MDCT frames:
            "patch" (a linear layer gives each code frame its ``downsample`` MDCT frames,
            the layout of the models trained before issue 41's buzz measurement) or
            "linear" (a linear layer per code frame, then causal linear interpolation:
            :class:`CausalLinearUpsample`).
        fsq_levels (List[int]): FSQ levels ([3] * 8 = 6561 codes).
        paralinguistic_dim, paralinguistic_bits, paralinguistic_channels: The global
            vector (sent once per stream: dim x bits bits).
        reference_seconds (float): Length of the input prefix the paralinguistic vector
            is computed from (training uses the whole training chunk).
        num_text_units (int): Size of the frame-label vocabulary of the contrastive term
            (0: no contrastive term).
        contrastive_dim (int), contrastive_temperature (float): The contrastive head.
        kl_warmup_steps (int): Steps over which the KL weight rises from 0 to 1.
        lambda_*: Loss weights (``lambda_contrastive`` 0 turns the term off).
    """

    @typechecked
    def __init__(
        self,
        sampling_rate: int = 16000,
        mdct_hop_length: int = 24,
        downsample: int = 8,
        channels: int = 256,
        ffn_channels: int = 768,
        conv_blocks: int = 4,
        kernel_size: int = 7,
        model_dim: int = 512,
        encoder_layers: int = 8,
        decoder_layers: int = 8,
        attention_heads: int = 8,
        transformer_ffn_dim: int = 2048,
        context_frames: int = 250,
        dropout: float = 0.0,
        decoder_upsample: str = "patch",
        fsq_levels: List[int] = [3, 3, 3, 3, 3, 3, 3, 3],
        paralinguistic_dim: int = 64,
        paralinguistic_bits: int = 8,
        paralinguistic_channels: int = 128,
        reference_seconds: float = 3.0,
        num_text_units: int = 0,
        contrastive_dim: int = 64,
        contrastive_temperature: float = 0.1,
        kl_warmup_steps: int = 2000,
        discriminator_params: Optional[Dict[str, Any]] = None,
        mel_loss_params: Optional[Dict[str, Any]] = None,
        mdct_loss_power: float = 0.5,
        adv_loss_type: str = "hinge",
        lambda_mel_l1: float = 15.0,
        lambda_mel_l2: float = 5.0,
        lambda_mdct: float = 10.0,
        lambda_kl: float = 0.5,
        lambda_contrastive: float = 1.0,
        lambda_adv: float = 1.0,
        lambda_feat_match: float = 2.0,
    ):
        super().__init__()
        self.fs = sampling_rate
        self.reference_seconds = reference_seconds
        self.generator = SecoustiGenerator(
            mdct_hop_length=mdct_hop_length,
            downsample=downsample,
            channels=channels,
            ffn_channels=ffn_channels,
            conv_blocks=conv_blocks,
            kernel_size=kernel_size,
            model_dim=model_dim,
            encoder_layers=encoder_layers,
            decoder_layers=decoder_layers,
            attention_heads=attention_heads,
            transformer_ffn_dim=transformer_ffn_dim,
            context_frames=context_frames,
            dropout=dropout,
            fsq_levels=list(fsq_levels),
            paralinguistic_dim=paralinguistic_dim,
            paralinguistic_bits=paralinguistic_bits,
            paralinguistic_channels=paralinguistic_channels,
            decoder_upsample=decoder_upsample,
        )
        self.num_text_units = num_text_units
        if num_text_units > 0:
            self.contrastive_proj = torch.nn.Linear(len(fsq_levels), contrastive_dim)
            self.text_embedding = torch.nn.Embedding(num_text_units, contrastive_dim)
        self.contrastive_temperature = contrastive_temperature
        self.kl_warmup_steps = kl_warmup_steps
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.setup_gan(
            sampling_rate, discriminator_params, mel_loss_params, adv_loss_type, lambda_adv, lambda_feat_match
        )
        self.mdct_loss_power = mdct_loss_power
        self.lambda_mel_l1, self.lambda_mel_l2, self.lambda_mdct = lambda_mel_l1, lambda_mel_l2, lambda_mdct
        self.lambda_kl, self.lambda_contrastive = lambda_kl, lambda_contrastive

    # ------------------------------------------------------------------ info
    @property
    def hop_length(self) -> int:
        return self.generator.hop_length

    @property
    def frame_rate(self) -> float:
        return self.fs / self.hop_length

    @property
    def codebook_size(self) -> int:
        return self.generator.bottleneck.codebook_size

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency: one code frame of buffering + the IMDCT overlap (H)."""
        return self.hop_length + self.generator.H

    @property
    def stream_sizes(self) -> List[int]:
        return [self.codebook_size]

    @property
    def transmitted_streams(self) -> int:
        return 1

    @property
    def streaming(self) -> bool:
        return True

    @property
    def fsq_levels(self) -> List[int]:
        """FSQ levels per latent dimension (their product is the codebook size)."""
        return list(self.generator.bottleneck.fsq.levels)

    @property
    def side_info_bytes(self) -> int:
        """The paralinguistic vector, one byte per value."""
        return self.paralinguistic_dim

    def side_info(self, reference: torch.Tensor) -> bytes:
        """The paralinguistic vector of ``reference`` (1, 1, T; its first
        ``reference_seconds`` are used) as one byte per value."""
        return self.paralinguistic_bytes(self.reference(reference))

    @property
    def side_info_levels(self) -> int:
        return self.paralinguistic_levels

    def side_info_codes(self, side_info) -> torch.Tensor:
        """Side information (bytes or P integer codes) -> the vector :meth:`decode` takes (1, P)."""
        if len(side_info) != self.paralinguistic_dim:
            raise TokenError(f"{len(side_info)} values of side information, this model needs {self.paralinguistic_dim}")
        device = next(self.parameters()).device
        return self.paralinguistic_from_codes(torch.tensor(list(side_info), device=device).view(1, -1))

    @property
    def paralinguistic_dim(self) -> int:
        """Values in the paralinguistic vector (P)."""
        return self.generator.paralinguistic.proj.out_features

    @property
    def paralinguistic_levels(self) -> int:
        """Integer codes per value of the vector (2 ** paralinguistic_bits)."""
        return 2**self.generator.paralinguistic.bits

    def meta_info(self) -> Dict[str, Any]:
        return {
            "fs": self.fs,
            "num_streams": 1,
            "frame_shift": self.hop_length,
            "code_size_per_stream": [self.codebook_size],
        }

    def bitrate_info(self) -> Dict[str, float]:
        para = self.generator.paralinguistic
        return {
            "frame_rate_hz": self.frame_rate,
            "bits_per_frame_packed": self.layout.bits_per_frame,
            "bits_per_frame_entropy_bound": math.log2(self.codebook_size),
            "bitrate_packed": self.bitrate(),
            "bitrate_entropy_bound": self.layout.frame_bitrate(math.log2(self.codebook_size)),
            "paralinguistic_bits_per_stream": self.paralinguistic_dim * para.bits,
            "algorithmic_latency_ms": 1000.0 * self.latency_samples / self.fs,
        }

    # ------------------------------------------------------------ training
    def generator_pass(self, audio: torch.Tensor) -> Dict[str, Any]:
        gen = self.generator
        coeffs, h = gen.analyse(audio)
        bott = gen.bottleneck(h)
        g = gen.reference_embedding(gen.pad(audio[:, 0]))
        audio_hat, coeffs_hat = gen.synthesise(bott.quantized, g, audio.shape[-1])
        return dict(bottleneck=bott, coeffs=coeffs, coeffs_hat=coeffs_hat, audio_hat=audio_hat)

    def frame_label_targets(self, frame_labels: torch.Tensor, frames: int) -> torch.Tensor:
        """Per-sample labels (B, T) -> the label at the centre of each code frame (B, m)."""
        hop = self.hop_length
        centres = torch.arange(frames, device=frame_labels.device) * hop + hop // 2
        labels = torch.full((frame_labels.shape[0], frames), -1, dtype=torch.long, device=frame_labels.device)
        inside = centres < frame_labels.shape[-1]
        labels[:, inside] = frame_labels[:, centres[inside]].long()
        labels[labels >= self.num_text_units] = -1
        return labels

    def contrastive_loss(self, latent: torch.Tensor, labels: torch.Tensor):
        """InfoNCE between frame latents (B, d, m) and text-unit embeddings: the positive
        is the frame's aligned unit, the negatives every other unit of the vocabulary."""
        valid = labels >= 0
        if not bool(valid.any()):
            zero = latent.sum() * 0.0
            return zero, 0.0
        z = F.normalize(self.contrastive_proj(latent.transpose(1, 2)[valid]), dim=-1)
        e = F.normalize(self.text_embedding.weight, dim=-1)
        logits = z @ e.t() / self.contrastive_temperature
        target = labels[valid]
        loss = F.cross_entropy(logits, target)
        acc = (logits.argmax(-1) == target).float().mean().item()
        return loss, acc

    def generator_loss(self, audio: torch.Tensor, out: Dict[str, Any], frame_labels=None, **inputs):
        """Reconstruction + KL (warmed up) + the contrastive term when the batch has
        ``frame_labels`` (B, T): the text-unit id of every sample (-1: none)."""
        bott = out["bottleneck"]
        mel_l1, mel_l2 = self.mel_loss(out["audio_hat"], audio)
        mdct_loss = compressed_mdct_mse(out["coeffs_hat"], out["coeffs"], self.mdct_loss_power)
        kl_weight = kl_warmup_weight(int(self.steps), self.kl_warmup_steps)
        loss = (
            self.lambda_mel_l1 * mel_l1
            + self.lambda_mel_l2 * mel_l2
            + self.lambda_mdct * mdct_loss
            + self.lambda_kl * kl_weight * bott.vae.kl
        )
        stats = dict(
            mel_l1_loss=mel_l1.item(),
            mel_l2_loss=mel_l2.item(),
            mdct_loss=mdct_loss.item(),
            kl_loss=bott.vae.kl.item(),
            kl_weight=kl_weight,
        )
        if frame_labels is not None and self.num_text_units > 0:
            labels = self.frame_label_targets(frame_labels, bott.codes.shape[-1])
            closs, cacc = self.contrastive_loss(bott.vae.mean, labels)
            stats.update(contrastive_loss=closs.item(), contrastive_acc=cacc)
            if self.lambda_contrastive > 0:
                loss = loss + self.lambda_contrastive * closs
        if self.training:
            self.steps += 1
        return loss, stats

    # ----------------------------------------------------------- inference
    @property
    def side_info_samples(self) -> int:
        return self.reference_samples

    def decode_tokens(self, codes: torch.Tensor, length: Optional[int] = None, side_info=None) -> torch.Tensor:
        g = self.side_info_codes(side_info) if side_info is not None else None
        return self.decode(codes, paralinguistic=g, length=length)

    def onnx_graphs(self, example: torch.Tensor, batch, frames):
        from espnet2_p2p.codec.secousti.onnx_graphs import graphs

        return graphs(self, example, batch, frames)

    @property
    def reference_samples(self) -> int:
        """Samples of the input prefix the paralinguistic vector comes from."""
        return max(1, int(round(self.reference_seconds * self.fs)))

    @torch.no_grad()
    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """Paralinguistic vector (B, P) of the first ``reference_seconds`` of x (B, 1, T)."""
        return self.generator.reference_embedding(x[:, 0, : self.reference_samples])

    def paralinguistic_codes(self, g: torch.Tensor) -> torch.Tensor:
        """Quantized vector (B, P) -> integer codes (B, P) (what a file header carries)."""
        return self.generator.paralinguistic.to_bytes_codes(g)

    def paralinguistic_from_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Integer codes (B, P) -> the vector; a code outside [0, levels) is refused
        (:class:`~espnet2_p2p.errors.TokenError`), as from a damaged file."""
        levels = self.paralinguistic_levels
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= levels):
            raise TokenError(
                f"paralinguistic codes must lie in [0, {levels}), got {int(codes.min())}..{int(codes.max())}"
            )
        return self.generator.paralinguistic.from_codes(codes)

    def paralinguistic_bytes(self, g: torch.Tensor) -> bytes:
        """One vector (1, P) -> its codes as one byte each (a file's side information);
        refused when the codes do not fit a byte (more than 8 bits a value)."""
        if self.paralinguistic_levels > 256:
            raise TokenError(
                f"paralinguistic codes of {self.generator.paralinguistic.bits} bits do not fit the"
                " one byte per value of the .p2p side information (at most 8 bits)"
            )
        return bytes(self.paralinguistic_codes(g)[0].cpu().tolist())

    @torch.no_grad()
    def encode(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """Waveform (B, 1, T) -> semantic tokens (1, B, ceil(T / hop))."""
        check_audio_batch(x)
        bott = self.generator.bottleneck(self.generator.analyse(x)[1])
        return bott.codes.unsqueeze(0)

    @torch.no_grad()
    def decode(
        self, codes: torch.Tensor, paralinguistic: Optional[torch.Tensor] = None, length: Optional[int] = None, **kwargs
    ) -> torch.Tensor:
        """Tokens (1, B, m) (+ paralinguistic vector (B, P)) -> audio (B, 1, length).

        Without ``paralinguistic`` the all-zero vector (the middle of its range) is used.
        """
        if codes.dim() != 3 or codes.shape[0] != 1:
            raise ValueError(f"SecoustiCodec decodes codes of shape (1, B, frames), got {tuple(codes.shape)}")
        gen = self.generator
        values = gen.bottleneck.decode(codes[0])
        g = self._global(paralinguistic, codes.shape[1], values.device)
        length = codes.shape[-1] * self.hop_length if length is None else length
        audio, _ = gen.synthesise(values, g, length)
        return audio

    def _global(self, g, batch: int, device) -> torch.Tensor:
        dim = self.paralinguistic_dim
        if g is None:
            return torch.zeros(batch, dim, device=device)
        if g.shape != (batch, dim):
            raise ValueError(f"paralinguistic vector must be ({batch}, {dim}), got {tuple(g.shape)}")
        return g.to(device)

    @torch.no_grad()
    def inference(self, x: torch.Tensor, **kwargs) -> Dict[str, torch.Tensor]:
        x3 = as_audio_batch(x)
        codes = self.encode(x3)
        wav = self.decode(codes, self.reference(x3), length=x3.shape[-1])
        return {"wav": wav.reshape(x.shape), "codec": codes}

    # ----------------------------------------------------------- streaming
    def encode_stream(self) -> StreamEncoder:
        """Tokens (1, B, k) of audio fed in pieces (:class:`StreamEncoder`)."""

        def step(samples, state):
            out = self.generator.encode_frames(samples, state)
            return out.bottleneck.codes.unsqueeze(0), out.state

        return StreamEncoder(step, self.hop_length, 1)

    def decode_stream(self, paralinguistic: Optional[torch.Tensor] = None, batch: int = 1) -> StreamDecoder:
        """Audio of tokens (1, B, k) fed in pieces (:class:`StreamDecoder`)."""
        device = next(self.parameters()).device
        g = self._global(paralinguistic, batch, device)
        gen = self.generator

        def step(codes, state):
            _, samples, state = gen.decode_frames(gen.bottleneck.decode(codes[0]), g, state)
            return samples, state

        return StreamDecoder(step, gen.H, batch, device)
