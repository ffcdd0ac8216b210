"""p2p-codec with a model that has an entropy-coding prior: format 3 by default, the audio
of the fixed-width path bit for bit, for a student, a teacher and SecoustiCodec; info;
--no-entropy; a file decoded with another model's prior is refused."""

import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import gliding_speech as speech
from conftest import read_p2p
from espnet2_p2p.bin.fit_prior import main as fit_prior_main
from espnet2_p2p.bin.p2p_codec import main
from espnet2_p2p.coding.coder import open_coder
from espnet2_p2p.container.entropy import BigramPrior

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run(*argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A few training files and a wav.scp of them."""
    root = tmp_path_factory.mktemp("corpus")
    lines = []
    for i in range(4):
        sf.write(root / f"u{i}.wav", speech(3.0, seed=i), 16000)
        lines.append(f"u{i} {root / f'u{i}.wav'}")
    (root / "wav.scp").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def with_priors(tmp_path_factory, packed_models, corpus):
    """Copies of the packed tiny student/teacher and of the SecoustiCodec fixture, each model
    with a prior fitted on the corpus by fit_prior (the recipe's stage 8 does the same)."""
    root = tmp_path_factory.mktemp("priors")
    out = {}
    for zip_path, names in ((packed_models, ["student", "teacher"]), (FIXTURES / "secousti_fixture.zip", ["secousti"])):
        with zipfile.ZipFile(zip_path) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        for name in names:
            prior = root / f"{name}.npz"
            assert (
                fit_prior_main(
                    [
                        "--model",
                        str(zip_path),
                        "--model_name",
                        name,
                        "--wav_scp",
                        str(corpus / "wav.scp"),
                        "--output",
                        str(prior),
                    ]
                )
                == 0
            )
            members[f"{name}/prior.npz"] = prior.read_bytes()
        target = root / zip_path.name
        with zipfile.ZipFile(target, "w") as zf:
            for n, data in members.items():
                zf.writestr(n, data)
        for name in names:
            out[name] = (target, zip_path)
    return out


@pytest.mark.parametrize("name", ["student", "teacher", "secousti"])
def test_format_3_decodes_to_the_audio_of_format_2(tmp_path, with_priors, name, capsys):
    zipped, plain_zip = with_priors[name]
    sf.write(tmp_path / "in.wav", speech(4.3, seed=9), 16000)
    common = ["--model", zipped, "--model_name", name, "-q"]
    assert run("encode", tmp_path / "in.wav", tmp_path / "v3.p2p", *common) == 0
    assert run("encode", tmp_path / "in.wav", tmp_path / "v2.p2p", *common, "--no-entropy") == 0
    coder = open_coder(zipped, "torch", name)
    h3, h2 = read_p2p(tmp_path / "v3.p2p", coder).header, read_p2p(tmp_path / "v2.p2p", coder).header
    assert h3.version == h2.version == 4 and h3.entropy_coded and not h2.entropy_coded
    assert h3.side_info == h2.side_info and h3.num_streams == h2.num_streams
    # the file without a prior decodes with the plain model too; the two decodings are equal
    assert run("decode", tmp_path / "v3.p2p", tmp_path / "v3.wav", *common, "--subtype", "FLOAT") == 0
    assert (
        run(
            "decode",
            tmp_path / "v2.p2p",
            tmp_path / "v2.wav",
            "--model",
            plain_zip,
            "--model_name",
            name,
            "-q",
            "--subtype",
            "FLOAT",
        )
        == 0
    )
    a, b = sf.read(tmp_path / "v3.wav")[0], sf.read(tmp_path / "v2.wav")[0]
    assert a.shape == b.shape and np.array_equal(a, b)
    capsys.readouterr()
    assert run("info", tmp_path / "v3.p2p", "--model", zipped, "--model_name", name) == 0
    info = capsys.readouterr().out
    assert f"coded (prior {h3.prior_fingerprint.hex()})" in info and "below nominal" in info
    assert "bit/s of whole frames" in info and "format 4" in info and "whole file:" in info


def test_a_file_coded_with_one_prior_is_refused_by_another(tmp_path, with_priors, packed_models, capsys):
    zipped, plain_zip = with_priors["student"]
    sf.write(tmp_path / "in.wav", speech(2.0), 16000)
    assert run("encode", tmp_path / "in.wav", tmp_path / "a.p2p", "--model", zipped, "-q") == 0
    capsys.readouterr()
    assert run("decode", tmp_path / "a.p2p", tmp_path / "a.wav", "--model", plain_zip, "-q") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a.p2p: entropy-coded by model" in err[0] and "has no prior" in err[0]
    assert not (tmp_path / "a.wav").exists()
    # a model whose prior is another one: the same weights, a prior fitted elsewhere
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(zipped) as src, zipfile.ZipFile(other, "w") as dst:
        for n in src.namelist():
            data = src.read(n)
            if n == "student/prior.npz":
                data = BigramPrior.fit([np.arange(300).reshape(1, -1) % 1024], [1024]).to_bytes()
            dst.writestr(n, data)
    assert run("decode", tmp_path / "a.p2p", tmp_path / "a.wav", "--model", other, "-q") == 1
    err = capsys.readouterr().err
    assert "this model with its prior is" in err and "decode with the model that encoded it" in err


def test_fit_prior_refuses_what_it_cannot_use(tmp_path, packed_models, corpus, capsys):
    assert (
        fit_prior_main(
            [
                "--model",
                str(packed_models),
                "--wav_scp",
                str(tmp_path / "none.scp"),
                "--output",
                str(tmp_path / "p.npz"),
            ]
        )
        == 1
    )
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "p.npz").exists()


def test_an_input_longer_than_an_entropy_coded_file_holds_is_written_at_fixed_width(tmp_path, monkeypatch, capsys):
    """Issue 42 (7): a payload holds at most entropy.MAX_CODED_TOKENS tokens (2**20, 5.8 h;
    lowered here): a longer input is written at fixed width, with a notice, and decodes."""
    import espnet2_p2p.coding.files as filecoding

    monkeypatch.setattr(filecoding, "MAX_CODED_TOKENS", 40)
    sf.write(tmp_path / "in.wav", speech(1.0), 16000)  # 50 tokens of the shipped student
    assert run("encode", tmp_path / "in.wav", tmp_path / "o.p2p") == 0
    assert "50 tokens, more than an entropy-coded file holds (40): written at fixed width" in capsys.readouterr().err
    header, codes = read_p2p(tmp_path / "o.p2p", None)
    assert not header.entropy_coded and codes.shape == (1, 50)
    assert run("decode", tmp_path / "o.p2p", tmp_path / "o.wav", "-q") == 0
