"""tools/ship_model.py: a packed model becomes a shipped model (one per codec), with its
SHA-256, fingerprints and quality floor recorded, and the model it replaces removed."""

import importlib.util
import re
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
            "--floor",
            "dnsmos=2.6",
            "--floor",
            "grid_share=0.08",
        ]
    )
    module = load(dest)
    assert module.DEFAULT == "campaign_long" and list(module.MODELS) == ["campaign_long"]
    file_name, digest, fingerprints = module.MODELS["campaign_long"]
    assert (dest / file_name).read_bytes() == packed_models.read_bytes()
    assert digest == pretrained.sha256(packed_models)
    assert fingerprints == {m: v["fingerprint"] for m, v in packed_meta(packed_models)["models"].items()}
    assert module.QUALITY_FLOOR == {"campaign_long": {"stoi": 0.78, "visqol": 2.9, "dnsmos": 2.6, "grid_share": 0.08}}
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
    with pytest.raises(SystemExit) as err:  # one value per metric
        ship_model.main([*args, "--floor", "stoi=0.78", "--floor", "visqol=2.9", "--floor", "visqol=3.0"])
    assert err.value.code == 2 and "at most once" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        ship_model.main([*args, "--floor", "pesq=1.0", "--floor", "visqol=2.9"])
    assert err.value.code == 2 and "the metric is one of stoi, visqol, dnsmos, grid_share" in capsys.readouterr().err
    monkeypatch.setattr(ship_model, "LIMIT_MB", 0.001)
    with pytest.raises(SystemExit) as err:
        ship_model.main([*args, "--floor", "stoi=0.78", "--floor", "visqol=2.9"])
    assert "more than 0.001 MB" in str(err.value) and "\n" not in str(err.value)
    assert (dest / "__init__.py").read_text() == before
    assert sorted(p.name for p in dest.glob("*.zip")) == ["old_model.zip"]


@pytest.mark.slow  # six packed models loaded strictly: make test-slow
def test_a_second_codec_is_shipped_beside_the_first(tmp_path, packed_models, monkeypatch, capsys):
    """Issue 41: a SecoustiCodec zip ships beside the P2PSynCodec one (each codec keeps one
    model, the default stays unless asked), and a new P2PSynCodec replaces only its own."""
    dest = package_copy(tmp_path)
    secousti = ROOT / "tests" / "fixtures" / "secousti_fixture.zip"

    def ship(packed, name, *more):
        floors = ["--floor", "stoi=0.5", "--floor", "visqol=2.0"]
        ship_model.main(["--packed", str(packed), "--name", name, "--dest", str(dest), *floors, *more])
        return load(dest)

    ship(packed_models, "p2p_a")
    module = ship(secousti, "sec_a")
    assert module.DEFAULT == "p2p_a" and list(module.MODELS) == ["p2p_a", "sec_a"]
    assert set(module.MODELS["sec_a"][2]) == {"secousti"} and set(module.QUALITY_FLOOR) == {"p2p_a", "sec_a"}
    assert sorted(p.name for p in dest.glob("*.zip")) == ["p2p_a.zip", "sec_a.zip"]
    module = ship(packed_models, "p2p_b")  # replaces the default P2PSynCodec and becomes the default
    assert module.DEFAULT == "p2p_b" and list(module.MODELS) == ["p2p_b", "sec_a"]
    assert sorted(p.name for p in dest.glob("*.zip")) == ["p2p_b.zip", "sec_a.zip"]
    module = ship(secousti, "sec_b")  # replaces the other SecoustiCodec
    assert module.DEFAULT == "p2p_b" and list(module.MODELS) == ["p2p_b", "sec_b"]
    assert module.QUALITY_FLOOR == {"p2p_b": {"stoi": 0.5, "visqol": 2.0}, "sec_b": {"stoi": 0.5, "visqol": 2.0}}
    module.HERE = dest
    assert module.model_path("sec_b") == dest / "sec_b.zip" and module.default_model() == dest / "p2p_b.zip"
    before = (dest / "__init__.py").read_text()
    # the default stays a P2PSynCodec (the tokenizer and speech-LM tools take its student)
    with pytest.raises(SystemExit) as err:
        ship(secousti, "sec_c", "--default", "yes")
    assert "the default model must be a P2PSynCodec (p2psyn)" in str(err.value) and "holds secousti" in str(err.value)
    assert (dest / "__init__.py").read_text() == before
    # over the limit of both together: refused, nothing changed
    monkeypatch.setattr(ship_model, "TOTAL_LIMIT_MB", 0.5)
    with pytest.raises(SystemExit) as err:
        ship(packed_models, "p2p_c")
    assert "with sec_b the shipped models would take" in str(err.value) and "more than 0.5 MB" in str(err.value)
    assert (dest / "__init__.py").read_text() == before
    assert sorted(p.name for p in dest.glob("*.zip")) == ["p2p_b.zip", "sec_b.zip"]


def test_shipping_into_a_package_without_models(tmp_path, packed_models):
    """From the "ships no model" tables (empty, DEFAULT None) the shipped model becomes the
    default; shipping the shipped file itself again changes nothing but the floor."""
    dest = package_copy(tmp_path)
    init = dest / "__init__.py"
    text = re.sub(
        r"MODELS: Dict\[str, tuple\] = \{.*?\n\}\nDEFAULT = [^\n]*",
        "MODELS: Dict[str, tuple] = {}\nDEFAULT = None",
        init.read_text(),
        flags=re.S,
    )
    text = re.sub(
        r"QUALITY_FLOOR: Dict\[str, Dict\[str, float\]\] = \{.*?\n\}",
        "QUALITY_FLOOR: Dict[str, Dict[str, float]] = {}",
        text,
        flags=re.S,
    )
    init.write_text(text)
    assert load(dest).MODELS == {} and load(dest).DEFAULT is None
    args = ["--name", "only", "--dest", str(dest), "--floor", "stoi=0.5"]
    ship_model.main(["--packed", str(packed_models), *args, "--floor", "visqol=2.0"])
    module = load(dest)
    assert module.DEFAULT == "only" and list(module.MODELS) == ["only"]
    ship_model.main(["--packed", str(dest / "only.zip"), *args, "--floor", "visqol=2.5"])
    module = load(dest)
    assert module.QUALITY_FLOOR == {"only": {"stoi": 0.5, "visqol": 2.5}}
    assert (dest / "only.zip").read_bytes() == packed_models.read_bytes() and not list(dest.glob("*.partial"))
