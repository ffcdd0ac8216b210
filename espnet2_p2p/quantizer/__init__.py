"""Reusable quantizers, independent of any codec."""

from espnet2_p2p.quantizer.residual_vq import ResidualVQ, RVQOutput

__all__ = ["ResidualVQ", "RVQOutput"]
