"""The ``.p2p`` container (:mod:`~espnet2_p2p.container.bitstream`: :class:`P2PFile`,
:class:`P2PHeader`, :class:`ModelSpec`) and the range coding of its tokens with a bigram
prior (:mod:`~espnet2_p2p.container.entropy`: :class:`BigramPrior`). No torch."""

from espnet2_p2p.utils.lazy import lazy_exports

__all__ = ["P2PFile", "P2PHeader", "ModelSpec", "BigramPrior"]
__getattr__ = lazy_exports(
    __name__, {"P2PFile": "bitstream", "P2PHeader": "bitstream", "ModelSpec": "bitstream", "BigramPrior": "entropy"}
)
