"""P2PSynCodec's ONNX graphs (:meth:`P2PSynCodec.onnx_graphs`): the offline encoder, the
decoder of the transmitted streams (a student predicts its pseudo VQs and outputs them)
and, for a student, the decoder of all 1 + N streams."""

from typing import Dict, List, Tuple

import torch

from espnet2_p2p.codec.export_graphs import Graph, GraphModule


class P2PEncoder(GraphModule):
    def forward(self, audio):
        _, z = self.codec.generator.analyse(audio)
        quantizer = self.codec.generator.quantizer
        if self.codec.is_student:
            return quantizer.encode(z).unsqueeze(0)
        return quantizer.encode_residual(z)


class P2PDecoderAll(GraphModule):
    """Every level's tokens given: a teacher's decoder, and a student's given all 1 + N
    streams (tokens a language model generated; nothing is predicted, as in the torch
    codec's ``decode`` of 1 + N streams)."""

    def forward(self, codes):
        return self.codec.generator.synthesise(self.codec.generator.quantizer.dequantize(codes))[0]


class P2PDecoder(P2PDecoderAll):
    """The transmitted streams given: a student predicts its pseudo VQs (and outputs them)."""

    def forward(self, codes):
        if self.codec.is_student:
            quantized, pseudo = self.codec.generator.quantizer.decode(codes[0])
            return self.codec.generator.synthesise(quantized)[0], pseudo
        return super().forward(codes)


def graphs(codec, example: torch.Tensor, batch, frames) -> Tuple[List[Graph], Dict]:
    """The graphs of ``codec`` and what ``codec.json`` says of them (see
    :func:`espnet2_p2p.codec.export_graphs.onnx_graphs`)."""
    hop = codec.hop_length
    with torch.no_grad():
        codes = P2PEncoder(codec)(example)
    outputs = ["audio", "pseudo"] if codec.is_student else ["audio"]
    # the audio length is a whole number of frames (the runtime pads, as analyse does)
    found = [
        Graph(P2PEncoder(codec), (example,), ({0: batch, 2: frames * hop},), ["audio"], ["codes"], "encoder.onnx"),
        Graph(P2PDecoder(codec), (codes,), ({1: batch, 2: frames},), ["codes"], outputs, "decoder.onnx"),
    ]
    meta = dict(student=codec.is_student, decoder_all=None)
    if codec.is_student:  # all 1 + N streams given: nothing to predict
        with torch.no_grad():
            codes_all = torch.cat([codes, P2PDecoder(codec)(codes)[1]])
        found.append(
            Graph(
                P2PDecoderAll(codec), (codes_all,), ({1: batch, 2: frames},), ["codes"], ["audio"], "decoder_all.onnx"
            )
        )
        meta.update(decoder_all="decoder_all.onnx")
    return found, meta
