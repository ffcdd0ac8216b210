"""Loading trained codecs safely, from whatever a user points at.

:func:`load_codec` accepts

- a packed zip (``espnet2_p2p.bin.pack``): ``<name>/config.yaml``, ``<name>/model.pth``
  and ``meta.json``; ``name`` picks the model (default: ``student`` if the zip has one,
  else its only model);
- an experiment dir of ESPnet's trainer: ``config.yaml`` and one ``*.best.pth`` (or a
  ``model.pth``);
- a model file (``.pth``) with ``config.yaml`` next to it.

The model is built from its config as ESPnet's ``GANCodecTask.build_model`` builds it
(the codec class of ``codec``, wrapped in ``ESPnetGANCodecModel``, so the weights keep
their ``codec.*`` names), without importing ESPnet's task and trainer modules, which take
most of a coding command's start-up; its weights are read with ``torch.load(weights_only=True)``: a checkpoint can hold
tensors only, no pickled code. Anything that is not such a model raises
:class:`~espnet2_p2p.errors.ModelLoadError` naming the path and the problem; a
checkpoint of another quantizer layout names both layouts.
"""

import contextlib
import hashlib
import io
import json
import zipfile
import zlib
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import torch
import yaml

from espnet2_p2p import CODECS
from espnet2_p2p.codec.base import as_codec
from espnet2_p2p.errors import ModelLoadError, P2PError
from espnet2_p2p.utils.files import temp_path

PathLike = Union[str, Path]


def fingerprint(model: torch.nn.Module) -> bytes:
    """8 bytes identifying a codec's generator weights (SHA-256 of names, shapes, values).

    Written into every ``.p2p`` file; decoding with a model of another fingerprint is
    refused, since its tokens would mean something else.
    """
    codec = as_codec(model)
    digest = hashlib.sha256()
    for name, tensor in sorted(codec.generator.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.digest()[:8]


def _read_config(text: str, where: str) -> dict:
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ModelLoadError(f"{where} is not valid YAML: {e}") from None
    if not isinstance(config, dict) or "codec" not in config:
        raise ModelLoadError(f"{where} is not a codec config (no 'codec' entry)")
    return config


def _read_state_dict(data: bytes, where: str) -> dict:
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for non-checkpoints
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(
            f"{where} is not a PyTorch state dict that loads with weights_only=True ({first[:200]})"
        ) from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # ESPnet's checkpoint.pth (resume file)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(f"{where} does not hold a state dict of tensors")
    return state


def codec_class(name, where: str) -> type:
    """The class of a config's ``codec`` (this package's codecs: ``CODECS``)."""
    import importlib

    if not isinstance(name, str) or name not in CODECS:
        raise ModelLoadError(f"{where}: unknown codec {name!r} (known: {', '.join(CODECS)})")
    module, cls = CODECS[name].split(":")
    return getattr(importlib.import_module(module), cls)


# what building a model from a config may map: a paper-scale student takes about 0.3 GB
MAX_BUILD_BYTES = 2 << 30


@contextlib.contextmanager
def address_space_budget(extra: int):
    """Within the block, the process may map at most ``extra`` bytes more than it has
    (Linux ``RLIMIT_AS``; elsewhere no limit): an allocation past it fails at once, so a
    config that asks for gigabytes of weights is refused before it takes them."""
    try:
        import resource

        status = Path("/proc/self/status").read_text()
        mapped = int(status.split("VmSize:")[1].split()[0]) * 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, IndexError, ValueError):
        yield
        return
    limit = mapped + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def build_model(config: dict, where: str) -> torch.nn.Module:
    """``ESPnetGANCodecModel(codec=CLASS(**codec_conf), **model_conf)`` of a config, with
    random weights: what ESPnet's ``GANCodecTask.build_model`` returns for it. Built within
    :data:`MAX_BUILD_BYTES` of address space: a config asking for more is refused."""
    from espnet2.gan_codec.espnet_model import ESPnetGANCodecModel

    cls = codec_class(config.get("codec"), where)
    codec_conf, model_conf = config.get("codec_conf") or {}, config.get("model_conf") or {}
    if not isinstance(codec_conf, dict) or not isinstance(model_conf, dict):
        raise ModelLoadError(f"{where}: codec_conf and model_conf must be mappings")
    try:
        with address_space_budget(MAX_BUILD_BYTES):
            model = ESPnetGANCodecModel(codec=cls(**codec_conf), **model_conf)
        model.codec.layout  # a config of no usable layout (a rate or hop of 0) stops here
        return model
    except MemoryError:
        raise ModelLoadError(f"{where}: its config asks for a model larger than {MAX_BUILD_BYTES >> 30} GB") from None
    except Exception as e:
        if "allocate" in str(e):  # torch's allocator: "DefaultCPUAllocator: can't allocate memory"
            raise ModelLoadError(
                f"{where}: its config asks for a model larger than {MAX_BUILD_BYTES >> 30} GB"
            ) from None
        raise ModelLoadError(f"{where}: cannot build the model of its config: {e}") from None


