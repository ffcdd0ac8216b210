"""Finite scalar quantization (FSQ) and the VAE bottleneck that feeds it.

FSQ (Mentzer et al., 2023) rounds each of ``d`` bounded latent dimensions to one of
``L_i`` levels; the code of a frame is the mixed-radix number of its ``d`` level
indices, so there are ``prod(L_i)`` codes (default ``[3] * 8`` = 6561, as in
SecoustiCodec) and no codebook to learn, collapse or refresh. Rounding passes
gradients straight through.

:class:`VAEBottleneck` maps features to a diagonal Gaussian posterior (mean, log
variance), samples it in training (reparameterisation) and returns its mean in
evaluation; its KL divergence to N(0, I) is weighted by :func:`kl_warmup_weight`.
:class:`VAEFSQ` chains the two (features -> Gaussian -> bounded -> FSQ) and is what
SecoustiCodec's semantic branch uses; each part is usable alone, like
:class:`~espnet2_p2p.quantizer.P2PSVQ`.

Example:
    >>> fsq = FSQ([3] * 8)
    >>> z = torch.randn(2, 8, 50)             # (B, d, T)
    >>> q, codes = fsq(z)                     # q (2, 8, 50) on the grid, codes (2, 50)
    >>> torch.equal(fsq.decode(codes), q)
    True
"""

import math
from typing import List, NamedTuple, Sequence

import torch

from espnet2_p2p.utils.tokens import first_bad_token


