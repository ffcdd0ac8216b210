#!/usr/bin/env python3
"""What entropy coding (format 3) saves on decoded test sets, measured by coding them.

    python -m espnet2_p2p.bin.entropy_report --model exp/p2psyn_packed.zip \\
        --decode_dir exp/decode_test

For every system folder of ``--decode_dir`` (stage 5's ``<system>/bitstreams/*.p2p``),
the model of the packed zip that wrote those files (same fingerprint, same transmitted
streams) and has a prior re-codes each file's tokens as format 3, decodes them back
(checked equal: lossless) and times both. Writes ``bitrate_entropy.md`` in the decode dir
(nominal and coded bit/s of the audio's duration, saving, coder time) and puts the same
table into its ``bitrate.md`` under a heading of its own (replaced on a rerun).
Systems no packed model with a prior wrote (e.g. plain-only decoding of a teacher, whose
prior codes all of its streams) are listed as such; when none matches, nothing is written.
"""

import argparse
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

HEADING = "## Entropy-coded (format 3)"


def _models(zip_path: Path):
    """[(name, model fingerprint bytes, prior)] of a packed zip's models that have a prior."""
    from espnet2_p2p.model_io import load_prior

    with zipfile.ZipFile(zip_path) as zf:
        meta = json.loads(zf.read("meta.json"))
    out = []
    for name, info in meta["models"].items():
        prior = load_prior(zip_path, name)
        if prior is not None:
            out.append((name, bytes.fromhex(info["fingerprint"]), prior))
    return out


def measure(files, prior) -> dict:
    from espnet2_p2p import bitstream

    seconds = nominal = coded = 0.0
    encode_s = decode_s = 0.0
    for path in files:
        header, codes = bitstream.read(path)
        start = time.perf_counter()
        data = bitstream.dumps(header, codes, prior)
        encode_s += time.perf_counter() - start
        start = time.perf_counter()
        _, back = bitstream.loads(data, prior)
        decode_s += time.perf_counter() - start
        if not np.array_equal(back, codes):
            raise SystemExit(f"entropy_report: {path}: the coded tokens do not decode to themselves")
        seconds += header.duration
        nominal += header.payload_bits
        coded += 8 * (len(data) - bitstream.HEADER_SIZE_V3 - bitstream.CRC_SIZE - len(header.side_info))
    return dict(files=len(files), seconds=seconds, nominal_bps=nominal / seconds, coded_bps=coded / seconds,
                encode_s=encode_s, decode_s=decode_s)  # fmt: skip


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="packed zip with priors (stage 8)")
    parser.add_argument("--decode_dir", type=Path, required=True, help="stage 5's decode dir of a test set")
    args = parser.parse_args(argv)
    from espnet2_p2p import bitstream

    models = _models(args.model)
    rows, skipped = [], []
    for system in sorted(p for p in args.decode_dir.iterdir() if (p / "bitstreams").is_dir()):
        files = sorted((system / "bitstreams").glob("*.p2p"))
        if not files:
            continue
        header = bitstream.read_header(files[0])
        match = [(n, p) for n, fp, p in models if fp == header.fingerprint and p.num_streams == header.num_streams]
        if not match:
            skipped.append(system.name)
            continue
        name, prior = match[0]
        r = measure(files, prior)
        rows.append(
            f"| {system.name} ({name}) | {r['files']} | {r['seconds']:.0f} | {r['nominal_bps']:.1f} | {r['coded_bps']:.1f}"
            f" | {100 * (1 - r['coded_bps'] / r['nominal_bps']):.1f}% | {r['encode_s']:.2f} / {r['decode_s']:.2f} |"
        )
        print(f"{system.name}: {r['nominal_bps']:.1f} -> {r['coded_bps']:.1f} bit/s over {r['seconds']:.0f} s", file=sys.stderr)
    if not rows:
        print(f"entropy_report: no system of {args.decode_dir} was written by a model of {args.model} with a prior;"
              " nothing written", file=sys.stderr)  # fmt: skip
        return 0
    table = (
        "| system (packed model) | files | seconds | nominal bit/s | coded bit/s | saving | encode / decode s (coder) |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    note = (
        f"Produced by `python -m espnet2_p2p.bin.entropy_report --model {args.model} --decode_dir {args.decode_dir}`:"
        " each system's .p2p files re-coded with its model's prior (the tokens of the\ntrain set, stage 8),"
        " decoded back and checked equal. Bit/s of the audio's duration, payload only (a format-3 header"
        " has 64 bytes with its CRC).\n"
    )
    if skipped:
        note += f"Not coded (written by no model of the zip that has a prior for their streams): {', '.join(skipped)}.\n"
    (args.decode_dir / "bitrate_entropy.md").write_text(f"{HEADING}\n\n{note}\n{table}")
    bitrate = args.decode_dir / "bitrate.md"
    if bitrate.is_file():
        text = bitrate.read_text()
        text = text.split(f"\n{HEADING}")[0].rstrip("\n")
        bitrate.write_text(f"{text}\n\n{HEADING}\n\n{note}\n{table}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
