#!/usr/bin/env python3
"""Take the weights of one model of a packed zip to start a training stage from.

    python -m espnet2_p2p.bin.init_model --packed espnet2_p2p/pretrained/X.zip \\
        --name teacher --config conf/teacher_small.yaml --output exp/init/teacher.pth

The recipe's ``--init_model`` runs this before its teacher and student stages and hands
the written ``.pth`` to ESPnet's ``--init_param``. ``--new PREFIX`` (repeatable) lets the
config differ below PREFIX: for a decoder of another upsampling design (issue 40,
``decoder_upsample: linear``), ``--new codec.generator.decoder.upsample --new
codec.generator.decoder.project`` starts those layers afresh and takes every other
tensor, strictly, from the zip.

    python -m espnet2_p2p.bin.init_model --packed X.zip --name teacher \\
        --experiment ~/exp/speechocean762/teacher --best valid.mel_l1_loss.best.pth

writes the model back as a finished training instead: its ``config.yaml``, its weights
under ``--best`` and a ``packed_from`` file, so that the stages after it (a student, a
fine-tuning, decoding) run on a machine that has the packed zip but not the experiment;
``run_train`` skips an experiment with ``packed_from``. ``--restore_into EXPDIR`` (the
recipe's ``--restore``) does so for every model of the zip, in the recipes' layout:
``teacher/``, and ``student/`` or, for a student whose decoder was fine-tuned, ``student_ft/``. The packed weights are first loaded,
strictly, into the model that ``--config`` builds: a model of another layout (another N,
other codebook sizes) or another architecture is refused here with one line that names
both layouts, before any training starts. A shipped model's SHA-256 is checked by
:func:`espnet2_p2p.model_io.resolve` like any packed zip's contents are read: weights only.
"""

import argparse
import sys
from pathlib import Path

import yaml

from espnet2_p2p.errors import P2PError
from espnet2_p2p.model_io import experiment_of, extract, restore, restore_all  # noqa: F401


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packed", type=Path, required=True, help="a packed zip (stage 8, or a shipped model)")
    parser.add_argument("--name", help="teacher or student")
    parser.add_argument("--config", type=Path, help="the config of the stage to start")
    parser.add_argument("--output", type=Path, help="the .pth for --init_param")
    parser.add_argument(
        "--new",
        action="append",
        default=[],
        metavar="PREFIX",
        help="with --config: tensors under this prefix (e.g. codec.generator.decoder.upsample,"
        " when --config's decoder upsamples otherwise) start afresh; the rest must fit",
    )
    parser.add_argument(
        "--decoder_of",
        default="",
        metavar="NAME",
        help="with --config: the decoder's tensors from model NAME of --packed",
    )
    parser.add_argument("--experiment", type=Path, help="instead: write the model as this finished experiment")
    parser.add_argument("--best", default="valid.mel_l1_loss.best.pth", help="with --experiment: the weights' name")
    parser.add_argument(
        "--restore_into",
        type=Path,
        help="instead: every model of --packed as a finished "
        "experiment of this dir (teacher/, student/ or student_ft/); existing ones are kept",
    )
    args = parser.parse_args(argv)
    if args.restore_into is not None:
        try:
            restore_all(args.packed, args.restore_into)
        except P2PError as e:
            sys.exit(f"init_model: {e}")
        return
    if args.name is None:
        parser.error("--name is needed (or --restore_into)")
    if (args.experiment is None) == (args.config is None or args.output is None):
        parser.error("give --config and --output, or --experiment")
    try:
        if args.experiment is not None:
            output = restore(args.packed, args.name, args.experiment, args.best)
        else:
            output = extract(args.packed, args.name, args.config, args.output, args.new, args.decoder_of)
    except P2PError as e:
        sys.exit(f"init_model: {e}")
    except yaml.YAMLError as e:
        sys.exit(f"init_model: {args.config}: {e}")
    print(f"wrote {output} ({args.name} of {args.packed})")


if __name__ == "__main__":
    main()