class FSQ(torch.nn.Module):
    """Finite scalar quantizer over the channel axis of (B, d, T) latents.

    Dimension i is bounded to (-1, 1) by ``tanh`` and rounded to ``L_i`` equally spaced
    levels in [-1, 1] (for odd ``L_i`` zero is a level; even ``L_i`` are offset by half
    a step, as in the FSQ paper).

    Args:
        levels (Sequence[int]): Levels per dimension, each >= 2.
        bound (bool): Apply ``tanh`` first (set False when the input is already in
            [-1, 1]).
    """

    def __init__(self, levels: Sequence[int] = (3,) * 8, bound: bool = True):
        super().__init__()
        levels = [int(v) for v in levels]
        if not levels or min(levels) < 2:
            raise ValueError(f"FSQ levels must be a non-empty list of ints >= 2, got {levels}")
        self.levels: List[int] = levels
        self.bound = bound
        basis = [1]
        for v in levels[:-1]:
            basis.append(basis[-1] * v)
        self.register_buffer("_levels", torch.tensor(levels, dtype=torch.long), persistent=False)
        self.register_buffer("_basis", torch.tensor(basis, dtype=torch.long), persistent=False)

    @property
    def dim(self) -> int:
        return len(self.levels)

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels)

    @property
    def bits_per_code(self) -> float:
        """log2 of the number of codes (entropy bound; a packed stream uses ceil)."""
        return math.log2(self.codebook_size)

    def _half(self, like: torch.Tensor) -> torch.Tensor:
        return (self._levels.to(like.dtype) - 1) / 2

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """(B, d, T) -> values on the grid in [-1, 1], straight-through gradients."""
        if z.dim() != 3 or z.shape[1] != self.dim:
            raise ValueError(f"FSQ expects (B, {self.dim}, T), got {tuple(z.shape)}")
        half = self._half(z).view(1, -1, 1)
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0).to(z.dtype).view(1, -1, 1)
        bounded = torch.tanh(z) if self.bound else z.clamp(-1, 1)
        scaled = bounded * half
        rounded = (torch.round(scaled - offset) + offset).clamp(-half, half)
        return (scaled + (rounded - scaled).detach()) / half

    def codes_from_values(self, q: torch.Tensor) -> torch.Tensor:
        """Grid values (B, d, T) -> codes (B, T) in [0, prod(L))."""
        half = self._half(q).view(1, -1, 1)
        idx = torch.round(q * half + half).long()  # level index 0..L_i - 1
        return (idx * self._basis.view(1, -1, 1)).sum(1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, T) -> grid values (B, d, T)."""
        self.check_codes(codes)
        idx = (codes.unsqueeze(1) // self._basis.view(1, -1, 1)) % self._levels.view(1, -1, 1)
        half = self._half(torch.empty((), dtype=torch.float32)).to(codes.device).view(1, -1, 1)
        return (idx.float() - half) / half

    def check_codes(self, codes: torch.Tensor) -> None:
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise ValueError(f"FSQ codes must be integers, got {codes.dtype}")
        bad = first_bad_token(codes.reshape(1, -1).cpu(), [self.codebook_size])
        if bad:
            raise ValueError(f"FSQ codes must be in [0, {self.codebook_size}), got values in [{bad.low}, {bad.high}]")

    def forward(self, z: torch.Tensor):
        """(B, d, T) -> (quantized (B, d, T), codes (B, T))."""
        q = self.quantize(z)
        return q, self.codes_from_values(q.detach())

    def extra_repr(self) -> str:
        return f"levels={self.levels}, codes={self.codebook_size}"


def kl_warmup_weight(step: int, warmup_steps: int, start: int = 0) -> float:
    """Linear KL warm-up: 0 until ``start``, then rising to 1 over ``warmup_steps``."""
    if warmup_steps <= 0:
        return 1.0
    return float(min(1.0, max(0.0, (step - start) / warmup_steps)))


class VAEOutput(NamedTuple):
    latent: torch.Tensor  # sample (training) or mean (evaluation), (B, d, T)
    mean: torch.Tensor
    logvar: torch.Tensor
    kl: torch.Tensor  # mean KL per frame and dimension (scalar)


class VAEBottleneck(torch.nn.Module):
    """Features (B, C, T) -> diagonal Gaussian posterior over a (B, d, T) latent.

    Args:
        in_channels (int): C.
        latent_dim (int): d.
        logvar_min, logvar_max (float): Clamp of the log variance (numerical safety).
    """

    def __init__(self, in_channels: int, latent_dim: int, logvar_min: float = -12.0, logvar_max: float = 4.0):
        super().__init__()
        self.proj = torch.nn.Conv1d(in_channels, 2 * latent_dim, 1)
        self.logvar_min, self.logvar_max = logvar_min, logvar_max

    def forward(self, x: torch.Tensor, mask: torch.Tensor = None) -> VAEOutput:
        mean, logvar = self.proj(x).chunk(2, dim=1)
        logvar = logvar.clamp(self.logvar_min, self.logvar_max)
        if self.training:
            latent = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        else:
            latent = mean
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)
        if mask is not None:
            kl = (kl * mask).sum() / (mask.sum() * kl.shape[1]).clamp(min=1)
        else:
            kl = kl.mean()
        return VAEOutput(latent, mean, logvar, kl)


class VAEFSQOutput(NamedTuple):
    quantized: torch.Tensor  # (B, d, T) grid values
    codes: torch.Tensor  # (B, T)
    vae: VAEOutput


class VAEFSQ(torch.nn.Module):
    """VAE bottleneck followed by FSQ: features (B, C, T) -> codes (B, T).

    Args:
        in_channels (int): Feature channels C.
        levels (Sequence[int]): FSQ levels (the latent has ``len(levels)`` dimensions).
    """

    def __init__(self, in_channels: int, levels: Sequence[int] = (3,) * 8):
        super().__init__()
        self.fsq = FSQ(levels)
        self.vae = VAEBottleneck(in_channels, self.fsq.dim)

    @property
    def codebook_size(self) -> int:
        return self.fsq.codebook_size

    def forward(self, x: torch.Tensor, mask: torch.Tensor = None) -> VAEFSQOutput:
        vae = self.vae(x, mask)
        quantized, codes = self.fsq(vae.latent)
        return VAEFSQOutput(quantized, codes, vae)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.fsq.decode(codes)


def codebook_usage(codes: torch.Tensor, codebook_size: int) -> dict:
    """Share of codes used, and perplexity / entropy (bits) of the code histogram."""
    counts = torch.bincount(codes.flatten().long(), minlength=codebook_size).double()
    probs = counts / counts.sum().clamp(min=1)
    entropy = -(probs[probs > 0] * probs[probs > 0].log2()).sum().item()
    return {
        "used": int((counts > 0).sum()),
        "usage": float((counts > 0).double().mean()),
        "entropy_bits": entropy,
        "perplexity": 2.0**entropy,
        "frames": int(counts.sum()),
    }
