"""What every codec of this package offers to the code outside ``codec/``.

The CLI, the ``.p2p`` container, the tokenizer, the chunker and the recipe tools use only
this interface; they never probe a codec's attributes or reach into its generator.

Vocabulary: a codec has ``stream_sizes`` (codebook size of every stream it can decode
from: P2PSynCodec's plain VQ then its N residual/pseudo VQs; SecoustiCodec's one FSQ
stream); ``transmitted_streams`` of them go into a ``.p2p`` file (a student: 1, a
teacher: 1 + N, SecoustiCodec: 1). ``streams="transmitted"`` and ``streams="all"`` name
the two choices everywhere. The tools that wrote tokens before also take ``"plain"``:
stream 0 alone, the former name, the same as "transmitted" but for a teacher.
"""

from abc import ABC, abstractmethod
from typing import List, Optional

import torch

from espnet2_p2p.layout import PLAIN, STREAM_CHOICES, Layout, check_streams  # noqa: F401  (part of the interface)
from espnet2_p2p.utils.tokens import frames_for  # noqa: F401  (part of the interface)


def as_codec(model):
    """The codec of an ESPnet ``ESPnetGANCodecModel``, or ``model`` if it is a codec."""
    from espnet2.gan_codec.espnet_model import ESPnetGANCodecModel

    return model.codec if isinstance(model, ESPnetGANCodecModel) else model


class CodecInterface(ABC):
    """Mixin of both codecs; a codec that lacks an abstract member cannot be built."""

    fs: int

    # ------------------------------------------------------------- layout
    @property
    @abstractmethod
    def hop_length(self) -> int:
        """Samples per code frame."""

    @property
    def layout(self) -> Layout:
        """The codec's :class:`~espnet2_p2p.layout.Layout` (shared with the ONNX runtime)."""
        return Layout(
            fs=self.fs,
            hop_length=self.hop_length,
            stream_sizes=tuple(self.stream_sizes),
            transmitted_streams=self.transmitted_streams,
            side_info_bytes=self.side_info_bytes,
            side_info_levels=self.side_info_levels,
            streaming=self.streaming,
        )

    @property
    def frame_rate(self) -> float:
        return self.layout.frame_rate

    def frames_for(self, num_samples: int) -> int:
        """Code frames of ``num_samples`` samples (ceil, at least 1)."""
        return self.layout.frames_for(num_samples)

    @property
    @abstractmethod
    def stream_sizes(self) -> List[int]:
        """Codebook size of every stream the codec decodes from (transmitted first)."""

    @property
    @abstractmethod
    def transmitted_streams(self) -> int:
        """How many of ``stream_sizes`` a ``.p2p`` file carries."""

    @property
    def predicts_streams(self) -> bool:
        """Whether the decoder predicts streams that are not transmitted (a student)."""
        return self.layout.predicts_streams

    def teacher_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """For a codec that predicts streams: the tokens of every stream that a full
        encoding gives (streams, B, frames), the targets of the prediction."""
        raise ValueError(f"{type(self).__name__} predicts no streams: it has no teacher tokens")

    def set_pseudo_codeword(self, mode: str) -> None:
        """For a codec that predicts streams: "expected" or "argmax" codewords."""
        raise ValueError(f"{type(self).__name__} predicts no streams: pseudo_codeword does not apply")

    def num_streams(self, streams: str) -> int:
        return self.layout.num_streams(streams)

    @property
    def streaming(self) -> bool:
        """Whether coding is causal with exact state (``encode_stream``/``decode_stream``)."""
        return False

    @property
    def nominal_bitrate(self) -> float:
        """Bits per second of the transmitted streams (the one definition:
        :attr:`espnet2_p2p.layout.Layout.nominal_bitrate`)."""
        return self.layout.nominal_bitrate

    def bitrate(self) -> float:
        """:attr:`nominal_bitrate` (the name ESPnet's codecs use)."""
        return self.nominal_bitrate

    # -------------------------------------------------- side information
    @property
    def side_info_bytes(self) -> int:
        """Bytes of side information a ``.p2p`` file carries (0: none)."""
        return 0

    @property
    def side_info_levels(self) -> int:
        """Values each side-information entry can take (0: no side information)."""
        return 0

    def side_info(self, reference: torch.Tensor) -> bytes:
        """Side information of an input from its first samples (B=1, 1, T)."""
        return b""

    def side_info_codes(self, side_info) -> Optional[torch.Tensor]:
        """Side information (bytes, or a sequence of integer codes) -> what :meth:`decode`
        takes (None when there is none); codes out of range raise TokenError."""
        if side_info:
            raise ValueError(f"{type(self).__name__} takes no side information")
        return None

    @property
    def side_info_samples(self) -> int:
        """Samples at the start of an input that its side information is read from (0: it
        has none): the coders read them and pass them to :meth:`side_info`."""
        return 0

    def decode_tokens(self, codes: torch.Tensor, length: Optional[int] = None, side_info=None) -> torch.Tensor:
        """:meth:`decode` of tokens (streams, B, frames) with the side information as a file
        carries it (bytes or integer codes; None: the codec's neutral one). A codec without
        side information refuses any (TokenError); one with it overrides this."""
        self.layout.check_side_info(side_info)
        return self.decode(codes, length=length)

    # ------------------------------------------------------- ONNX export
    def onnx_graphs(self, example: torch.Tensor, batch, frames):
        """The graphs an ONNX export traces and what ``codec.json`` says of them
        (:func:`espnet2_p2p.codec.export_graphs.onnx_graphs`); a codec without raises
        ValueError."""
        raise ValueError(f"cannot export a {type(self).__name__}")

    # ------------------------------------------------- recipe-level tools
    @property
    def generator_parameters(self) -> int:
        return sum(p.numel() for p in self.generator.parameters())

    @property
    def predictor_parameters(self) -> int:
        """Parameters of the parts that predict untransmitted streams (0: none)."""
        return 0
