"""The model shipped in the package: default resolution, the SHA-256 check, fine-tuning
starts (init_model), and the shipped model's quality floor on real speech."""

import shutil
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from espnet2_p2p import pretrained
from espnet2_p2p.bin import init_model
from espnet2_p2p.bin.p2p_codec import main
from espnet2_p2p.errors import ModelLoadError
from espnet2_p2p.speechlm.tokenizer import P2PTokenizer

sys.path.insert(0, str(Path(__file__).parent / "bin"))
from test_p2p_codec import speech  # noqa: E402


@pytest.fixture
def shipped(tmp_path, monkeypatch, packed_models):
    """The package's registry pointed at a copy of the tiny packed models."""
    folder = tmp_path / "pretrained"
    folder.mkdir()
    shutil.copy(packed_models, folder / "tiny.zip")
    monkeypatch.setattr(pretrained, "HERE", folder)
    from espnet2_p2p.model_io import packed_meta

    fps = {m: v["fingerprint"] for m, v in packed_meta(folder / "tiny.zip")["models"].items()}
    monkeypatch.setattr(pretrained, "MODELS", {"tiny": ("tiny.zip", pretrained.sha256(folder / "tiny.zip"), fps)})
    monkeypatch.setattr(pretrained, "DEFAULT", "tiny")
    monkeypatch.delenv("P2P_CODEC_MODEL", raising=False)
    return folder / "tiny.zip"


def test_no_model_named_uses_the_shipped_one(tmp_path, shipped, packed_models, capsys):
    sf.write(str(tmp_path / "x.wav"), speech(1.0), 16000)
    assert main(["encode", str(tmp_path / "x.wav"), str(tmp_path / "x.p2p")]) == 0
    assert "model: the shipped tiny" in capsys.readouterr().err
    assert main(["decode", str(tmp_path / "x.p2p"), str(tmp_path / "y.wav")]) == 0
    assert len(sf.read(str(tmp_path / "y.wav"))[0]) == 16000
    # the same file as coding with the model named explicitly: the shipped one was used
    assert main(["encode", str(tmp_path / "x.wav"), str(tmp_path / "z.p2p"), "--model", str(packed_models)]) == 0
    assert (tmp_path / "x.p2p").read_bytes() == (tmp_path / "z.p2p").read_bytes()
    tok = P2PTokenizer.from_pretrained()
    assert tok.num_streams == 4
    capsys.readouterr()
    assert main(["info", str(tmp_path / "x.p2p")]) == 0
    assert "(the shipped model tiny (student))" in capsys.readouterr().out
    from espnet2_p2p.bin.p2p_codec import build_parser

    helps = build_parser().format_help() + "".join(
        a.format_help() for a in build_parser()._subparsers._group_actions[0].choices.values()
    )
    assert "the shipped model tiny" in " ".join(helps.split())  # however argparse wraps it


def test_a_shipped_model_is_chosen_by_name_everywhere(tmp_path, shipped, packed_models, monkeypatch, capsys):
    """Issue 41: with two shipped models, each is taken by its name by p2p-codec, the
    tokenizer, load_codec and $P2P_CODEC_MODEL; a file of that name in the working folder
    is still the file."""
    from espnet2_p2p.model_io import load_codec

    second = shipped.parent / "second.zip"
    shutil.copy(packed_models, second)
    monkeypatch.setitem(pretrained.MODELS, "second", ("second.zip", pretrained.sha256(second), {}))
    sf.write(str(tmp_path / "x.wav"), speech(1.0), 16000)
    assert main(["encode", str(tmp_path / "x.wav"), str(tmp_path / "x.p2p"), "--model", "second"]) == 0
    assert "model: the shipped second" in capsys.readouterr().err
    assert main(["decode", str(tmp_path / "x.p2p"), str(tmp_path / "y.wav"), "--model", "second"]) == 0
    assert load_codec("second", "student").codec.is_student
    assert P2PTokenizer.from_pretrained("second").num_streams == 4
    monkeypatch.setenv("P2P_CODEC_MODEL", "second")
    assert pretrained.chosen_model() == second
    second.write_bytes(second.read_bytes()[:-1])  # damaged: refused by its SHA-256, by name too
    with pytest.raises(ModelLoadError, match="second.zip is damaged or replaced"):
        load_codec("second")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "second").mkdir()  # a folder of that name here is what is meant
    assert pretrained.chosen_model("second") == "second"


