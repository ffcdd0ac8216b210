#!/usr/bin/env python3
"""Put a packed model (recipe stage 8) into the package as its shipped default.

    .venv/bin/python tools/ship_model.py --packed egs2/speechocean762/codec1/exp/p2psyn_packed.zip \\
        --name speechocean762_small --floor stoi=0.700 --floor visqol=2.18

Copies the zip to ``espnet2_p2p/pretrained/<name>.zip`` and records its SHA-256 and the
``.p2p`` fingerprints of its models in ``espnet2_p2p/pretrained/__init__.py`` (the
``MODELS`` table and ``DEFAULT``), with its quality floor on the real clips
(``QUALITY_FLOOR``: the card's measured means minus a margin, which
``tests/test_pretrained.py`` holds it to). The new model replaces the shipped one: the
zips the table no longer names are deleted, so the repository keeps one model. The model
card beside it is written by hand from the recipe's RESULTS.md.
"""

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from espnet2_p2p import pretrained  # noqa: E402
from espnet2_p2p.model_io import load_codec, packed_meta  # noqa: E402

LIMIT_MB = 25.0  # issue 27: the shipped model stays within 25 MB
FLOOR_METRICS = ("stoi", "visqol")


def floor_arg(text: str) -> tuple:
    metric, _, value = text.partition("=")
    if metric not in FLOOR_METRICS:
        raise argparse.ArgumentTypeError(f"--floor {text}: the metric is one of {', '.join(FLOOR_METRICS)}")
    try:
        return metric, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--floor {text}: METRIC=NUMBER") from None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packed", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument(
        "--floor",
        type=floor_arg,
        action="append",
        required=True,
        help="METRIC=VALUE, one per metric of " + ", ".join(FLOOR_METRICS),
    )
    parser.add_argument("--dest", type=Path, default=pretrained.HERE, help="the package's pretrained/ folder")
    args = parser.parse_args(argv)
    floor = dict(args.floor)
    if sorted(floor) != sorted(FLOOR_METRICS):
        parser.error(f"--floor: give each of {', '.join(FLOOR_METRICS)} once")
    if not re.fullmatch(r"[a-z0-9_]+", args.name):
        parser.error(f"--name {args.name}: lower-case letters, digits and _ only")
    if not args.packed.is_file():
        sys.exit(f"ship_model: {args.packed} does not exist")
    size = args.packed.stat().st_size / 1e6
    if size > LIMIT_MB:
        sys.exit(f"ship_model: {args.packed} is {size:.1f} MB, more than {LIMIT_MB:g} MB")
    meta = packed_meta(args.packed)
    for model in meta["models"]:
        load_codec(args.packed, model)  # loads strictly, weights only
    init = args.dest / "__init__.py"
    text = init.read_text()
    target = args.dest / f"{args.name}.zip"
    shutil.copy(args.packed, target)
    digest = pretrained.sha256(target)
    fps = {m: v["fingerprint"] for m, v in meta["models"].items()}
    table = f"MODELS: Dict[str, tuple] = {{\n    {args.name!r}: (\n        {target.name!r},\n        {digest!r},\n        {fps!r},\n    ),\n}}\nDEFAULT = {args.name!r}"
    text, n = re.subn(
        r"MODELS: Dict\[str, tuple\] = \{.*?\}\nDEFAULT = [^\n]*", lambda m: table, text, count=1, flags=re.S
    )
    values = ", ".join(f"{m!r}: {floor[m]}" for m in FLOOR_METRICS)
    floors = f"QUALITY_FLOOR: Dict[str, Dict[str, float]] = {{\n    {args.name!r}: {{{values}}},\n}}"
    text, k = re.subn(
        r"QUALITY_FLOOR: Dict\[str, Dict\[str, float\]\] = \{.*?\n\}", lambda m: floors, text, count=1, flags=re.S
    )
    if n != 1 or k != 1:
        target.unlink()
        sys.exit(f"ship_model: cannot find the MODELS and QUALITY_FLOOR tables in {init}")
    init.write_text(text)
    for old in args.dest.glob("*.zip"):
        if old != target:
            old.unlink()
            print(f"removed the model it replaces: {old}")
    print(f"shipped {target} ({size:.1f} MB, SHA-256 {digest}); models {fps}; floor {floor}")


if __name__ == "__main__":
    main()