def build_codec(config: dict, state: dict, where: str, device: str = "cpu"):
    """Build an ``ESPnetGANCodecModel`` from a config dict and load ``state`` strictly."""
    model = build_model(config, where)
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise ModelLoadError(f"{where}: the weights do not fit the config: {detail[:600]}") from None
    return model.to(device).eval()


MAX_CONFIG_BYTES = 1 << 20


def max_state_bytes(config: dict, where: str) -> int:
    """The most bytes a saved state dict of ``config``'s model can take: its tensors plus
    room for names and pickling (the model is built once, without weights, to count)."""
    state = build_model(config, where).state_dict()
    tensors = sum(t.numel() * t.element_size() for t in state.values())
    return int(tensors * 1.05) + 4096 * len(state) + (4 << 20)


def _bounded(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise ModelLoadError(
            f"{what} holds {size} bytes, more than a model of its config can ({limit}): refused unread"
        )


def _packed_name(zf: zipfile.ZipFile, path: Path, name: Optional[str]) -> str:
    """The model of a packed zip that ``name`` picks (default: student, or its only model)."""
    names = sorted({n.split("/")[0] for n in zf.namelist() if n.endswith("/model.pth")})
    if "meta.json" not in zf.namelist() or not names:
        raise ModelLoadError(f"{path} is a zip but not a packed codec (no meta.json and <name>/model.pth)")
    if name is None:
        name = "student" if "student" in names else (names[0] if len(names) == 1 else None)
    if name not in names:
        raise ModelLoadError(f"{path} holds models {names}; choose one" + (f" (not {name!r})" if name else ""))
    return name


def resolve(path: PathLike, name: Optional[str] = None) -> Tuple[str, bytes, bytes]:
    """(description, config text, model bytes) of what ``path`` points at.

    Nothing larger than its config's model can be is read: a config over 1 MB or a model
    file over :func:`max_state_bytes` (a zip bomb, a wrong file) is refused unread.
    """
    from espnet2_p2p import pretrained

    path = Path(pretrained.chosen_model(path))  # a shipped model's name is its file
    if not path.exists():
        raise ModelLoadError(f"{path} does not exist")
    if path.is_dir():
        config = path / "config.yaml"
        candidates = sorted(path.glob("*.best.pth")) or sorted(path.glob("model.pth"))
        if not config.is_file() or len(candidates) != 1:
            found = [p.name for p in sorted(path.glob("*.pth"))]
            raise ModelLoadError(
                f"{path} is not a model dir: it needs config.yaml and one *.best.pth or"
                f" model.pth (found config.yaml: {config.is_file()}, .pth files: {found});"
                " pass the .pth file itself to choose"
            )
        _bounded(config.stat().st_size, MAX_CONFIG_BYTES, str(config))
        text = config.read_text()
        limit = max_state_bytes(_read_config(text, str(config)), str(config))
        _bounded(candidates[0].stat().st_size, limit, str(candidates[0]))
        return str(candidates[0]), text, candidates[0].read_bytes()
    if path.suffix != ".pth" and zipfile.is_zipfile(path):  # (torch's .pth files are zips too)
        try:
            with zipfile.ZipFile(path) as zf:
                name = _packed_name(zf, path, name)
                where = f"{path}:{name}"
                _bounded(zf.getinfo(f"{name}/config.yaml").file_size, MAX_CONFIG_BYTES, f"{where}/config.yaml")
                text = zf.read(f"{name}/config.yaml").decode()
                limit = max_state_bytes(_read_config(text, f"{where} (config)"), where)
                _bounded(zf.getinfo(f"{name}/model.pth").file_size, limit, f"{where}/model.pth")
                return where, text, zf.read(f"{name}/model.pth")
        except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, zlib.error, EOFError) as e:
            raise ModelLoadError(f"{path} is a damaged packed model: {e}") from None
    config = path.parent / "config.yaml"
    if path.suffix != ".pth" or not config.is_file():
        raise ModelLoadError(
            f"{path} is not a model: expected a packed .zip, an experiment dir, or a .pth"
            " file with config.yaml next to it"
        )
    _bounded(config.stat().st_size, MAX_CONFIG_BYTES, str(config))
    text = config.read_text()
    _bounded(path.stat().st_size, max_state_bytes(_read_config(text, str(config)), str(config)), str(path))
    return str(path), text, path.read_bytes()


