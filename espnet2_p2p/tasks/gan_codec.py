"""ESPnet's GAN codec task with one optional input more: ``frame_labels``.

SecoustiCodec's contrastive term needs the text unit aligned to every frame. ESPnet's
``GANCodecTask`` reads ``audio`` only and its ``ESPnetGANCodecModel`` hands the codec
nothing else, so this task (a subclass; everything else is ESPnet's) accepts
``--train_data_path_and_name_and_type dump/train/frame_labels.scp,frame_labels,npy``
and passes ``frame_labels`` on to the codec. The labels are stored per *sample*
(int16), so that ESPnet's chunk iterator, which cuts every input at the same
positions, cuts them with the audio. Codecs that do not use them (P2PSynCodec) never
see them; checkpoints are the same as with ``GANCodecTask`` (keys ``codec.*``).
"""

import argparse
from typing import Any, Dict, Optional, Tuple

import torch
from espnet2.gan_codec.espnet_model import ESPnetGANCodecModel
from espnet2.tasks.gan_codec import GANCodecTask, codec_choices


class P2PGANCodecModel(ESPnetGANCodecModel):
    """ESPnet's GAN codec model that also forwards ``frame_labels`` to the codec."""

    def forward(
        self,
        audio: torch.Tensor,
        forward_generator: bool = True,
        frame_labels: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Dict[str, Any]:
        if frame_labels is None:
            return self.codec(audio=audio, forward_generator=forward_generator)
        return self.codec(audio=audio, forward_generator=forward_generator, frame_labels=frame_labels)


class P2PGANCodecTask(GANCodecTask):
    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return () if inference else ("frame_labels",)

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> ESPnetGANCodecModel:
        codec = codec_choices.get_class(args.codec)(**args.codec_conf)
        return P2PGANCodecModel(codec=codec, **args.model_conf)
