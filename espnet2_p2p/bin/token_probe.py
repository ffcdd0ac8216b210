#!/usr/bin/env python3
"""Codebook usage and a speaker-leakage probe on a codec's semantic tokens.

    python -m espnet2_p2p.bin.token_probe --model exp/secousti --data_dir dump/train \
        --output exp/secousti/probe.md [--model exp/secousti_nocontrast --name ...]

For each model: the share of the codebook its tokens use on the set, the entropy and
perplexity of the token histogram, and a *linear speaker classifier* on the tokens.
Features of a frame are the one-hot FSQ digits of its token (``len(levels) x L``
values: the token itself, written so that a linear model can use it); an utterance is
the mean of its frames' features. For every speaker with at least two utterances, the
utterances alternate between the probe's training and test halves; a multinomial
logistic regression (fixed seed, full-batch L-BFGS) is trained on one half and scored
on the other, per frame and per utterance, beside the majority-class rate. Lower
accuracy = less speaker information in the tokens.
"""

import argparse
import logging
from pathlib import Path
from typing import List, Optional

from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.errors import one_line_errors
from espnet2_p2p.evaluation.token_probe import set_tokens, speaker_probe
from espnet2_p2p.model_io import load_codec
from espnet2_p2p.quantizer.fsq import codebook_usage


@one_line_errors("token_probe")
def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="exp dir / packed zip / .pth (repeatable)")
    parser.add_argument("--name", action="append", help="row name per --model")
    parser.add_argument("--data_dir", type=Path, required=True, help="holds wav.scp and utt2spk")
    parser.add_argument("--output", type=Path, required=True, help="Markdown table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    names = args.name or [Path(m).name for m in args.model]
    if len(names) != len(args.model):
        raise SystemExit("give one --name per --model")
    wavs = read_table(args.data_dir / "wav.scp")
    utt2spk = read_table(args.data_dir / "utt2spk")
    rows = [
        "| model | codes | used | usage | entropy (bits) | perplexity | speakers | frame probe acc. |"
        " frame majority | utterance probe acc. | utterance majority |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, model in zip(names, args.model):
        import torch

        codec = load_codec(model).eval().codec
        levels = codec.fsq_levels
        tokens = set_tokens(codec, wavs)
        usage = codebook_usage(torch.cat(list(tokens.values())), codec.codebook_size)
        probe = speaker_probe(tokens, utt2spk, levels)
        logging.info("%s: usage %s, probe %s", name, usage, probe)
        rows.append(
            f"| {name} | {codec.codebook_size} | {usage['used']} | {100 * usage['usage']:.1f}% |"
            f" {usage['entropy_bits']:.2f} | {usage['perplexity']:.0f} | {probe['speakers']} |"
            f" {probe['frame_accuracy']:.3f} | {probe['frame_majority']:.3f} |"
            f" {probe['utterance_accuracy']:.3f} | {probe['utterance_majority']:.3f} |"
        )
    text = "\n".join(
        [
            f"# Token usage and speaker probe on `{args.data_dir}`",
            "",
            f"{len(wavs)} utterances, {usage['frames']} frames.",
            "",
        ]
        + rows
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
