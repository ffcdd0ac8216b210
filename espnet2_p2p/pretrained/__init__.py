"""Models shipped inside the package, each checked against its recorded SHA-256.

:func:`default_model` is what ``p2p-codec`` and :meth:`P2PTokenizer.from_pretrained` use
when no model is named (after ``--model`` and ``$P2P_CODEC_MODEL``). The file is hashed
before anything of it is read: a damaged or replaced file stops with one line naming it,
and nothing is unpickled. ``MODEL_CARD.md`` beside this file describes each model.
"""

import hashlib
from pathlib import Path
from typing import Dict

from espnet2_p2p.errors import ModelLoadError

HERE = Path(__file__).resolve().parent

# name -> (file in this folder, SHA-256 of that file, {model in the zip: .p2p fingerprint})
MODELS: Dict[str, tuple] = {
    "speechocean762_long_ft": (
        "speechocean762_long_ft.zip",
        "3b9dd401bd6626b5899f4cbebb3fd099e405754b4aafe393406fbf10dedfbb68",
        {"student": "76eb6e5642bfd5ea", "teacher": "3c636e6d6d7c680a"},
    ),
    "secousti_speechocean762": (
        "secousti_speechocean762.zip",
        "0ca006cf35de1613e88b5ca22a907eb5a81cd3dcf6dd9a4c0f22bfc7400c58af",
        {"secousti": "0a63e383945fb441"},
    ),
}
DEFAULT = "speechocean762_long_ft"

# name -> the card's floor on the 20 real LibriTTS/VCTK clips: mean STOI and ViSQOL of the
# shipped student measured there, minus the card's margin (tests/test_pretrained.py)
QUALITY_FLOOR: Dict[str, Dict[str, float]] = {
    "speechocean762_long_ft": {"stoi": 0.773, "visqol": 3.1},
    "secousti_speechocean762": {"stoi": 0.645, "visqol": 2.31},
}


def which(fingerprint: bytes) -> str:
    """'NAME (model)' of the shipped model whose files carry ``fingerprint``, or ''."""
    for name, (_, _, fingerprints) in MODELS.items():
        for model, fp in fingerprints.items():
            if bytes.fromhex(fp) == fingerprint:
                return f"{name} ({model})"
    return ""


def which_file(path) -> str:
    """The name of the shipped model whose file is ``path``, or ''."""
    for name, (file_name, _, _) in MODELS.items():
        if Path(path) == HERE / file_name:
            return name
    return ""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_path(name: str) -> Path:
    """The checked path of shipped model ``name``."""
    if name not in MODELS:
        raise ModelLoadError(f"no shipped model {name!r}; shipped: {', '.join(MODELS) or 'none'}")
    file_name, expected, _ = MODELS[name]
    path = HERE / file_name
    if not path.is_file():
        raise ModelLoadError(f"the shipped model file {path} is missing: reinstall espnet2_p2p")
    got = sha256(path)
    if got != expected:
        raise ModelLoadError(
            f"the shipped model file {path} is damaged or replaced (SHA-256 {got[:16]}..., expected"
            f" {expected[:16]}...): reinstall espnet2_p2p"
        )
    return path


def chosen_model(model=None):
    """What a user asked for, as a path to load: ``model`` itself when it is given and is
    not the name of a shipped model (a packed zip, an experiment dir, a .pth), the shipped
    model of that name (checked), and with no ``model`` ``$P2P_CODEC_MODEL`` (which may
    name a shipped model too), else the default shipped model. The one place every entry
    point (``p2p-codec``, :meth:`P2PTokenizer.from_pretrained`, ``load_codec``, the coders)
    turns a choice of model into a file."""
    import os

    if model is None or model == "":
        model = os.environ.get("P2P_CODEC_MODEL") or None
    if model is None:
        return default_model()
    if isinstance(model, str) and model in MODELS and not Path(model).exists():
        return model_path(model)
    return model


def default_model() -> Path:
    """The checked path of the default shipped model."""
    if DEFAULT is None:
        raise ModelLoadError("this install ships no model: pass --model or set P2P_CODEC_MODEL")
    return model_path(DEFAULT)
