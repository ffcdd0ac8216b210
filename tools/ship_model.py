#!/usr/bin/env python3
"""Put a packed model (recipe stage 8) into the package as its shipped default.

    .venv/bin/python tools/ship_model.py --packed egs2/speechocean762/codec1/exp/p2psyn_packed.zip \\
        --name speechocean762_small

Copies the zip to ``espnet2_p2p/pretrained/<name>.zip`` and records its SHA-256 and the
``.p2p`` fingerprints of its models in ``espnet2_p2p/pretrained/__init__.py`` (the
``MODELS`` table and ``DEFAULT``). The model card beside it is written by hand from the
recipe's RESULTS.md.
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

LIMIT_MB = 20.0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packed", type=Path, required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    size = args.packed.stat().st_size / 1e6
    if size > LIMIT_MB:
        sys.exit(f"ship_model: {args.packed} is {size:.1f} MB, more than {LIMIT_MB:g} MB")
    meta = packed_meta(args.packed)
    for model in meta["models"]:
        load_codec(args.packed, model)  # loads strictly, weights only
    target = pretrained.HERE / f"{args.name}.zip"
    shutil.copy(args.packed, target)
    digest = pretrained.sha256(target)
    fps = {m: v["fingerprint"] for m, v in meta["models"].items()}
    init = pretrained.HERE / "__init__.py"
    text = init.read_text()
    table = f"MODELS: Dict[str, tuple] = {{\n    {args.name!r}: (\n        {target.name!r},\n        {digest!r},\n        {fps!r},\n    ),\n}}\nDEFAULT = {args.name!r}"
    text, n = re.subn(r"MODELS: Dict\[str, tuple\] = \{.*?\}\nDEFAULT = [^\n]*", lambda m: table, text, count=1, flags=re.S)
    if n != 1:
        sys.exit(f"ship_model: cannot find the MODELS table in {init}")
    init.write_text(text)
    print(f"shipped {target} ({size:.1f} MB, SHA-256 {digest}); models {fps}")


if __name__ == "__main__":
    main()
