#!/usr/bin/env python3
"""ESPnet's GAN codec training entry point with this package's codecs registered.

Every option of ``espnet2.bin.gan_codec_train`` works unchanged (``--ngpu``,
``--multiprocessing_distributed``, ``--resume``, ``--config``, ...); a ``--config`` that
names a ``base:`` config is handed to ESPnet merged (:mod:`espnet2_p2p.utils.config`). The task is
ESPnet's ``GANCodecTask`` with one optional input more, ``frame_labels`` (see
:mod:`espnet2_p2p.tasks.gan_codec`), which SecoustiCodec's contrastive term reads.
"""

import sys

import espnet2_p2p  # noqa: F401  (registers the codecs)
from espnet2_p2p.tasks.gan_codec import P2PGANCodecTask
from espnet2_p2p.utils.config import resolved_argv


def main(cmd=None):
    """Run ESPnet's GAN codec training."""
    P2PGANCodecTask.main(cmd=resolved_argv(sys.argv[1:] if cmd is None else cmd))


if __name__ == "__main__":
    main()
