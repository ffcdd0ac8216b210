#!/usr/bin/env python3
"""Put a packed model (recipe stage 8) into the package as a shipped model.

    .venv/bin/python tools/ship_model.py --packed egs2/speechocean762/codec1/exp/p2psyn_packed.zip \\
        --name speechocean762_small --floor stoi=0.700 --floor visqol=2.18
    .venv/bin/python tools/ship_model.py --packed ~/exp/speechocean762/secousti_packed.zip \\
        --name secousti_speechocean762 --floor stoi=0.60 --floor visqol=2.4   # a second codec

Copies the zip to ``espnet2_p2p/pretrained/<name>.zip`` and records its SHA-256 and the
``.p2p`` fingerprints of its models in ``espnet2_p2p/pretrained/__init__.py`` (the
``MODELS`` table), with its quality floor on the real clips (``QUALITY_FLOOR``: the card's
measured means minus a margin, which ``tests/test_pretrained.py`` holds it to; STOI and
ViSQOL always, DNSMOS and ceilings on the buzz at the model's code rate when given). The new
model replaces the shipped model of the same codec (the same models in its zip: a
P2PSynCodec's student and teacher, a SecoustiCodec) or of the same name, and the zips the
table no longer names are deleted, so the package keeps one model per codec. It becomes
``DEFAULT`` (the model used when none is named) when it replaces the default or there is
none, or with ``--default yes``. The model card beside it is written by hand from the
recipe's RESULTS.md.
"""

import argparse
import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from espnet2_p2p import pretrained  # noqa: E402
from espnet2_p2p.model_io import load_codec, packed_meta, resolve  # noqa: E402

LIMIT_MB = 25.0  # issue 27: a shipped model stays within 25 MB
TOTAL_LIMIT_MB = 40.0  # issue 41: the shipped models together within 40 MB
FLOOR_METRICS = ("stoi", "visqol")  # every model has these floors
# and may have these (issue 40): a DNSMOS floor, and ceilings on the buzz at its code rate
OPTIONAL_FLOOR_METRICS = ("dnsmos", "grid_share", "grid_line_db")


def floor_arg(text: str) -> tuple:
    metric, _, value = text.partition("=")
    if metric not in FLOOR_METRICS + OPTIONAL_FLOOR_METRICS:
        known = ", ".join(FLOOR_METRICS + OPTIONAL_FLOOR_METRICS)
        raise argparse.ArgumentTypeError(f"--floor {text}: the metric is one of {known}")
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
        help="METRIC=VALUE, one per metric of "
        + ", ".join(FLOOR_METRICS)
        + "; also, if wanted, of "
        + ", ".join(OPTIONAL_FLOOR_METRICS)
        + " (the grid_* ones are ceilings: lower is better)",
    )
    parser.add_argument("--dest", type=Path, default=pretrained.HERE, help="the package's pretrained/ folder")
    parser.add_argument(
        "--default",
        choices=["auto", "yes"],
        default="auto",
        help="make it the default model (auto: when it replaces the default or there is none)",
    )
    args = parser.parse_args(argv)
    floor = dict(args.floor)
    if len(floor) != len(args.floor) or not set(FLOOR_METRICS) <= set(floor):
        parser.error(f"--floor: give each of {', '.join(FLOOR_METRICS)} once (and any other metric at most once)")
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
    kind = codec_kind(args.packed, meta["models"])
    init = args.dest / "__init__.py"
    shipped = shipped_tables(init)
    fps = {m: v["fingerprint"] for m, v in meta["models"].items()}
    # it replaces the shipped model of its name and the one of its codec (and an entry whose
    # file is gone)
    replaced = [
        n
        for n, (file_name, _, models) in shipped.MODELS.items()
        if n == args.name or codec_kind(args.dest / file_name, models) in (kind, "")
    ]
    kept = {n: v for n, v in shipped.MODELS.items() if n not in replaced}
    total = size + sum((args.dest / file_name).stat().st_size / 1e6 for file_name, _, _ in kept.values())
    if total > TOTAL_LIMIT_MB:
        sys.exit(
            f"ship_model: with {', '.join(kept)} the shipped models would take {total:.1f} MB, more than {TOTAL_LIMIT_MB:g} MB"
        )
    default = shipped.DEFAULT
    if args.default == "yes" or default is None or default in replaced:
        if kind != "p2psyn":  # the speech-LM tools and tokenizer take the default's student
            sys.exit(f"ship_model: the default model must be a P2PSynCodec (p2psyn); {args.packed} holds {kind}")
        default = args.name
    target = args.dest / f"{args.name}.zip"
    models = {**kept, args.name: (target.name, pretrained.sha256(args.packed), fps)}
    floors = {n: f for n, f in shipped.QUALITY_FLOOR.items() if n in kept}
    floors[args.name] = floor
    order = sorted(models, key=lambda n: (n != default, n))  # the default first
    entries = "".join(
        f"    {n!r}: (\n        {models[n][0]!r},\n        {models[n][1]!r},\n        {models[n][2]!r},\n    ),\n"
        for n in order
    )
    text, n = re.subn(
        r"MODELS: Dict\[str, tuple\] = \{(?:\}|.*?\n\})\nDEFAULT = [^\n]*",
        lambda m: f"MODELS: Dict[str, tuple] = {{\n{entries}}}\nDEFAULT = {default!r}",
        init.read_text(),
        count=1,
        flags=re.S,
    )
    metrics = FLOOR_METRICS + OPTIONAL_FLOOR_METRICS
    values = "".join(
        f"    {n!r}: {{{', '.join(f'{m!r}: {floors[n][m]}' for m in metrics if m in floors[n])}}},\n" for n in order
    )
    text, k = re.subn(
        r"QUALITY_FLOOR: Dict\[str, Dict\[str, float\]\] = \{(?:\}|.*?\n\})",
        lambda m: f"QUALITY_FLOOR: Dict[str, Dict[str, float]] = {{\n{values}}}",
        text,
        count=1,
        flags=re.S,
    )
    if n != 1 or k != 1:  # checked before anything is written
        sys.exit(f"ship_model: cannot find the MODELS and QUALITY_FLOOR tables in {init}")
    if args.packed.resolve() != target.resolve():
        partial = target.with_name(target.name + ".partial")
        shutil.copy(args.packed, partial)
        os.replace(partial, target)
    init.write_text(text)
    for old in args.dest.glob("*.zip"):
        if old.name not in {file_name for file_name, _, _ in models.values()}:
            old.unlink()
            print(f"removed the model it replaces: {old}")
    print(
        f"shipped {target} ({size:.1f} MB, SHA-256 {models[args.name][1]}); models {fps}; floor {floor}; default {default}"
    )


def codec_kind(path: Path, models) -> str:
    """The codec (its config's ``codec`` choice, e.g. p2psyn or secousti; '+'-joined when
    the models differ) of the models in the packed zip ``path``; '' when the file is not
    there. Read from the configs, nothing built."""
    if not Path(path).is_file():
        return ""
    return "+".join(sorted({str(yaml.safe_load(resolve(path, model)[1]).get("codec")) for model in models}))


def shipped_tables(init: Path):
    """The MODELS, QUALITY_FLOOR and DEFAULT that ``init`` (a pretrained/__init__.py) holds now."""
    spec = importlib.util.spec_from_file_location("shipped_now", init)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main()
