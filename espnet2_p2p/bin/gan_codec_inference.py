#!/usr/bin/env python3
"""ESPnet's GAN codec inference entry point with this package's codecs registered."""

from espnet2.bin.gan_codec_inference import main

import espnet2_p2p  # noqa: F401  (registers the codecs)

if __name__ == "__main__":
    main()
