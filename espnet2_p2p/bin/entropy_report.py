#!/usr/bin/env python3
"""What entropy coding saves on decoded test sets, measured by coding them.

    python -m espnet2_p2p.bin.entropy_report --model exp/p2psyn_packed.zip \\
        --decode_dir exp/decode_test

For every system folder of ``--decode_dir`` (stage 5's ``<system>/bitstreams/*.p2p``),
the model of the packed zip that wrote those files (it reads them; the same transmitted
streams) and has a prior re-codes each file's tokens entropy-coded in the compact
container (format 4), decodes them back (checked equal: lossless) and times both. Writes
``bitrate_entropy.md`` in the decode dir (nominal, coded-payload and whole-file bit/s of
the audio's duration, saving, coder time) and puts the same table into its ``bitrate.md``
under a heading of its own (replaced on a rerun). Systems no packed model with a prior
wrote (e.g. plain-only decoding of a teacher, whose prior codes all of its streams) are
listed as such; when none matches, nothing is written.
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet2_p2p.container.entropy_report import HEADING, _models, _writer, measure


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="packed zip with priors (stage 8)")
    parser.add_argument("--decode_dir", type=Path, required=True, help="stage 5's decode dir of a test set")
    args = parser.parse_args(argv)
    models = _models(args.model)
    rows, skipped = [], []
    for system in sorted(p for p in args.decode_dir.iterdir() if (p / "bitstreams").is_dir()):
        files = sorted((system / "bitstreams").glob("*.p2p"))
        if not files:
            continue
        match = _writer(files[0], models)
        if match is None:
            skipped.append(system.name)
            continue
        name, spec, prior = match
        r = measure(files, spec, prior)
        rows.append(
            f"| {system.name} ({name}) | {r['files']} | {r['seconds']:.0f} | {r['payload_bps']:.1f} | {r['coded_bps']:.1f}"
            f" | {r['file_bps']:.1f} | {100 * r['saving']:.1f}%"
            f" | {r['encode_s']:.2f} / {r['decode_s']:.2f} |"
        )
        print(
            f"{system.name}: {r['payload_bps']:.1f} -> {r['coded_bps']:.1f} bit/s over {r['seconds']:.0f} s",
            file=sys.stderr,
        )
    if not rows:
        print(
            f"entropy_report: no system of {args.decode_dir} was written by a model of {args.model} with a prior;"
            " nothing written",
            file=sys.stderr,
        )
        return 0
    table = (
        "| system (packed model) | files | seconds | nominal bit/s | coded payload bit/s | whole file bit/s | saving"
        " | encode / decode s (coder) |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    note = (
        f"Produced by `python -m espnet2_p2p.bin.entropy_report --model {args.model} --decode_dir {args.decode_dir}`:"
        " each system's .p2p files re-coded with its model's prior (the tokens of the\ntrain set, stage 8),"
        " decoded back and checked equal. Bit/s of the audio's duration: the entropy-coded payload, and the"
        " whole file (payload + the format-4 container, 11-13 bytes).\n"
    )
    if skipped:
        note += (
            f"Not coded (written by no model of the zip that has a prior for their streams): {', '.join(skipped)}.\n"
        )
    (args.decode_dir / "bitrate_entropy.md").write_text(f"{HEADING}\n\n{note}\n{table}")
    bitrate = args.decode_dir / "bitrate.md"
    if bitrate.is_file():
        text = bitrate.read_text()
        text = text.split("\n## Entropy-coded")[0].rstrip("\n")  # this section, of any format
        bitrate.write_text(f"{text}\n\n{HEADING}\n\n{note}\n{table}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
