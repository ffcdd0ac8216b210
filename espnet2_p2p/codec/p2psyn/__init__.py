"""P2PSynCodec: MDCT codec with plain-to-pseudo synergistic vector quantization."""

from espnet2_p2p.codec.p2psyn.p2psyn import P2PSynCodec

__all__ = ["P2PSynCodec"]
