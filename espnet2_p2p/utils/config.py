"""Training configs written as overrides of a base config.

A config may name a ``base:`` and give only what differs from it: mappings are merged key
by key, at any depth; any other value (a number, a string, a list) replaces the base's. A
base may have a base of its own, up to :data:`MAX_DEPTH` in a chain.

What a base may be: a YAML file (``.yaml`` or ``.yml``) named by a path relative to the
config's own folder. It may lie outside that folder (a recipe's ``conf/`` names the shared
configs as ``../../../../conf/student_small.yaml``), but an absolute path (``/etc/passwd``)
is refused, as is anything that is not a regular file of at most :data:`MAX_CONFIG_BYTES`
(a folder, a FIFO, which would block forever, a device such as ``/dev/zero``) and YAML
nested more than :data:`MAX_NESTING` deep. Every config file, the first as its bases, is
read so.

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
MAX_DEPTH = 8  # base configs in a chain
MAX_CONFIG_BYTES = 1 << 20  # the largest config of the package takes 3 kB
MAX_NESTING = 64  # mappings and lists within each other (the configs nest 3 deep)
YAML_SUFFIXES = (".yaml", ".yml")


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


def nesting(value) -> int:
    """How deep mappings and lists lie within each other in ``value`` (a scalar: 0); each
    object is looked at once, so aliases that share an object cost nothing more."""
    deepest, seen, stack = 0, set(), [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, (dict, list)) or id(item) in seen:
            continue
        seen.add(id(item))
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        children = list(item.keys()) + list(item.values()) if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
    return deepest


def read_yaml(path: Path):
    """The YAML document of a config file, read as the module docstring says, else a
    :class:`P2PError` naming the file."""
    from espnet2_p2p.utils.files import read_regular_file

    try:
        text = read_regular_file(path, MAX_CONFIG_BYTES).decode("utf-8")
    except OSError as e:
        raise P2PError(f"config {path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise P2PError(f"config {path} is not text (UTF-8)") from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise P2PError(f"config {path} is not YAML: {str(e).splitlines()[0]}") from None
    except RecursionError:
        config = None
        too_deep = True
    else:
        too_deep = nesting(config) > MAX_NESTING
    if too_deep:
        raise P2PError(f"config {path} nests mappings or lists more than {MAX_NESTING} deep")
    return config


def load_config(path: Union[str, os.PathLike], _chain: Sequence[Path] = ()) -> dict:
    """The config at ``path`` with its ``base:`` chain merged (no ``base`` key left)."""
    path = Path(path).resolve()
    if path in _chain:
        raise P2PError(f"{path}: base configs form a loop: {' -> '.join(p.name for p in (*_chain, path))}")
    if len(_chain) >= MAX_DEPTH:
        raise P2PError(f"{path}: more than {MAX_DEPTH} base configs in a chain")
    config = read_yaml(path)
    if not isinstance(config, dict):
        raise P2PError(f"config {path} is not a mapping of options")
    base = config.pop(BASE_KEY, None)
    if base is None:
        return config
    if not isinstance(base, str) or not base.strip() or "\0" in base:
        raise P2PError(f"config {path}: base must be a file name, got {base!r}")
    if Path(base).is_absolute() or Path(base).suffix.lower() not in YAML_SUFFIXES:
        raise P2PError(
            f"config {path}: base {base!r} must be a .yaml file named relative to the config's folder"
            " (e.g. base: teacher_small.yaml)"
        )
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
            raw = read_yaml(Path(value))
        except P2PError:
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
