"""ONNX export of the codecs (:mod:`espnet2_p2p.onnx.export`, needs torch) and a runtime
that needs only ONNX Runtime and numpy (:class:`OnnxCodec`)."""

from espnet2_p2p.onnx.runtime import OnnxCodec

__all__ = ["OnnxCodec"]