def load_codec(path: PathLike, name: Optional[str] = None, device: str = "cpu"):
    """Load a trained codec; returns ESPnet's ``ESPnetGANCodecModel`` in eval mode."""
    where, config_text, model_bytes = resolve(path, name)
    config = _read_config(config_text, f"{where} (config)")
    state = _read_state_dict(model_bytes, where)
    return build_codec(config, state, where, device)


def load_files(config: PathLike, model_file: PathLike, device: str = "cpu"):
    """Load a codec from a config file and a model file given separately."""
    for path in (config, model_file):
        if not Path(path).is_file():
            raise ModelLoadError(f"{path} does not exist")
    text = _read_config(Path(config).read_text(), str(config))
    return build_codec(text, _read_state_dict(Path(model_file).read_bytes(), str(model_file)), str(model_file), device)


MAX_PRIOR_BYTES = 256 << 20
PRIOR_FILE = "prior.npz"


def load_prior(path: PathLike, name: Optional[str] = None):
    """The entropy-coding prior stored with a model (:class:`espnet2_p2p.container.entropy.BigramPrior`),
    or None when it has none: ``<name>/prior.npz`` in a packed zip, ``prior.npz`` in an
    experiment dir or beside a ``.pth`` file."""
    from espnet2_p2p.container.entropy import BigramPrior

    path = Path(path)
    where, data = None, None
    if path.is_dir() or (path.suffix == ".pth" and path.is_file()):
        candidate = (path if path.is_dir() else path.parent) / PRIOR_FILE
        if candidate.is_file():
            _bounded(candidate.stat().st_size, MAX_PRIOR_BYTES, str(candidate))
            where, data = str(candidate), candidate.read_bytes()
    elif zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                member = f"{_packed_name(zf, path, name)}/{PRIOR_FILE}"
                if member in zf.namelist():
                    _bounded(zf.getinfo(member).file_size, MAX_PRIOR_BYTES, f"{path}:{member}")
                    where, data = f"{path}:{member}", zf.read(member)
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise ModelLoadError(f"{path} is a damaged packed model: {e}") from None
    if data is None:
        return None
    try:
        return BigramPrior.from_bytes(data)
    except ValueError as e:
        raise ModelLoadError(f"{where}: {e}") from None


def check_prior_fits(prior, codec, where: str) -> None:
    """Refuse a prior whose streams are not the codec's transmitted streams."""
    sizes = list(codec.stream_sizes[: codec.transmitted_streams])
    if prior is not None and list(prior.sizes) != sizes:
        raise ModelLoadError(f"{where}: its prior codes streams of sizes {prior.sizes}, the model transmits {sizes}")


def packed_meta(path: PathLike) -> dict:
    """``meta.json`` of a packed zip."""
    try:
        with zipfile.ZipFile(path) as zf:
            return json.loads(zf.read("meta.json"))
    except (OSError, zipfile.BadZipFile, KeyError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"{path} is not a packed codec: {e}") from None


def pack(output: Path, models) -> dict:
    """Write the packed zip ``output`` of ``models`` ((name, config, model file[, prior file])
    each; ``python -m espnet2_p2p.bin.pack`` describes the zip); returns its ``meta.json``.
    Written atomically; the readers of the zip are above (:func:`resolve`, :func:`packed_meta`)."""
    import dataclasses

    import espnet2_p2p
    from espnet2_p2p.container.entropy import BigramPrior

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


DECODER = "codec.generator.decoder."


def extract(packed: Path, name: str, config: Path, output: Path, new: Sequence[str] = (), decoder_of: str = "") -> Path:
    """Model ``name`` of ``packed`` as the start of ``config``'s training, written to
    ``output``. Every tensor must fit strictly, except those under the prefixes ``new``
    (e.g. ``codec.generator.decoder``'s upsampler of another design): the packed ones
    there are dropped and the config's model starts them afresh. With ``decoder_of``,
    the decoder's tensors are those of that model of ``packed`` (e.g. a student whose
    decoder starts where the teacher's is, as its plain-only control's does)."""
    from espnet2_p2p.utils.config import load_config

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
    ``student_ft`` (codec.sh's ``--tag _ft``); a SecoustiCodec is ``secousti``."""
    where, config_text, _ = resolve(packed, name)
    config = _read_config(config_text, where)
    if config["codec"] == "secousti":
        return "secousti", "valid.mel_l1_loss.best.pth"
    conf = config.get("codec_conf") or {}
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
