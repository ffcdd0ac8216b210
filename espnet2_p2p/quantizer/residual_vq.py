"""Residual vector quantizer: the teacher quantizer of P2PSynCodec.

Each level is ESPnet's ``VectorQuantization`` (Euclidean codebook with EMA updates,
k-means initialisation and dead-code replacement); this module chains the levels on
the residual and adds quantizer dropout, so that the first levels alone (in particular
the plain VQ, level 0) decode meaningfully.
"""

from typing import List, NamedTuple, Optional, Sequence, Union

import torch
from espnet2.gan_codec.shared.quantizer.modules.core_vq import VectorQuantization

from espnet2_p2p.utils.tokens import first_bad_token


class RVQOutput(NamedTuple):
    """What a training/eval forward of a residual quantizer returns.

    Attributes:
        quantized (Tensor): Sum of the used levels' codewords (B, D, T).
        codes (Tensor): Indices of every level (n_q, B, T), long.
        codewords (Tensor): Codeword of every level (n_q, B, D, T), detached.
        commit_loss (Tensor): Mean commitment loss over levels (scalar).
    """

    quantized: torch.Tensor
    codes: torch.Tensor
    codewords: torch.Tensor
    commit_loss: torch.Tensor


def check_latent(z: torch.Tensor, dim: int) -> None:
    """Raise ``ValueError`` unless ``z`` is a finite (B, dim, T) latent with T > 0."""
    if z.dim() != 3 or z.shape[1] != dim:
        raise ValueError(f"latent must be (B, {dim}, T), got shape {tuple(z.shape)}")
    if z.shape[0] == 0 or z.shape[2] == 0:
        raise ValueError(f"latent is empty: shape {tuple(z.shape)}")


