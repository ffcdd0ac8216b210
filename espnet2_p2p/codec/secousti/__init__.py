"""SecoustiCodec (``--codec secousti``)."""

from espnet2_p2p.codec.secousti.secousti import SecoustiCodec, StreamDecoder, StreamEncoder

__all__ = ["SecoustiCodec", "StreamDecoder", "StreamEncoder"]
