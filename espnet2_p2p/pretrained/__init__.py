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
    'speechocean762_small': (
        'speechocean762_small.zip',
        'f221169f3d685c3f1bf567ab4ee12ffb7a1c7e6af5122228dc7a8c595b66e5a6',
        {'student': 'c8a5574a4473a7a1', 'teacher': '62a8ef2468fab1e2'},
    ),
}
DEFAULT = 'speechocean762_small'

# name -> the card's floor on the 20 real LibriTTS/VCTK clips: mean STOI and ViSQOL of the
# shipped student measured there, minus the card's margin (tests/test_pretrained.py)
QUALITY_FLOOR: Dict[str, Dict[str, float]] = {
    # measured 0.720 and 2.334 (MODEL_CARD.md); margins 0.02 and 0.15
    "speechocean762_small": {"stoi": 0.700, "visqol": 2.18},
}


def which(fingerprint: bytes) -> str:
    """'NAME (model)' of the shipped model whose files carry ``fingerprint``, or ''."""
    for name, (_, _, fingerprints) in MODELS.items():
        for model, fp in fingerprints.items():
            if bytes.fromhex(fp) == fingerprint:
                return f"{name} ({model})"
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


def default_model() -> Path:
    """The checked path of the default shipped model."""
    if DEFAULT is None:
        raise ModelLoadError("this install ships no model: pass --model or set P2P_CODEC_MODEL")
    return model_path(DEFAULT)
