"""Signal-processing and network layers shared by the codecs."""

from espnet2_p2p.layers.convnext import ChannelLayerNorm, ConvNeXtV2Block
from espnet2_p2p.layers.mdct import MDCT

__all__ = ["MDCT", "ConvNeXtV2Block", "ChannelLayerNorm"]
