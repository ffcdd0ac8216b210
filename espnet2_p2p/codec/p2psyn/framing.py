"""What P2PSynCodec's offline and causal generators share: framing and the training pass.

A generator defines ``hop_length``, ``quantizer``, ``analyse(audio, lengths=None) ->
(MDCT, latent)`` and ``synthesise(quantized, length=None, frames=None) -> (audio, MDCT)``.
"""

from typing import Any, Dict

import torch

from espnet2_p2p.utils.tokens import frames_for


class GeneratorBase(torch.nn.Module):
    hop_length: int

    def num_frames(self, num_samples: int) -> int:
        """Code frames for a waveform of ``num_samples`` samples: ceil(T / hop)."""
        return frames_for(num_samples, self.hop_length)

    def num_frames_tensor(self, lengths: torch.Tensor) -> torch.Tensor:
        """:meth:`num_frames` for a tensor of lengths."""
        return torch.div(lengths + self.hop_length - 1, self.hop_length, rounding_mode="floor").clamp(min=1)

    def forward(self, audio: torch.Tensor, synthesise: bool = True) -> Dict[str, Any]:
        """Training pass: audio (B, 1, T) -> reconstruction, targets and VQ outputs.

        Teacher: end to end. Student: the encoder is fixed (no graph is kept for it);
        the decoder runs on plain + predicted pseudo codewords when ``synthesise``.
        """
        student = self.quantizer.mode == "student"
        with torch.set_grad_enabled(torch.is_grad_enabled() and not student):
            coeffs, z = self.analyse(audio)
        vq = self.quantizer(z, predict=synthesise) if student else self.quantizer(z)
        out = dict(coeffs=coeffs, vq=vq)
        if synthesise:
            out["audio_hat"], out["coeffs_hat"] = self.synthesise(vq.quantized, audio.shape[-1])
        return out
