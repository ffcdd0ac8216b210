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
:func:`espnet2_p2p.model_io.load_codec` builds one model of it (weights read with
``torch.load(weights_only=True)``); the zip is written by :func:`espnet2_p2p.model_io.pack`.
"""

import argparse
from pathlib import Path

from espnet2_p2p.model_io import pack  # noqa: F401  (the zip writer, beside its readers)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
