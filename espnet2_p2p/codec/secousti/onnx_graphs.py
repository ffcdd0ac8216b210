"""SecoustiCodec's ONNX graphs (:meth:`SecoustiCodec.onnx_graphs`): the encoder takes the
audio and its first ``reference_seconds`` and gives the tokens and the side information
(``side``: the paralinguistic codes a ``.p2p`` file carries); the decoder takes both."""

from typing import Dict, List, Tuple

import torch

from espnet2_p2p.codec.export_graphs import Graph, GraphModule


class SecoustiEncoder(GraphModule):
    def forward(self, audio, reference):
        gen = self.codec.generator
        codes = gen.bottleneck(gen.analyse(audio)[1]).codes.unsqueeze(0)
        side = gen.paralinguistic.to_bytes_codes(gen.reference_embedding(reference[:, 0]))
        return codes, side


class SecoustiDecoder(GraphModule):
    def forward(self, codes, side):
        gen = self.codec.generator
        values = gen.bottleneck.decode(codes[0])
        g = gen.paralinguistic.from_codes(side)
        return gen.synthesise(values, g, codes.shape[-1] * gen.hop_length)[0]


def graphs(codec, example: torch.Tensor, batch, frames) -> Tuple[List[Graph], Dict]:
    """The graphs of ``codec`` and what ``codec.json`` says of them (see
    :func:`espnet2_p2p.codec.export_graphs.onnx_graphs`)."""
    hop, ref_samples = codec.hop_length, codec.reference_samples
    reference = torch.export.Dim("reference", min=2 * codec.generator.H, max=ref_samples)
    ref = example[..., :ref_samples]
    with torch.no_grad():
        tokens, side = SecoustiEncoder(codec)(example, ref)
    found = [
        Graph(
            SecoustiEncoder(codec),
            (example, ref),
            ({0: batch, 2: frames * hop}, {0: batch, 2: reference}),
            ["audio", "reference"],
            ["codes", "side"],
            "encoder.onnx",
        ),
        Graph(
            SecoustiDecoder(codec),
            (tokens, side),
            ({1: batch, 2: frames}, {0: batch}),
            ["codes", "side"],
            ["audio"],
            "decoder.onnx",
        ),
    ]
    return found, dict(student=False, reference_samples=ref_samples)