class ResidualVQ(torch.nn.Module):
    """Residual VQ over ``num_quantizers`` codebooks.

    Args:
        dim (int): Latent dimension D.
        num_quantizers (int): Number of levels (1 + N for the P2PSynCodec teacher).
        codebook_size (int or list of int): Entries per codebook, one number for
            all levels or one per level (level 0, the plain VQ, sets the bitrate).
        codebook_dim (Optional[int]): Codebook dimension (projected from D if it
            differs).
        decay (float): EMA decay of the codebooks.
        kmeans_init (bool): Initialise codebooks by k-means on the first batch.
        kmeans_iters (int): k-means iterations.
        threshold_ema_dead_code (int): EMA cluster size below which a code is
            replaced by a random current input.
        quantizer_dropout (float): Probability, per training example, of keeping
            only the first k levels (k uniform in 1..num_quantizers).
    """

    def __init__(
        self,
        dim: int,
        num_quantizers: int = 4,
        codebook_size: Union[int, Sequence[int]] = 1024,
        codebook_dim: Optional[int] = None,
        decay: float = 0.99,
        kmeans_init: bool = True,
        kmeans_iters: int = 50,
        threshold_ema_dead_code: int = 2,
        quantizer_dropout: float = 0.5,
    ):
        super().__init__()
        if num_quantizers < 1:
            raise ValueError(f"num_quantizers must be >= 1, got {num_quantizers}")
        sizes = [codebook_size] * num_quantizers if isinstance(codebook_size, int) else [int(k) for k in codebook_size]
        if len(sizes) != num_quantizers or min(sizes) < 2:
            raise ValueError(f"codebook_size must be one size >= 2 or {num_quantizers} of them, got {codebook_size}")
        if not 0.0 <= quantizer_dropout <= 1.0:
            raise ValueError(f"quantizer_dropout must be in [0, 1], got {quantizer_dropout}")
        self.dim = dim
        self.num_quantizers = num_quantizers
        self.codebook_sizes: List[int] = sizes
        self.quantizer_dropout = quantizer_dropout
        self.layers = torch.nn.ModuleList(
            [
                VectorQuantization(
                    dim=dim,
                    codebook_size=size,
                    codebook_dim=codebook_dim,
                    decay=decay,
                    kmeans_init=kmeans_init,
                    kmeans_iters=kmeans_iters,
                    threshold_ema_dead_code=threshold_ema_dead_code,
                )
                for size in sizes
            ]
        )

    def _levels_per_item(self, batch: int, device: torch.device) -> torch.Tensor:
        n_q = torch.full((batch,), self.num_quantizers, device=device)
        if self.training and self.quantizer_dropout > 0:
            drop = torch.rand(batch, device=device) < self.quantizer_dropout
            k = torch.randint(1, self.num_quantizers + 1, (batch,), device=device)
            n_q = torch.where(drop, k, n_q)
        return n_q

    def forward(self, z: torch.Tensor, n_q: Optional[int] = None) -> RVQOutput:
        """Quantize a latent, updating the codebooks when training.

        Args:
            z (Tensor): Latent (B, D, T).
            n_q (Optional[int]): Use only the first ``n_q`` levels (all by default;
                quantizer dropout applies on top while training).

        Returns:
            RVQOutput: quantized (B, D, T) with a straight-through gradient to z,
            codes (n_q, B, T), detached codewords (n_q, B, D, T), commitment loss.
        """
        check_latent(z, self.dim)
        n_q = self.num_quantizers if n_q is None else n_q
        used = self._levels_per_item(z.shape[0], z.device).clamp(max=n_q)
        residual = z
        quantized = torch.zeros_like(z)
        codes, codewords, losses = [], [], []
        for i, layer in enumerate(self.layers[:n_q]):
            q, idx, loss = layer(residual)
            residual = residual - q.detach()
            keep = (used > i).to(q.dtype)[:, None, None]
            quantized = quantized + q * keep
            codes.append(idx)
            codewords.append(q.detach())
            losses.append(loss.sum())
        if self.training:
            # Straight-through for the whole stack (the per-level STE would give the
            # encoder a gradient only through the kept levels).
            quantized = z + (quantized - z).detach()
        return RVQOutput(
            quantized=quantized,
            codes=torch.stack(codes),
            codewords=torch.stack(codewords),
            commit_loss=torch.stack(losses).mean(),
        )

    @torch.no_grad()
    def encode(self, z: torch.Tensor, n_q: Optional[int] = None) -> torch.Tensor:
        """Latent (B, D, T) -> codes (n_q, B, T), no codebook update."""
        check_latent(z, self.dim)
        residual = z
        codes = []
        for layer in self.layers[: n_q or self.num_quantizers]:
            idx = layer.encode(residual)
            residual = residual - layer.decode(idx)
            codes.append(idx)
        return torch.stack(codes)

    def codeword(self, level: int, codes: torch.Tensor) -> torch.Tensor:
        """Codewords of one level: codes (B, T) -> (B, D, T)."""
        return self.layers[level].decode(codes)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (n_q, B, T) of the first n_q levels -> quantized latent (B, D, T)."""
        self.check_codes(codes)
        quantized = 0.0
        for level, level_codes in enumerate(codes):
            quantized = quantized + self.codeword(level, level_codes)
        return quantized

    def check_codes(self, codes: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``codes`` are valid (n_q, B, T) indices."""
        if codes.dim() != 3:
            raise ValueError(f"codes must be (n_q, B, T), got shape {tuple(codes.shape)}")
        if not 1 <= codes.shape[0] <= self.num_quantizers:
            raise ValueError(f"codes have {codes.shape[0]} streams; this quantizer has {self.num_quantizers} levels")
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise ValueError(f"codes must be integers, got {codes.dtype}")
        bad = first_bad_token(codes.cpu(), self.codebook_sizes[: codes.shape[0]])
        if bad:
            raise ValueError(
                f"codes of stream {bad.stream} must lie in [0, {self.codebook_sizes[bad.stream]}),"
                f" got [{bad.low}, {bad.high}]"
            )
