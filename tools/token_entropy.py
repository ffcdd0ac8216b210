#!/usr/bin/env python3
"""How few bits a token could cost: cross-entropy of the transmitted stream of ``.p2p``
files under count models trained on a token dump (groundwork for entropy coding).

    python tools/token_entropy.py --train_scp dump/tokens_ft/train/tokens.scp \\
        --test_dir exp/decode_test/student_ft/bitstreams

Models: a unigram and a bigram (previous token of the stream, Witten-Bell interpolation
with the add-one unigram), counted on stream 0 of the dump (flat ids in frame order, as
``espnet2_p2p.bin.dump_tokens`` writes them) and evaluated on stream 0 of every
``.p2p`` file of ``--test_dir``. Prints bits per token and the bit/s they mean.
"""

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_scp", type=Path, required=True, help="tokens.scp of a token dump")
    parser.add_argument("--test_dir", type=Path, required=True, help="folder of .p2p files")
    args = parser.parse_args()
    from kaldiio import load_scp

    from espnet2_p2p import bitstream

    info = json.loads((args.train_scp.parent / "token_info.json").read_text())
    streams, size, rate = info["streams"], info["codebook_sizes"][0], info["frame_rate"]
    train = [np.asarray(a).reshape(-1, streams)[:, 0] for a in load_scp(str(args.train_scp)).values()]
    test = [bitstream.read(p)[1][:1].reshape(-1) for p in sorted(args.test_dir.glob("*.p2p"))]
    if not test:
        raise SystemExit(f"no .p2p files in {args.test_dir}")
    unigram = np.bincount(np.concatenate(train), minlength=size) + 1.0
    unigram /= unigram.sum()
    bigram = np.zeros((size + 1, size))  # context `size`: the start of an utterance
    for s in train:
        np.add.at(bigram, (np.concatenate([[size], s[:-1]]), s), 1)
    totals, types = bigram.sum(1), (bigram > 0).sum(1)
    seen = totals / np.maximum(totals + types, 1)  # Witten-Bell weight of the context's counts
    cond = bigram / np.maximum(totals[:, None], 1)
    bits = {"unigram": 0.0, "bigram": 0.0}
    n = 0
    for s in test:
        prev = np.concatenate([[size], s[:-1]])
        bits["unigram"] -= np.log2(unigram[s]).sum()
        bits["bigram"] -= np.log2(seen[prev] * cond[prev, s] + (1 - seen[prev]) * unigram[s]).sum()
        n += len(s)
    print(f"{sum(map(len, train))} training tokens, {n} test tokens in {len(test)} files;"
          f" nominal {np.log2(size):.0f} bits/token = {np.log2(size) * rate:.0f} bit/s")  # fmt: skip
    for name, b in bits.items():
        print(f"{name}: {b / n:.3f} bits/token = {b / n * rate:.0f} bit/s")


if __name__ == "__main__":
    main()
