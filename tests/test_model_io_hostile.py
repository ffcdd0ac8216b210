"""Hostile model files (issue 29, 1 and 6): refused with one line, before anything large
is unpacked or built."""

import io
import shutil
import time
import zipfile

import pytest
import yaml

from espnet2_p2p.errors import ModelLoadError
from espnet2_p2p.model_io import load_codec, load_prior


def _exp_dir(tmp_path, packed_models, edit_config=None):
    """An experiment dir (config.yaml + model.pth) of the tiny student, its config edited."""
    folder = tmp_path / "exp"
    folder.mkdir()
    with zipfile.ZipFile(packed_models) as zf:
        config = yaml.safe_load(zf.read("student/config.yaml"))
        (folder / "model.pth").write_bytes(zf.read("student/model.pth"))
    if edit_config:
        edit_config(config)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.update(codec=["p2psyn"]), "unknown codec ['p2psyn']"),
        (lambda c: c.update(codec="dac"), "unknown codec 'dac'"),
        (lambda c: c["codec_conf"].update(sampling_rate=0), "sample rate 0"),
        (lambda c: c["codec_conf"].update(codebook_size=2**26), "asks for a model larger than 2 GB"),
        (lambda c: c["codec_conf"].update(channels=2**20), "asks for a model larger than 2 GB"),
    ],
)
def test_a_config_that_names_no_usable_codec_is_refused(tmp_path, packed_models, edit, message):
    folder = _exp_dir(tmp_path, packed_models, edit)
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_codec(folder)
    # refused once the build passes 2 GB of address space, not after building the terabytes
    # asked for: 4.8 s alone on 2 cores for channels=2**20 (its first 2 GB get random weights)
    assert time.perf_counter() - start < 30


def test_a_prior_that_unpacks_to_gigabytes_is_refused_unread(tmp_path, packed_models):
    folder = _exp_dir(tmp_path, packed_models)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sizes.npy", b"\0" * (600 << 20))  # 600 MB of zeros: about 0.6 MB packed
    (folder / "prior.npz").write_bytes(buf.getvalue())
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match="would unpack to 629145600 bytes"):
        load_prior(folder)
    assert time.perf_counter() - start < 10


def test_a_truncated_prior_is_one_line(tmp_path, packed_models):
    import numpy as np

    from espnet2_p2p.container.entropy import BigramPrior

    folder = _exp_dir(tmp_path, packed_models)
    rng = np.random.default_rng(0)
    data = BigramPrior.fit([rng.integers(0, 64, (1, 500))], [64]).to_bytes()
    (folder / "prior.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="not a stored bigram prior"):
        load_prior(folder)


def test_a_prior_whose_array_header_claims_a_huge_shape_is_refused(tmp_path, packed_models):
    """The archive's sizes can be honest while an array's .npy header asks numpy for 8 TB."""
    import numpy as np

    folder = _exp_dir(tmp_path, packed_models)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<i8", "fortran_order": False, "shape": (10**12,)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("sizes.npy", header.getvalue() + b"\0" * 64)
    (folder / "prior.npz").write_bytes(buf.getvalue())
    with pytest.raises(ModelLoadError, match=r"claims \(1000000000000,\) of int64"):
        load_prior(folder)


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit (util-linux) is not installed")
def test_under_a_4gb_address_space_a_hostile_config_is_one_line(tmp_path, packed_models):
    """The acceptance of issue 29: under ``prlimit --as`` 4 GB (torch alone maps about 2 GB)
    a config asking for gigabytes is refused with one line in under 10 s."""
    import subprocess

    from conftest import p2p_codec_command

    folder = _exp_dir(tmp_path, packed_models, lambda c: c["codec_conf"].update(codebook_size=2**26))
    (tmp_path / "a.wav").write_bytes(b"")
    start = time.perf_counter()
    proc = subprocess.run(
        [
            "prlimit",
            f"--as={4 << 30}",
            *p2p_codec_command("encode", tmp_path / "a.wav", tmp_path / "a.p2p", "--model", folder, "-q"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert time.perf_counter() - start < 30  # the interpreter and torch start within it
    assert proc.returncode == 1, proc.stderr[-800:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "larger than 2 GB" in lines[0], proc.stderr[-800:]
