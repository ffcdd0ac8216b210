#!/usr/bin/env python3
"""Take the weights of one model of a packed zip to start a training stage from.

    python -m espnet2_p2p.bin.init_model --packed espnet2_p2p/pretrained/X.zip \\
        --name teacher --config conf/teacher_small.yaml --output exp/init/teacher.pth

The recipe's ``--init_model`` runs this before its teacher and student stages and hands
the written ``.pth`` to ESPnet's ``--init_param``. The packed weights are first loaded,
strictly, into the model that ``--config`` builds: a model of another layout (another N,
other codebook sizes) or another architecture is refused here with one line that names
both layouts, before any training starts. A shipped model's SHA-256 is checked by
:func:`espnet2_p2p.model_io.resolve` like any packed zip's contents are read: weights only.
"""

import argparse
import sys
from pathlib import Path

import torch
import yaml

from espnet2_p2p.utils.files import temp_path
from espnet2_p2p.errors import P2PError
import yaml

from espnet2_p2p.utils.config import load_config
from espnet2_p2p.model_io import _read_config, _read_state_dict, build_codec, resolve


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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packed", type=Path, required=True, help="a packed zip (stage 8, or a shipped model)")
    parser.add_argument("--name", required=True, help="teacher or student")
    parser.add_argument("--config", type=Path, required=True, help="the config of the stage to start")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        extract(args.packed, args.name, args.config, args.output)
    except P2PError as e:
        sys.exit(f"init_model: {e}")
    except yaml.YAMLError as e:
        sys.exit(f"init_model: {args.config}: {e}")
    print(f"wrote {args.output} ({args.name} of {args.packed})")


if __name__ == "__main__":
    main()
