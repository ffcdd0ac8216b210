#!/usr/bin/env python3
"""ESPnet's GAN codec training entry point with this package's codecs registered.

Every option of ``espnet2.bin.gan_codec_train`` works unchanged (``--ngpu``,
``--multiprocessing_distributed``, ``--resume``, ``--config``, ...).
"""

import espnet2_p2p  # noqa: F401  (registers the codecs)
from espnet2.tasks.gan_codec import GANCodecTask


def main(cmd=None):
    """Run ESPnet's GAN codec training."""
    GANCodecTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
