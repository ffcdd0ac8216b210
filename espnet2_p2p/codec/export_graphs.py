"""The graphs :mod:`espnet2_p2p.onnx.export` traces. Each codec says which: its
:meth:`~espnet2_p2p.codec.base.CodecInterface.onnx_graphs` gives them as :class:`Graph`
entries (modules that call the codec's parts directly, so they live beside the codecs:
``codec/p2psyn/onnx_graphs.py``, ``codec/secousti/onnx_graphs.py``), with what
``codec.json`` says of them. The exporter switches the codecs' value checks off.

How a graph carries side information is its own: an encoder input ``reference`` (the
first samples the side information is read from) and an output ``side`` (its codes), a
decoder input ``side``; the ONNX Runtime backend feeds and checks what the graphs name."""

from typing import Dict, List, NamedTuple, Tuple

import torch


class GraphModule(torch.nn.Module):
    """One exported graph of ``codec`` (its ``forward`` is the graph)."""

    def __init__(self, codec):
        super().__init__()
        self.codec = codec


class Graph(NamedTuple):
    """One graph to export: its module, example inputs, dynamic shapes (one dict per
    input), input and output names, and the file it goes to."""

    module: torch.nn.Module
    args: Tuple
    shapes: Tuple
    inputs: List[str]
    outputs: List[str]
    file: str


def onnx_graphs(codec, example: torch.Tensor, batch, frames) -> Tuple[List[Graph], Dict]:
    """The graphs of a codec's export and what ``codec.json`` says of them (``student``, a
    student's ``decoder_all``, ...): ``example`` is audio (2, 1, T) of whole frames,
    ``batch`` and ``frames`` the export's dynamic dims. The codec's own hook answers."""
    return codec.onnx_graphs(example, batch, frames)
