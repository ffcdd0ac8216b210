"""Training configs written as overrides of a base config.

A config may name a ``base:`` (a path relative to the config's own folder) and give only
what differs from it: mappings are merged key by key, at any depth; any other value
(a number, a string, a list) replaces the base's. A base may have a base of its own.

    # conf/student_small.yaml
    base: teacher_small.yaml        # the codec block is the teacher's, not a copy of it
    codec_conf:
        quantizer_mode: student
        ...
    max_epoch: 10

ESPnet's ``--config`` reads one plain YAML file, so ``espnet2_p2p.bin.gan_codec_train``
hands it the merged config (:func:`resolved_argv`); the experiment's ``config.yaml``
that ESPnet writes is complete, as before. Tools that read configs (``init_model``,
``count_params``, the benchmarks, the tests) read them through :func:`load_config`.
"""

import atexit
import os
import tempfile
from pathlib import Path
from typing import List, Sequence, Union

import yaml

from espnet2_p2p.errors import P2PError

BASE_KEY = "base"
MAX_DEPTH = 8


def config_dir() -> Path:
    """The training configs: ``conf/`` of a checkout, or the copy that an installed wheel
    holds as ``espnet2_p2p/conf`` (``make wheel``)."""
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "conf", package.parent / "conf"):
        if (folder / "teacher.yaml").is_file():
            return folder
    raise P2PError(f"no training configs beside {package} (neither {package / 'conf'} nor {package.parent / 'conf'})")


def merge(base: dict, override: dict) -> dict:
    """``override`` on ``base``: mappings merged recursively, other values replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(path: Union[str, os.PathLike], _chain: Sequence[Path] = ()) -> dict:
    """The config at ``path`` with its ``base:`` chain merged (no ``base`` key left)."""
    path = Path(path).resolve()
    if path in _chain:
        raise P2PError(f"{path}: base configs form a loop: {' -> '.join(p.name for p in (*_chain, path))}")
    if len(_chain) >= MAX_DEPTH:
        raise P2PError(f"{path}: more than {MAX_DEPTH} base configs in a chain")
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as e:
        raise P2PError(f"config {path}: cannot read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise P2PError(f"config {path} is not YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(config, dict):
        raise P2PError(f"config {path} is not a mapping of options")
    base = config.pop(BASE_KEY, None)
    if base is None:
        return config
    if not isinstance(base, str):
        raise P2PError(f"config {path}: base must be a file name, got {base!r}")
    return merge(load_config(path.parent / base, (*_chain, path)), config)


def resolved_argv(argv: Sequence[str]) -> List[str]:
    """``argv`` with a ``--config`` that has a base replaced by the merged config (a
    temporary file, removed when the process ends)."""
    argv = list(argv)
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            where, value = i + 1, argv[i + 1]
        elif arg.startswith("--config="):
            where, value = i, arg.split("=", 1)[1]
        else:
            continue
        try:
            raw = yaml.safe_load(Path(value).read_text())
        except (OSError, yaml.YAMLError):
            continue  # ESPnet reports it as it does for any config
        if not (isinstance(raw, dict) and BASE_KEY in raw):
            continue
        merged = load_config(value)
        handle, name = tempfile.mkstemp(prefix=f"{Path(value).stem}.", suffix=".resolved.yaml")
        with os.fdopen(handle, "w") as f:
            f.write(f"# {value} with its base configs merged (espnet2_p2p.utils.config)\n")
            yaml.safe_dump(merged, f, sort_keys=False)
        atexit.register(lambda n=name: Path(n).unlink(missing_ok=True))
        argv[where] = name if where == i + 1 else f"--config={name}"
    return argv


def main(argv=None) -> int:
    """``python -m espnet2_p2p.utils.config CONFIG [KEY]``: the merged config, or one
    value of it (KEY may be dotted, as ``optim_conf.lr``; empty when absent), for shell
    scripts."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("config")
    parser.add_argument("key", nargs="?")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except P2PError as e:
        print(f"config: error: {e}", file=sys.stderr)
        return 1
    if args.key is None:
        yaml.safe_dump(config, sys.stdout, sort_keys=False)
    else:
        value = config
        for part in args.key.split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        print(value if not isinstance(value, (dict, list)) else yaml.safe_dump(value).strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
