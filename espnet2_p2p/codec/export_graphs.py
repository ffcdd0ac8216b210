"""The graphs :mod:`espnet2_p2p.onnx.export` traces: each codec's offline encoder and decoder
as modules (the exporter switches their value checks off; they live here, beside the
codecs, since they call the codecs' parts directly)."""

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
