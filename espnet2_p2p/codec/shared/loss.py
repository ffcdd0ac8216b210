"""Reconstruction losses of P2PSynCodec (the adversarial ones come from ESPnet)."""

from typing import Sequence, Tuple

import torch
import torchaudio


class MultiResolutionLogMelLoss(torch.nn.Module):
    """L1 and L2 distances between log-mel spectrograms at several resolutions.

    Args:
        fs (int): Sampling rate.
        n_ffts (Sequence[int]): FFT sizes (hop = n_fft // 4, Hann window).
        n_mels (Sequence[int]): Mel bands per resolution.
        floor (float): Added to the mel energies before the log; a floor that is
            too small lets digital silence dominate the distance.
    """

    def __init__(
        self,
        fs: int = 16000,
        n_ffts: Sequence[int] = (512, 1024, 2048),
        n_mels: Sequence[int] = (40, 80, 128),
        floor: float = 1e-5,
    ):
        super().__init__()
        if len(n_ffts) != len(n_mels):
            raise ValueError("n_ffts and n_mels must have the same length")
        self.floor = floor
        self.transforms = torch.nn.ModuleList(
            [
                torchaudio.transforms.MelSpectrogram(
                    sample_rate=fs,
                    n_fft=n_fft,
                    hop_length=n_fft // 4,
                    n_mels=mels,
                    power=1.0,
                    center=True,
                    norm="slaney",
                    mel_scale="slaney",
                )
                for n_fft, mels in zip(n_ffts, n_mels)
            ]
        )

    def log_mels(self, x: torch.Tensor):
        """Yield log-mel spectrograms of x (B, T) per resolution."""
        for transform in self.transforms:
            yield torch.log(transform(x) + self.floor)

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Args: y_hat, y (Tensor): (B, 1, T) or (B, T). Returns: (L1, L2) averaged over resolutions."""
        y_hat = y_hat.reshape(y_hat.shape[0], -1)
        y = y.reshape(y.shape[0], -1)
        l1 = l2 = 0.0
        for m_hat, m in zip(self.log_mels(y_hat), self.log_mels(y)):
            l1 = l1 + torch.nn.functional.l1_loss(m_hat, m)
            l2 = l2 + torch.nn.functional.mse_loss(m_hat, m)
        n = len(self.transforms)
        return l1 / n, l2 / n


def compressed_mdct_mse(c_hat: torch.Tensor, c: torch.Tensor, power: float = 0.5, eps: float = 1e-5) -> torch.Tensor:
    """MSE between power-compressed MDCT coefficients, sign kept.

    ``power=1`` is plain MSE; lower powers weigh quiet bands up.
    """
    if power == 1.0:
        return torch.nn.functional.mse_loss(c_hat, c)

    def compress(v):
        return torch.sign(v) * (v.abs() + eps).pow(power)

    return torch.nn.functional.mse_loss(compress(c_hat), compress(c))
