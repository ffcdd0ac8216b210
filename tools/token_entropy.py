#!/usr/bin/env python3
"""How few bits the transmitted tokens cost with a bigram prior (espnet2_p2p.entropy),
measured by coding them (groundwork for entropy coding in the container, issue 19).

    python tools/token_entropy.py --train_scp dump/tokens_ft/train/tokens.scp \\
        --test_dir exp/decode_test/student_ft/bitstreams

Fits :class:`espnet2_p2p.entropy.BigramPrior` on stream 0 of a token dump (flat ids in
frame order, as ``espnet2_p2p.bin.dump_tokens`` writes them), then codes stream 0 of every
``.p2p`` file of ``--test_dir`` with constriction's range coder and decodes it back
(checked equal). Prints the unigram entropy, the prior's ideal bits, the measured coded
bits per token and bit/s, and the coding time.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_scp", type=Path, required=True, help="tokens.scp of a token dump")
    parser.add_argument("--test_dir", type=Path, required=True, help="folder of .p2p files")
    args = parser.parse_args()
    from kaldiio import load_scp

    from espnet2_p2p import bitstream
    from espnet2_p2p.entropy import BigramPrior

    info = json.loads((args.train_scp.parent / "token_info.json").read_text())
    streams, size, rate = info["streams"], info["codebook_sizes"][0], info["frame_rate"]
    train = [np.asarray(a).reshape(-1, streams)[None, :, 0] for a in load_scp(str(args.train_scp)).values()]
    test = [bitstream.read(p)[1][:1].reshape(1, -1).astype(np.int64) for p in sorted(args.test_dir.glob("*.p2p"))]
    if not test:
        raise SystemExit(f"no .p2p files in {args.test_dir}")
    prior = BigramPrior.fit(train, size)
    n = sum(t.size for t in test)
    counts = np.bincount(np.concatenate([t.reshape(-1) for t in train]), minlength=size) + 1.0
    unigram = -sum(float(np.log2(counts[t] / counts.sum()).sum()) for t in test) / n
    ideal = sum(prior.bits(t) for t in test) / n
    start = time.perf_counter()
    payloads = [prior.encode(t) for t in test]
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    for t, p in zip(test, payloads):
        if not np.array_equal(prior.decode(p, t.shape[1]), t):
            raise SystemExit("a decoded file differs from its tokens")
    decode_s = time.perf_counter() - start
    coded = 8 * sum(map(len, payloads)) / n
    seconds = n / rate
    print(f"{sum(t.size for t in train)} training tokens; {n} test tokens in {len(test)} files ({seconds:.0f} s);"
          f" nominal {np.log2(size):.0f} bits/token = {np.log2(size) * rate:.0f} bit/s")  # fmt: skip
    print(f"unigram (add-one): {unigram:.3f} bits/token = {unigram * rate:.0f} bit/s")
    print(f"bigram prior, ideal: {ideal:.3f} bits/token = {ideal * rate:.0f} bit/s")
    print(f"bigram prior, coded (whole 32-bit words per file): {coded:.3f} bits/token = {coded * rate:.0f} bit/s;"
          f" encode {encode_s:.2f} s, decode {decode_s:.2f} s for {seconds:.0f} s of audio; round trip exact")  # fmt: skip


if __name__ == "__main__":
    main()
