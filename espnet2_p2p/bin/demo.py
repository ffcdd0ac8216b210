#!/usr/bin/env python3
"""The first minute with espnet2_p2p: code one synthetic utterance with the shipped model.

    python -m espnet2_p2p.bin.demo --output_dir demo

Speaks a sentence with espeak-ng (an unseen test voice), encodes it to a ``.p2p`` file
and decodes that file with the model shipped in the package (``p2p-codec`` does the
same: ``p2p-codec encode in.wav out.p2p``, ``p2p-codec decode out.p2p out.wav``), then
draws the reference and decoded spectrograms one above the other. Prints where the
files are and the measured bitrate. ``make demo`` runs it before the recipe.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", type=Path, default=Path("demo"))
    parser.add_argument("--model", default=None, help="default: the shipped model")
    args = parser.parse_args(argv)

    from espnet2_p2p.bin import p2p_codec
    from espnet2_p2p.data.espeak import SENTENCES, TEST_SPEAKERS, synthesize
    from espnet2_p2p.evaluation.metrics import stoi
    from espnet2_p2p.evaluation.scoring import plot_spectrograms
    from espnet2_p2p.layout import Rates

    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    wav = synthesize(TEST_SPEAKERS[0], SENTENCES[0], 16000)
    ref, p2p, dec, png = out / "reference.wav", out / "reference.p2p", out / "decoded.wav", out / "spectrograms.png"
    sf.write(str(ref), wav, 16000)
    start = time.time()
    model = ["--model", args.model] if args.model else []
    for command in (["encode", str(ref), str(p2p)], ["decode", str(p2p), str(dec)]):
        if p2p_codec.main(command + model + ["--quiet"]) != 0:
            sys.exit(f"demo: p2p-codec {command[0]} failed")
    seconds = time.time() - start
    hyp, _ = sf.read(str(dec), dtype="float32")
    n = min(len(hyp), len(wav))
    plot_spectrograms(
        [
            ("reference (espeak-ng, unseen voice)", wav, 16000),
            ("decoded from the .p2p file (shipped model, 0.5 kbps)", hyp, 16000),
        ],
        png,
    )
    duration = len(wav) / 16000
    print(f"coded {duration:.2f} s of speech in {seconds:.1f} s (model loading included)")
    rates = Rates(seconds=duration, file_bits=8 * p2p.stat().st_size)
    print(f"  bitstream: {p2p} ({p2p.stat().st_size} bytes, {rates.file_bps:.0f} bit/s with the container)")
    print(f"  decoded:   {dec} (STOI {stoi(wav[:n], hyp[:n], 16000):.3f} against the reference)")
    print(f"  reference: {ref}")
    print(f"  spectrograms: {png}")
    if not np.isfinite(hyp).all() or len(hyp) != len(wav):
        sys.exit("demo: the decoded audio is not the input's length or not finite")


if __name__ == "__main__":
    main()
