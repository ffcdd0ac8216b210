#!/usr/bin/env python3
"""Pack trained codecs into one zip that ESPnet can load again.

    python -m espnet2_p2p.bin.pack --output exp/p2psyn_packed.zip \\
        --model student:exp/student/config.yaml:exp/student/valid.ce_loss.best.pth \\
        --model teacher:exp/teacher/config.yaml:exp/teacher/valid.mel_l1_loss.best.pth:exp/prior_teacher.npz

The zip holds ``<name>/config.yaml`` and ``<name>/model.pth`` per model (what
``GANCodecTask.build_model_from_file`` needs; codecs have no feature statistics),
``<name>/prior.npz`` when a fourth field gives the model's entropy-coding prior
(:mod:`espnet2_p2p.bin.fit_prior`; ``p2p-codec encode`` then writes format 3), and
``meta.json`` (meta_info, bitrate, parameter count, the model fingerprint that
``.p2p`` files carry, the prior's fingerprint, the layout, package versions).
:func:`load_packed` builds one model of it (through ESPnet's ``GANCodecTask.build_model``,
weights read with ``torch.load(weights_only=True)``; see :mod:`espnet2_p2p.model_io`).
"""

import argparse
import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Optional

import torch

import espnet2_p2p
from espnet2_p2p.utils.files import temp_path
from espnet2_p2p.container.entropy import BigramPrior
from espnet2_p2p.errors import ModelLoadError
from espnet2_p2p.model_io import PRIOR_FILE, check_prior_fits, fingerprint, load_codec, load_files


def pack(output: Path, models) -> dict:
    meta = {"espnet2_p2p": espnet2_p2p.__version__, "torch": torch.__version__, "models": {}}
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(output)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, config, model_file, *rest in models:
            prior_file = rest[0] if rest else None
            for path in (config, model_file) + ((prior_file,) if prior_file else ()):
                if not path.is_file():
                    raise SystemExit(f"pack: {path} does not exist")
            model = load_files(config, model_file)
            codec = model.codec
            prior = None
            if prior_file:
                try:
                    prior = BigramPrior.from_bytes(prior_file.read_bytes())
                    check_prior_fits(prior, codec, str(prior_file))
                except (ValueError, ModelLoadError) as e:
                    raise SystemExit(f"pack: {prior_file}: {e}") from None
            meta["models"][name] = {
                "codec": type(codec).__name__,
                "meta_info": codec.meta_info(),
                "bitrate": codec.bitrate(),
                "parameters": codec.generator_parameters,
                "fingerprint": fingerprint(model).hex(),
                "prior_fingerprint": prior.fingerprint().hex() if prior else None,
                # what a format-4 .p2p file leaves out: `p2p-codec info` reads it without torch
                "layout": dataclasses.asdict(codec.layout),
            }
            zf.write(config, f"{name}/config.yaml")
            zf.write(model_file, f"{name}/model.pth")
            if prior_file:
                zf.write(prior_file, f"{name}/{PRIOR_FILE}")
        zf.writestr("meta.json", json.dumps(meta, indent=2))
    tmp.replace(output)
    return meta


def load_packed(zip_path: Path, name: Optional[str] = None, device: str = "cpu"):
    """Build model ``name`` of a packed zip; returns ``ESPnetGANCodecModel`` (eval mode)."""
    return load_codec(zip_path, name, device)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--model", action="append", required=True, help="NAME:CONFIG:MODEL_FILE[:PRIOR]")
    args = parser.parse_args(argv)
    models = []
    for spec in args.model:
        parts = spec.split(":")
        if len(parts) not in (3, 4) or not all(parts):
            raise SystemExit(f"pack: --model wants NAME:CONFIG:MODEL_FILE[:PRIOR], got {spec!r}")
        models.append((parts[0], Path(parts[1]), Path(parts[2]), Path(parts[3]) if len(parts) == 4 else None))
    meta = pack(args.output, models)
    size = args.output.stat().st_size / 1e6
    print(f"wrote {args.output} ({size:.1f} MB): {', '.join(meta['models'])}")


if __name__ == "__main__":
    main()
