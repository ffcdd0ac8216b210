#!/usr/bin/env python3
"""Pack trained codecs into one zip that ESPnet can load again.

    python -m espnet2_p2p.bin.pack --output exp/p2psyn_packed.zip \\
        --model student:exp/student/config.yaml:exp/student/valid.ce_loss.best.pth \\
        --model teacher:exp/teacher/config.yaml:exp/teacher/valid.mel_l1_loss.best.pth

The zip holds ``<name>/config.yaml`` and ``<name>/model.pth`` per model (what
``GANCodecTask.build_model_from_file`` needs; codecs have no feature statistics) and
``meta.json`` (meta_info, bitrate, parameter count, package versions).
:func:`load_packed` unpacks one model and builds it through ESPnet.
"""

import argparse
import json
import tempfile
import zipfile
from pathlib import Path

import torch

import espnet2_p2p
from espnet2.tasks.gan_codec import GANCodecTask


def pack(output: Path, models) -> dict:
    meta = {"espnet2_p2p": espnet2_p2p.__version__, "torch": torch.__version__, "models": {}}
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, config, model_file in models:
            for path in (config, model_file):
                if not path.is_file():
                    raise SystemExit(f"pack: {path} does not exist")
            model, _ = GANCodecTask.build_model_from_file(config, model_file, "cpu")
            codec = model.codec
            meta["models"][name] = {
                "codec": type(codec).__name__,
                "meta_info": codec.meta_info(),
                "bitrate": codec.bitrate() if hasattr(codec, "bitrate") else None,
                "parameters": sum(p.numel() for p in codec.generator.parameters()),
            }
            zf.write(config, f"{name}/config.yaml")
            zf.write(model_file, f"{name}/model.pth")
        zf.writestr("meta.json", json.dumps(meta, indent=2))
    tmp.replace(output)
    return meta


def load_packed(zip_path: Path, name: str, device: str = "cpu", extract_dir=None):
    """Build model ``name`` of a packed zip through ESPnet; returns (model, train_args)."""
    with zipfile.ZipFile(zip_path) as zf:
        names = {n.split("/")[0] for n in zf.namelist() if "/" in n}
        if name not in names:
            raise ValueError(f"{zip_path} holds models {sorted(names)}, not {name!r}")
        target = Path(extract_dir or tempfile.mkdtemp(prefix="p2p_packed_"))
        zf.extract(f"{name}/config.yaml", target)
        zf.extract(f"{name}/model.pth", target)
    return GANCodecTask.build_model_from_file(
        target / name / "config.yaml", target / name / "model.pth", device
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--model", action="append", required=True, help="NAME:CONFIG:MODEL_FILE")
    args = parser.parse_args(argv)
    models = []
    for spec in args.model:
        parts = spec.split(":")
        if len(parts) != 3:
            raise SystemExit(f"pack: --model wants NAME:CONFIG:MODEL_FILE, got {spec!r}")
        models.append((parts[0], Path(parts[1]), Path(parts[2])))
    meta = pack(args.output, models)
    size = args.output.stat().st_size / 1e6
    print(f"wrote {args.output} ({size:.1f} MB): {', '.join(meta['models'])}")


if __name__ == "__main__":
    main()