def test_environment_variable_overrides_the_shipped_model(tmp_path, shipped, monkeypatch, capsys):
    monkeypatch.setenv("P2P_CODEC_MODEL", str(tmp_path / "elsewhere.zip"))
    sf.write(str(tmp_path / "x.wav"), speech(0.5), 16000)
    assert main(["encode", str(tmp_path / "x.wav"), str(tmp_path / "x.p2p")]) == 1
    assert "elsewhere.zip does not exist" in capsys.readouterr().err
    with pytest.raises(ModelLoadError, match="elsewhere.zip does not exist"):
        P2PTokenizer.from_pretrained()


def test_a_damaged_shipped_file_is_refused_before_anything_is_read(tmp_path, shipped, monkeypatch, capsys):
    data = bytearray(shipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shipped.write_bytes(bytes(data))

    def no_unpickling(*args, **kwargs):
        raise AssertionError("torch.load was called on a file that failed its SHA-256")

    monkeypatch.setattr(torch, "load", no_unpickling)
    sf.write(str(tmp_path / "x.wav"), speech(0.5), 16000)
    assert main(["encode", str(tmp_path / "x.wav"), str(tmp_path / "x.p2p")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"the shipped model file {shipped} is damaged or replaced" in err[0]
    assert not (tmp_path / "x.p2p").exists()
    shipped.unlink()
    with pytest.raises(ModelLoadError, match="is missing: reinstall"):
        P2PTokenizer.from_pretrained()


def test_init_model_refuses_another_layout_naming_both(tmp_path, packed_models):
    from conftest import CONF

    def init(config, output):  # the packed teacher as CONFIG's model
        return init_model.main(
            ["--packed", str(packed_models), "--name", "teacher", "--config", str(config), "--output", str(output)]
        )

    out = tmp_path / "init.pth"
    init(CONF / "teacher_tiny.yaml", out)
    state = torch.load(out, weights_only=True)
    assert any(k.endswith("quantizer.layout") for k in state)
    other = tmp_path / "n1.yaml"
    other.write_text((CONF / "teacher_tiny.yaml").read_text().replace("num_pseudo: 3 ", "num_pseudo: 1 "))
    with pytest.raises(SystemExit, match=r"checkpoint has N=3 pseudo VQs.*this model has N=1 pseudo VQs"):
        init(other, tmp_path / "x.pth")
    assert not (tmp_path / "x.pth").exists()


def test_demo_codes_an_utterance_and_draws_the_spectrograms(tmp_path, shipped, capsys):
    from espnet2_p2p.bin import demo

    demo.main(["--output_dir", str(tmp_path / "demo")])  # the shipped model
    out = capsys.readouterr().out
    for name in ("reference.p2p", "decoded.wav", "spectrograms.png"):
        assert (tmp_path / "demo" / name).is_file() and name in out
    ref, _ = sf.read(str(tmp_path / "demo" / "reference.wav"))
    dec, _ = sf.read(str(tmp_path / "demo" / "decoded.wav"))
    assert len(ref) == len(dec) and "STOI" in out
    assert (tmp_path / "demo" / "spectrograms.png").read_bytes()[:4] == b"\x89PNG"


from conftest import REAL_SPEECH  # noqa: E402


@pytest.mark.parametrize("name", sorted(pretrained.MODELS))
def test_every_shipped_model_is_intact_and_has_a_card_and_a_floor(name):
    """Each model in the package: its file's SHA-256 is the recorded one, the model card
    describes it and its quality floor is set; its .p2p fingerprints are its files'."""
    from espnet2_p2p.model_io import packed_meta

    path = pretrained.model_path(name)  # raises on a missing or changed file
    assert name in (pretrained.HERE / "MODEL_CARD.md").read_text()
    assert set(pretrained.QUALITY_FLOOR[name]) >= {"stoi", "visqol"}
    fps = {m: v["fingerprint"] for m, v in packed_meta(path)["models"].items()}
    assert {m: fp for m, fp in fps.items() if m in pretrained.MODELS[name][2]} == pretrained.MODELS[name][2]


@pytest.mark.skipif(not REAL_SPEECH.is_dir(), reason="../shared/data/real_speech is not present")
@pytest.mark.parametrize("name", sorted(pretrained.QUALITY_FLOOR))
def test_each_shipped_model_keeps_its_quality_floor_on_real_speech(tmp_path, name):
    """Each shipped model, chosen by name, codes the 20 real clips (16 and 48 kHz) through
    .p2p files at the quality its model card states, within the card's margin."""
    from espnet2_p2p.evaluation.metrics import GRID_METRICS, LOWER_IS_BETTER, METRICS, resample
    from espnet2_p2p.model_io import load_codec

    floor = pretrained.QUALITY_FLOOR[name]
    metric = {m: METRICS[m] for m in floor}
    if set(floor) & set(GRID_METRICS):  # the buzz, on the model's own code-rate grid (any of its models')
        rate = load_codec(pretrained.model_path(name), next(iter(pretrained.MODELS[name][2]))).frame_rate
        metric.update({m: partial(METRICS[m], grid_rate=rate) for m in set(floor) & set(GRID_METRICS)})
    clips = sorted(REAL_SPEECH.rglob("*.wav"))
    assert len(clips) == 20
    model = ["--model", name, "--quiet"]
    assert main(["encode", str(REAL_SPEECH), str(tmp_path / "p2p"), *model]) == 0
    assert main(["decode", str(tmp_path / "p2p"), str(tmp_path / "dec"), *model, "--subtype", "FLOAT"]) == 0
    scores = {m: [] for m in floor}
    for clip in clips:
        ref, fs = sf.read(str(clip), dtype="float32")
        name = clip.relative_to(REAL_SPEECH).with_suffix(".wav")
        hyp, fs_hyp = sf.read(str(tmp_path / "dec" / name), dtype="float32")
        ref = resample(ref, fs, 16000)
        assert fs_hyp == 16000 and abs(len(hyp) - len(ref)) <= 1
        n = min(len(ref), len(hyp))
        for m in scores:
            scores[m].append(metric[m](ref[:n], hyp[:n], 16000))
    means = {m: float(np.mean(v)) for m, v in scores.items()}
    for m, v in floor.items():
        if m in LOWER_IS_BETTER:  # a ceiling (the buzz)
            assert means[m] <= v, f"mean {m} {means[m]:.3f} rose above the card's ceiling {v:.3f}"
        else:
            assert means[m] >= v, f"mean {m} {means[m]:.3f} fell below the card's floor {v:.3f}"


def test_restore_writes_a_finished_experiment_the_recipe_skips(tmp_path, packed_models):
    """init_model --experiment: a packed model back as an experiment dir (config.yaml, the
    best .pth, packed_from) that decodes as the packed model does, is never written over,
    and that the recipe's run_train skips instead of training it again."""
    import subprocess

    from espnet2_p2p.model_io import load_codec

    exp = tmp_path / "exp" / "teacher"
    init_model.main(["--packed", str(packed_models), "--name", "teacher", "--experiment", str(exp)])
    assert sorted(p.name for p in exp.iterdir()) == ["config.yaml", "packed_from", "valid.mel_l1_loss.best.pth"]
    restored, packed = load_codec(exp), load_codec(packed_models, name="teacher")
    for a, b in zip(restored.state_dict().values(), packed.state_dict().values()):
        assert torch.equal(a, b)
    before = (exp / "valid.mel_l1_loss.best.pth").read_bytes()
    with pytest.raises(SystemExit, match="exists: .* is not restored over"):
        init_model.main(["--packed", str(packed_models), "--name", "teacher", "--experiment", str(exp)])
    assert (exp / "valid.mel_l1_loss.best.pth").read_bytes() == before
    with pytest.raises(SystemExit):  # neither mode
        init_model.main(["--packed", str(packed_models), "--name", "teacher"])

    lib = Path(__file__).resolve().parents[1] / "egs2" / "TEMPLATE" / "codec1" / "lib"
    config = tmp_path / "c.yaml"
    config.write_text("codec: p2psyn\n")
    script = f'. "{lib}/local.sh"; . "{lib}/common.sh"; dumpdir={tmp_path}/no_dump; train_set=train; run_train {config} "$1" 1 && echo returned'
    done = subprocess.run(["bash", "-c", script, "-", str(exp)], capture_output=True, text=True)
    assert done.returncode == 0 and "restored from a packed model" in done.stdout and "returned" in done.stdout
    fresh = subprocess.run(["bash", "-c", script, "-", str(tmp_path / "exp" / "other")], capture_output=True, text=True)
    assert fresh.returncode != 0 and "wav.scp is missing" in fresh.stderr


def test_restore_into_lays_out_the_recipes_experiments(tmp_path, packed_models):
    """init_model --restore_into (run.sh --restore): teacher/ and student/, or student_ft/
    for a student whose decoder was fine-tuned; experiments already there are kept."""
    import zipfile

    import yaml

    exp = tmp_path / "exp"
    (exp / "teacher").mkdir(parents=True)
    (exp / "teacher" / "valid.mel_l1_loss.best.pth").write_bytes(b"a training of this machine")
    init_model.main(["--packed", str(packed_models), "--restore_into", str(exp)])
    assert (exp / "teacher" / "valid.mel_l1_loss.best.pth").read_bytes() == b"a training of this machine"
    assert (exp / "student" / "valid.ce_loss.best.pth").is_file() and (exp / "student" / "packed_from").is_file()
    assert not (exp / "student_ft").exists()

    ft = tmp_path / "ft.zip"  # the same zip with the student's decoder marked fine-tuned
    with zipfile.ZipFile(packed_models) as src, zipfile.ZipFile(ft, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "student/config.yaml":
                config = yaml.safe_load(data)
                config["codec_conf"]["finetune_decoder"] = True
                data = yaml.safe_dump(config).encode()
            dst.writestr(item, data)
    assert init_model.experiment_of(ft, "student") == ("student_ft", "valid.mel_l1_loss.best.pth")
    init_model.main(["--packed", str(ft), "--restore_into", str(tmp_path / "exp_ft")])
    assert sorted(p.name for p in (tmp_path / "exp_ft").iterdir()) == ["student_ft", "teacher"]


def test_restore_into_lays_out_a_secousti_model_as_its_experiment(tmp_path):
    """A packed SecoustiCodec (run.sh --codec secousti --restore) comes back as secousti/,
    the experiment stages 5-8 decode and pack, with the weights it was packed with."""
    from espnet2_p2p.model_io import load_codec

    packed = Path(__file__).parent / "fixtures" / "secousti_fixture.zip"
    assert init_model.experiment_of(packed, "secousti") == ("secousti", "valid.mel_l1_loss.best.pth")
    exp = tmp_path / "exp"
    init_model.main(["--packed", str(packed), "--restore_into", str(exp)])
    written = sorted(p.name for p in (exp / "secousti").iterdir())
    assert written == ["config.yaml", "packed_from", "valid.mel_l1_loss.best.pth"]
    restored, original = load_codec(exp / "secousti"), load_codec(packed, name="secousti")
    for a, b in zip(restored.state_dict().values(), original.state_dict().values()):
        assert torch.equal(a, b)
