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
from typing import List, Sequence, Tuple

import torch
import yaml

from espnet2_p2p.errors import P2PError
from espnet2_p2p.utils.config import load_config
from espnet2_p2p.utils.files import temp_path
from espnet2_p2p.model_io import _read_config, _read_state_dict, build_codec, build_model, packed_meta, resolve


DECODER = "codec.generator.decoder."


def extract(packed: Path, name: str, config: Path, output: Path, new: Sequence[str] = (),
            decoder_of: str = "") -> Path:  # fmt: skip
    """Model ``name`` of ``packed`` as the start of ``config``'s training, written to
    ``output``. Every tensor must fit strictly, except those under the prefixes ``new``
    (e.g. ``codec.generator.decoder``'s upsampler of another design): the packed ones
    there are dropped and the config's model starts them afresh. With ``decoder_of``,
    the decoder's tensors are those of that model of ``packed`` (e.g. a student whose
    decoder starts where the teacher's is, as its plain-only control's does)."""
    where, _, model_bytes = resolve(packed, name)
    state = _read_state_dict(model_bytes, where)
    if decoder_of:
        other, _, other_bytes = resolve(packed, decoder_of)
        decoder = {k: v for k, v in _read_state_dict(other_bytes, other).items() if k.startswith(DECODER)}
        if not decoder:
            raise P2PError(f"{other} has no {DECODER.rstrip('.')}")
        state = {k: v for k, v in state.items() if not k.startswith(DECODER)} | decoder
        where = f"{where} (its decoder from {decoder_of})"
    if not config.is_file():
        raise P2PError(f"{config} does not exist")
    target = _read_config(yaml.safe_dump(load_config(config)), str(config))  # its base configs merged
    if new:
        fresh = build_model(target, str(config)).state_dict()
        is_new = lambda key: any(key == p or key.startswith(p + ".") for p in new)  # noqa: E731
        unknown = [p for p in new if not any(is_new(k) for k in (*fresh, *state))]
        if unknown:
            raise P2PError(f"--new {unknown[0]}: no tensor of {where} or {config} lies under it")
        state = {k: v for k, v in state.items() if not is_new(k)}
        state.update({k: v for k, v in fresh.items() if is_new(k)})
    build_codec(target, state, f"{where} as the start of {config}")  # strict: refuses other layouts
    if new:  # ESPnet's --init_param: only the packed tensors; the new ones keep their initialisation
        state = {k: v for k, v in state.items() if not is_new(k)}
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
    parser.add_argument("--new", action="append", default=[], metavar="PREFIX",
                        help="with --config: tensors under this prefix (e.g. codec.generator.decoder.upsample,"
                        " when --config's decoder upsamples otherwise) start afresh; the rest must fit")  # fmt: skip
    parser.add_argument("--decoder_of", default="", metavar="NAME",
                        help="with --config: the decoder's tensors from model NAME of --packed")
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
            output = extract(args.packed, args.name, args.config, args.output, args.new, args.decoder_of)
    except P2PError as e:
        sys.exit(f"init_model: {e}")
    except yaml.YAMLError as e:
        sys.exit(f"init_model: {args.config}: {e}")
    print(f"wrote {output} ({args.name} of {args.packed})")


if __name__ == "__main__":
    main()
