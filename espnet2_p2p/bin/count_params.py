#!/usr/bin/env python3
"""Print the parameter counts of codec configs: ``python -m espnet2_p2p.bin.count_params conf/*.yaml``."""

import argparse
import sys

from espnet2.tasks.gan_codec import GANCodecTask

import espnet2_p2p  # noqa: F401  (registers the codecs)
from espnet2_p2p.utils.config import load_config


def count(config_path: str):
    config = load_config(config_path)
    args = argparse.Namespace(codec=config["codec"], codec_conf=config.get("codec_conf", {}), model_conf={})
    codec = GANCodecTask.build_model(args).codec
    gen, predictors = codec.generator_parameters, codec.predictor_parameters
    disc = sum(p.numel() for p in codec.discriminator.parameters())
    return gen, predictors, disc


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("configs", nargs="+")
    args = parser.parse_args(argv)
    print("| config | generator | of which pseudo-VQ predictors | discriminator |")
    print("|---|---|---|---|")
    for path in args.configs:
        gen, pred, disc = count(path)
        print(f"| {path} | {gen / 1e6:.2f} M | {pred / 1e6:.2f} M | {disc / 1e6:.2f} M |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
