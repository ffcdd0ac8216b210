"""The graphs :mod:`espnet2_p2p.onnx.export` traces: each codec's offline encoder and decoder
as modules (the exporter switches their value checks off; they live here, beside the
codecs, since they call the codecs' parts directly)."""

from typing import Dict, List, NamedTuple, Tuple

import torch


class _Graph(torch.nn.Module):
    """One exported graph of ``codec``."""

    def __init__(self, codec):
        super().__init__()
        self.codec = codec


class P2PEncoder(_Graph):
    def forward(self, audio):
        _, z = self.codec.generator.analyse(audio)
        quantizer = self.codec.generator.quantizer
        if self.codec.is_student:
            return quantizer.encode(z).unsqueeze(0)
        return quantizer.encode_residual(z)


class P2PDecoderAll(_Graph):
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


class SecoustiEncoder(_Graph):
    def forward(self, audio, reference):
        gen = self.codec.generator
        codes = gen.bottleneck(gen.analyse(audio)[1]).codes.unsqueeze(0)
        side = gen.paralinguistic.to_bytes_codes(gen.reference_embedding(reference[:, 0]))
        return codes, side


class SecoustiDecoder(_Graph):
    def forward(self, codes, side):
        gen = self.codec.generator
        values = gen.bottleneck.decode(codes[0])
        g = gen.paralinguistic.from_codes(side)
        return gen.synthesise(values, g, codes.shape[-1] * gen.hop_length)[0]


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
    """The graphs of a codec's export and what ``codec.json`` says of them: ``example`` is
    audio (2, 1, T) of whole frames, ``batch`` and ``frames`` the export's dynamic dims."""
    from espnet2_p2p.codec.p2psyn.p2psyn import P2PSynCodec
    from espnet2_p2p.codec.secousti.secousti import SecoustiCodec

    hop = codec.hop_length
    if isinstance(codec, P2PSynCodec):
        with torch.no_grad():
            codes = P2PEncoder(codec)(example)
        outputs = ["audio", "pseudo"] if codec.is_student else ["audio"]
        # the audio length is a whole number of frames (the runtime pads, as analyse does)
        graphs = [
            Graph(P2PEncoder(codec), (example,), ({0: batch, 2: frames * hop},), ["audio"], ["codes"], "encoder.onnx"),
            Graph(P2PDecoder(codec), (codes,), ({1: batch, 2: frames},), ["codes"], outputs, "decoder.onnx"),
        ]
        meta = dict(student=codec.is_student, decoder_all=None)
        if codec.is_student:  # all 1 + N streams given: nothing to predict
            with torch.no_grad():
                codes_all = torch.cat([codes, P2PDecoder(codec)(codes)[1]])
            graphs.append(Graph(P2PDecoderAll(codec), (codes_all,), ({1: batch, 2: frames},), ["codes"], ["audio"],
                                "decoder_all.onnx"))  # fmt: skip
            meta.update(decoder_all="decoder_all.onnx")
        return graphs, meta
    if isinstance(codec, SecoustiCodec):
        ref_samples = codec.reference_samples
        reference = torch.export.Dim("reference", min=2 * codec.generator.H, max=ref_samples)
        ref = example[..., :ref_samples]
        with torch.no_grad():
            tokens, side = SecoustiEncoder(codec)(example, ref)
        graphs = [
            Graph(SecoustiEncoder(codec), (example, ref), ({0: batch, 2: frames * hop}, {0: batch, 2: reference}),
                  ["audio", "reference"], ["codes", "side"], "encoder.onnx"),
            Graph(SecoustiDecoder(codec), (tokens, side), ({1: batch, 2: frames}, {0: batch}), ["codes", "side"],
                  ["audio"], "decoder.onnx"),
        ]  # fmt: skip
        return graphs, dict(student=False, reference_samples=ref_samples)
    raise ValueError(f"cannot export a {type(codec).__name__}")
