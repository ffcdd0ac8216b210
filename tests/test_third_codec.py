"""A third codec needs no edit outside its own code, its config and one registration line
(issue 43): a tiny codec defined here, registered in ``espnet2_p2p.CODECS``, codes a file
through the command line (``p2p-codec encode/decode/info``) with the torch backend, and
through its ONNX export on ONNX Runtime, which writes the same ``.p2p`` file."""

import math
from typing import Any, Dict, Optional

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from espnet2.gan_codec.abs_gan_codec import AbsGANCodec

import espnet2_p2p
from espnet2_p2p.bin.p2p_codec import main
from espnet2_p2p.codec.base import CodecInterface
from espnet2_p2p.codec.export_graphs import Graph

NAME = "tiny_third"


class TinyGenerator(torch.nn.Module):
    """Strided analysis to a few latent channels, scalar quantisation to ``levels`` values per
    channel (a frame's token: the channels' digits), transposed-convolution synthesis."""

    def __init__(self, hop: int, channels: int, levels: int):
        super().__init__()
        self.hop, self.channels, self.levels = hop, channels, levels
        self.analysis = torch.nn.Conv1d(1, channels, hop, stride=hop)
        self.synthesis = torch.nn.ConvTranspose1d(channels, 1, hop, stride=hop)
        self.register_buffer("weights", levels ** torch.arange(channels).view(1, channels, 1))

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, 1, frames * hop) -> tokens (1, B, frames)."""
        half = (self.levels - 1) / 2
        digits = torch.round(torch.tanh(self.analysis(audio)) * half + half).long()
        return (digits * self.weights).sum(1).unsqueeze(0)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Tokens (1, B, frames) -> (B, 1, frames * hop)."""
        digits = (codes[0].unsqueeze(1) // self.weights) % self.levels
        half = (self.levels - 1) / 2
        return torch.tanh(self.synthesis((digits.float() - half) / half))


class TinyEncoderGraph(torch.nn.Module):
    def __init__(self, codec):
        super().__init__()
        self.codec = codec

    def forward(self, audio):
        return self.codec.generator.encode(audio)


class TinyDecoderGraph(TinyEncoderGraph):
    def forward(self, codes):
        return self.codec.generator.decode(codes)


class TinyCodec(CodecInterface, AbsGANCodec):
    """A codec of one stream of ``levels ** channels`` tokens per ``hop`` samples."""

    def __init__(self, sampling_rate: int = 8000, hop: int = 80, channels: int = 2, levels: int = 4):
        AbsGANCodec.__init__(self)
        self.fs = sampling_rate
        self.generator = TinyGenerator(hop, channels, levels)
        self.discriminator = torch.nn.Identity()

    # the layout
    @property
    def hop_length(self) -> int:
        return self.generator.hop

    @property
    def stream_sizes(self):
        return [self.generator.levels**self.generator.channels]

    @property
    def transmitted_streams(self) -> int:
        return 1

    # coding
    def meta_info(self) -> Dict[str, Any]:
        return {
            "fs": self.fs,
            "num_streams": 1,
            "frame_shift": self.hop_length,
            "code_size_per_stream": self.stream_sizes,
        }

    def forward(self, audio, **kwargs):
        raise NotImplementedError("this test codec is not trained")

    def _padded(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], 1, -1) if x.dim() > 1 else x.view(1, 1, -1)
        return torch.nn.functional.pad(x, (0, self.frames_for(x.shape[-1]) * self.hop_length - x.shape[-1]))

    def encode(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None, **kwargs) -> torch.Tensor:
        return self.generator.encode(self._padded(x))

    def tokens(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.encode(x, lengths)

    def decode(self, codes: torch.Tensor, length: Optional[int] = None, **kwargs) -> torch.Tensor:
        audio = self.generator.decode(codes)
        return audio if length is None else audio[..., :length]

    # the ONNX export: this codec's graphs
    def onnx_graphs(self, example, batch, frames):
        hop = self.hop_length
        with torch.no_grad():
            codes = TinyEncoderGraph(self)(example)
        graphs = [
            Graph(
                TinyEncoderGraph(self), (example,), ({0: batch, 2: frames * hop},), ["audio"], ["codes"], "encoder.onnx"
            ),
            Graph(TinyDecoderGraph(self), (codes,), ({1: batch, 2: frames},), ["codes"], ["audio"], "decoder.onnx"),
        ]
        return graphs, dict(student=False, decoder_all=None)


@pytest.fixture
def tiny_model(tmp_path, monkeypatch):
    """The one registration line, and a model (config.yaml + model.pth) of the codec."""
    monkeypatch.setitem(espnet2_p2p.CODECS, NAME, f"{__name__}:TinyCodec")
    torch.manual_seed(0)
    conf = dict(sampling_rate=8000, hop=80, channels=2, levels=4)
    model = torch.nn.Module()
    model.codec = TinyCodec(**conf)
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "config.yaml").write_text(yaml.safe_dump({"codec": NAME, "codec_conf": conf}))
    torch.save(model.state_dict(), exp / "model.pth")
    return exp / "model.pth"


def test_a_third_codec_codes_through_the_cli_and_onnx(tiny_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("P2P_CODEC_CACHE", str(tmp_path / "cache"))
    fs, n = 8000, 8000 + 37  # not a whole number of frames
    t = np.arange(n) / fs
    wav = (0.3 * np.sin(2 * math.pi * 220 * t) * np.hanning(n)).astype(np.float32)
    sf.write(tmp_path / "in.wav", wav, fs, subtype="FLOAT")
    common = ["--model", str(tiny_model), "--device", "cpu", "-q"]

    assert main(["encode", str(tmp_path / "in.wav"), str(tmp_path / "torch.p2p"), *common]) == 0
    assert main(["decode", str(tmp_path / "torch.p2p"), str(tmp_path / "torch.wav"), *common]) == 0
    decoded, rate = sf.read(tmp_path / "torch.wav")
    assert rate == fs and len(decoded) == n
    capsys.readouterr()
    assert main(["info", str(tmp_path / "torch.p2p"), "--model", str(tiny_model)]) == 0
    info = capsys.readouterr().out
    assert "codebooks [16]" in info and "400 bit/s of whole frames" in info  # 4 bits x 100 Hz

    assert (
        main(["export", "--model", str(tiny_model), "--out", str(tmp_path / "onnx"), "--max_seconds", "4", "-q"]) == 0
    )
    onnx = ["--model", str(tmp_path / "onnx"), "--backend", "onnxruntime", "-q"]
    assert main(["encode", str(tmp_path / "in.wav"), str(tmp_path / "onnx.p2p"), *onnx]) == 0
    assert (tmp_path / "onnx.p2p").read_bytes() == (tmp_path / "torch.p2p").read_bytes()
    assert main(["decode", str(tmp_path / "onnx.p2p"), str(tmp_path / "onnx.wav"), *onnx]) == 0
    onnx_decoded, _ = sf.read(tmp_path / "onnx.wav")
    assert np.abs(onnx_decoded - decoded).max() < 1e-3
