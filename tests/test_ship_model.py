"""tools/ship_model.py: a packed model becomes the package's one shipped model, with its
SHA-256, fingerprints and quality floor recorded, and the model it replaces removed."""

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import ship_model  # noqa: E402

from espnet2_p2p import pretrained  # noqa: E402
from espnet2_p2p.model_io import packed_meta  # noqa: E402


def package_copy(tmp_path):
    dest = tmp_path / "pretrained"
    dest.mkdir()
    shutil.copy(pretrained.HERE / "__init__.py", dest / "__init__.py")
    (dest / "old_model.zip").write_bytes(b"the model shipped before")
    return dest


def load(dest):
    spec = importlib.util.spec_from_file_location("shipped_copy", dest / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ship_records_the_model_and_its_floor_and_replaces_the_old_one(tmp_path, packed_models, capsys):
    dest = package_copy(tmp_path)
    ship_model.main(
        [
            "--packed",
            str(packed_models),
            "--name",
            "campaign_long",
            "--dest",
            str(dest),
            "--floor",
            "stoi=0.78",
            "--floor",
            "visqol=2.9",
        ]
    )
    module = load(dest)
    assert module.DEFAULT == "campaign_long" and list(module.MODELS) == ["campaign_long"]
    file_name, digest, fingerprints = module.MODELS["campaign_long"]
    assert (dest / file_name).read_bytes() == packed_models.read_bytes()
    assert digest == pretrained.sha256(packed_models)
    assert fingerprints == {m: v["fingerprint"] for m, v in packed_meta(packed_models)["models"].items()}
    assert module.QUALITY_FLOOR == {"campaign_long": {"stoi": 0.78, "visqol": 2.9}}
    assert not (dest / "old_model.zip").exists() and sorted(p.name for p in dest.glob("*.zip")) == ["campaign_long.zip"]
    assert "removed the model it replaces" in capsys.readouterr().out
    # the rest of the module is untouched: it still checks files before reading them
    module.HERE = dest
    assert module.default_model() == dest / "campaign_long.zip"


def test_ship_refuses_without_changing_anything(tmp_path, packed_models, monkeypatch, capsys):
    dest = package_copy(tmp_path)
    before = (dest / "__init__.py").read_text()
    args = ["--packed", str(packed_models), "--name", "x", "--dest", str(dest)]
    with pytest.raises(SystemExit) as err:  # a floor for each metric is required
        ship_model.main([*args, "--floor", "stoi=0.78"])
    assert err.value.code == 2 and "give each of stoi, visqol once" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        ship_model.main([*args, "--floor", "pesq=1.0", "--floor", "visqol=2.9"])
    assert err.value.code == 2 and "the metric is one of stoi, visqol" in capsys.readouterr().err
    monkeypatch.setattr(ship_model, "LIMIT_MB", 0.001)
    with pytest.raises(SystemExit) as err:
        ship_model.main([*args, "--floor", "stoi=0.78", "--floor", "visqol=2.9"])
    assert "more than 0.001 MB" in str(err.value) and "\n" not in str(err.value)
    assert (dest / "__init__.py").read_text() == before
    assert sorted(p.name for p in dest.glob("*.zip")) == ["old_model.zip"]
