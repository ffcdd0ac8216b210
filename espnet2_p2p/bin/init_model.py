#!/usr/bin/env python3
"""Take the weights of one model of a packed zip to start a training stage from.

    python -m espnet2_p2p.bin.init_model --packed espnet2_p2p/pretrained/X.zip \\
        --name teacher --config conf/teacher_small.yaml --output exp/init/teacher.pth

The recipe's ``--init_model`` runs this before its teacher and student stages and hands
the written ``.pth`` to ESPnet's ``--init_param``.

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
from typing import List, Tuple

import torch
import yaml

from espnet2_p2p.errors import P2PError
from espnet2_p2p.utils.config import load_config
from espnet2_p2p.utils.files import temp_path
from espnet2_p2p.model_io import _read_config, _read_state_dict, build_codec, packed_meta, resolve


def extract(packed: Path, name: str, config: Path, output: Path) -> Path:
    where, _, model_bytes = resolve(packed, name)
    state = _read_state_dict(model_bytes, where)
    if not config.is_file():
        raise P2PError(f"{config} does not exist")
    target = _read_config(yaml.safe_dump(load_config(config)), str(config))  # its base configs merged
    build_codec(target, state, f"{where} as the start of {config}")  # strict: refuses other layouts
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(output)
    torch.save(state, tmp)
    tmp.replace(output)
    return output


def restore(packed: Path, name: str, experiment: Path, best: str) -> Path:
    """Write model ``name`` of ``packed`` as the finished experiment ``experiment``."""
    where, config_text, model_bytes = resolve(packed, name)
    state = _read_state_dict(model_bytes, where)
    build_codec(_read_config(config_text, where), state, where)  # the packed model loads as it is
    experiment.mkdir(parents=True, exist_ok=True)
    for target in (experiment / best, experiment / "config.yaml"):
        if target.exists():
            raise P2PError(f"{target} exists: {experiment} is not restored over")
    best_path = experiment / best
    tmp = temp_path(best_path)
    torch.save(state, tmp)
    tmp.replace(best_path)
    (experiment / "config.yaml").write_text(config_text)
    (experiment / "packed_from").write_text(f"{Path(packed).resolve()} {name}\n")
    return best_path


def experiment_of(packed: Path, name: str) -> Tuple[str, str]:
    """(experiment dir name, best-checkpoint name) of model ``name`` of ``packed`` in the
    recipes' layout: ``teacher``, ``student`` or, when its decoder was fine-tuned,
    ``student_ft`` (codec.sh's ``--tag _ft``)."""
    where, config_text, _ = resolve(packed, name)
    conf = _read_config(config_text, where).get("codec_conf") or {}
    if conf.get("quantizer_mode") != "student":
        return "teacher", "valid.mel_l1_loss.best.pth"
    if conf.get("finetune_decoder"):
        return "student_ft", "valid.mel_l1_loss.best.pth"
    return "student", "valid.ce_loss.best.pth"


def restore_all(packed: Path, expdir: Path) -> List[Path]:
    """Every model of ``packed`` restored under ``expdir`` (:func:`experiment_of`); an
    experiment that has its checkpoint already is kept as it is."""
    written = []
    for name in packed_meta(packed)["models"]:
        dirname, best = experiment_of(packed, name)
        if (expdir / dirname / best).exists():
            print(f"{expdir / dirname} has {best} already: kept")
            continue
        written.append(restore(packed, name, expdir / dirname, best))
        print(f"wrote {written[-1]} ({name} of {packed})")
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packed", type=Path, required=True, help="a packed zip (stage 8, or a shipped model)")
    parser.add_argument("--name", help="teacher or student")
    parser.add_argument("--config", type=Path, help="the config of the stage to start")
    parser.add_argument("--output", type=Path, help="the .pth for --init_param")
    parser.add_argument("--experiment", type=Path, help="instead: write the model as this finished experiment")
    parser.add_argument("--best", default="valid.mel_l1_loss.best.pth", help="with --experiment: the weights' name")
    parser.add_argument("--restore_into", type=Path, help="instead: every model of --packed as a finished "
                        "experiment of this dir (teacher/, student/ or student_ft/); existing ones are kept")  # fmt: skip
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
            output = extract(args.packed, args.name, args.config, args.output)
    except P2PError as e:
        sys.exit(f"init_model: {e}")
    except yaml.YAMLError as e:
        sys.exit(f"init_model: {args.config}: {e}")
    print(f"wrote {output} ({args.name} of {args.packed})")


if __name__ == "__main__":
    main()
