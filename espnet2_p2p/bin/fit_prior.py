#!/usr/bin/env python3
"""Fit the entropy-coding prior of a codec's transmitted tokens on training data.

    python -m espnet2_p2p.bin.fit_prior --model exp/student/valid.ce_loss.best.pth \\
        --wav_scp dump/train/wav.scp --output exp/prior_student.npz
    python -m espnet2_p2p.bin.fit_prior --model exp/p2psyn_packed.zip --model_name student \\
        --tokens_dir dump/tokens/train --wav_scp dump/train/wav.scp --output exp/prior_student.npz

The tokens are those ``p2p-codec encode`` puts into a file (a student's plain stream, a
teacher's 1 + N streams, SecoustiCodec's FSQ stream): read from ``--tokens_dir`` when it is
a token dump of this very model (``espnet2_p2p.bin.dump_tokens``; its first streams are
the transmitted ones), else coded from ``--wav_scp`` by the CLI's own code path. The
prior (:class:`espnet2_p2p.container.entropy.BigramPrior`) is written as ``.npz``;
``espnet2_p2p.bin.pack`` stores it with the model (``NAME:CONFIG:MODEL:PRIOR``), and
``p2p-codec encode`` then writes format 3.
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet2_p2p.errors import P2PError
from espnet2_p2p.speechlm.token_dump import dump_of, tokens_from_dump


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="packed zip, experiment dir or .pth (config.yaml beside it)")
    parser.add_argument("--model_name", default=None, help="which model of a packed zip")
    parser.add_argument("--tokens_dir", type=Path, help="a token dump, used when it is of this model")
    parser.add_argument("--wav_scp", type=Path, help="else audio to code: a wav.scp, a folder or one file")
    parser.add_argument("--max_seconds", type=float, default=None, help="stop after this much audio (--wav_scp)")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    from espnet2_p2p.container.entropy import BigramPrior
    from espnet2_p2p.utils.files import temp_path

    try:
        from espnet2_p2p.coding.coder import open_coder
        from espnet2_p2p.coding.files import FileCoder

        runner = FileCoder(open_coder(args.model, "torch", args.model_name, args.device), progress=False)
        layout = runner.layout
        info = dump_of(args.tokens_dir, runner.coder.fingerprint.hex())
        if info is not None:
            print(f"fit_prior: the tokens of {args.tokens_dir}", file=sys.stderr)
            sequences = tokens_from_dump(layout, info, args.tokens_dir)
        elif args.wav_scp is not None:
            print(f"fit_prior: coding {args.wav_scp}", file=sys.stderr)
            sequences = runner.tokens_of_list(args.wav_scp, args.max_seconds)
        else:
            raise P2PError(f"{args.tokens_dir} is not a token dump of this model; give --wav_scp")
        if not sequences:
            raise P2PError("no tokens to fit a prior on")
        sizes = list(layout.stream_sizes[: layout.transmitted_streams])
        prior = BigramPrior.fit(sequences, sizes)
    except (P2PError, ValueError, OSError) as e:
        print(f"fit_prior: error: {e}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(args.output)
    try:
        tmp.write_bytes(prior.to_bytes())
        tmp.replace(args.output)
    finally:
        tmp.unlink(missing_ok=True)
    tokens = sum(s.size for s in sequences)
    frames = sum(s.shape[1] for s in sequences)
    ideal = layout.frame_bitrate(sum(prior.bits(s) for s in sequences), frames)
    print(
        f"wrote {args.output}: prior {prior.fingerprint().hex()} of {len(sequences)} utterances,"
        f" {tokens} tokens ({frames / layout.frame_rate / 3600:.2f} h); on them {ideal:.0f} bit/s"
        f" against {layout.nominal_bitrate:.0f} nominal"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
