"""Reusable quantizers, independent of any codec."""

from espnet2_p2p.quantizer.fsq import FSQ, VAEFSQ, VAEBottleneck, codebook_usage
from espnet2_p2p.quantizer.p2psvq import P2PSVQ, P2PSVQOutput
from espnet2_p2p.quantizer.predictor import PseudoVQPredictor
from espnet2_p2p.quantizer.residual_vq import ResidualVQ, RVQOutput

__all__ = [
    "FSQ",
    "P2PSVQ",
    "P2PSVQOutput",
    "PseudoVQPredictor",
    "ResidualVQ",
    "RVQOutput",
    "VAEBottleneck",
    "VAEFSQ",
    "codebook_usage",
]
