"""The wheel outside the repository (``make wheel``): installed with its pinned
dependencies into a fresh virtual environment, it codes a file with the shipped model
from a folder that holds no checkout, through torch and through ONNX Runtime, and
``P2PTokenizer.from_pretrained()`` and the shipped training configs work."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from conftest import gliding_speech
from espnet2_p2p import __version__, pretrained

ROOT = Path(__file__).resolve().parents[1]

PYTHON_CHECK = """
import sys
from pathlib import Path

import soundfile as sf
import torch

import espnet2_p2p
from espnet2_p2p.speechlm.tokenizer import P2PTokenizer
from espnet2_p2p.utils.config import config_dir, load_config

venv = Path(sys.argv[1]).resolve()
assert Path(espnet2_p2p.__file__).resolve().is_relative_to(venv), espnet2_p2p.__file__
assert config_dir().resolve().is_relative_to(venv), config_dir()
assert load_config(config_dir() / "student_long_ft.yaml")["codec_conf"]["finetune_decoder"] is True
wav, fs = sf.read("in.wav", dtype="float32")
tok = P2PTokenizer.from_pretrained()
tokens = tok.encode(torch.from_numpy(wav))
assert tokens.ndim == 2 and tokens.shape[0] > 0, tokens.shape
print("tokens", tuple(tokens.shape))
"""


def run(cmd, cwd, env, timeout=900):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-1500:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
@pytest.mark.skipif(not pretrained.DEFAULT, reason="this checkout ships no model")
def test_the_wheel_codes_outside_the_checkout_in_a_fresh_venv(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "P2P_CODEC_MODEL", "VIRTUAL_ENV")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # where --backend onnxruntime exports the shipped model
    run(["make", "-C", ROOT, "wheel", f"VPY={sys.executable}", f"WHEEL_DIR={tmp_path / 'dist'}"], ROOT, env)
    wheel = tmp_path / "dist" / f"espnet2_p2p-{__version__}-py3-none-any.whl"
    assert wheel.is_file()

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], tmp_path, env)  # no --system-site-packages
    vpy = venv / "bin" / "python"
    run([vpy, "-m", "pip", "install", "-q", "pip==25.3"], tmp_path, env)  # the Makefile's pip
    run([vpy, "-m", "pip", "install", "-q", wheel], tmp_path, env, timeout=1800)

    work = tmp_path / "work"  # no checkout here or above it
    work.mkdir()
    sf.write(work / "in.wav", gliding_speech(2.0), 16000)
    codec = venv / "bin" / "p2p-codec"
    proc = run([codec, "encode", "in.wav", "a.p2p"], work, env)
    notice, *more = proc.stderr.splitlines()  # one line: the model, inside the venv
    assert not more and notice.startswith(f"model: the shipped {pretrained.DEFAULT} ({venv.resolve()}/"), proc.stderr
    run([codec, "decode", "a.p2p", "out.wav", "-q"], work, env)
    assert sf.info(str(work / "out.wav")).frames == 32000
    run([codec, "encode", "in.wav", "b.p2p", "--backend", "onnxruntime", "-q"], work, env)
    assert (work / "b.p2p").read_bytes() == (work / "a.p2p").read_bytes()
    run([codec, "decode", "b.p2p", "out_ort.wav", "--backend", "onnxruntime", "-q"], work, env)
    assert sf.info(str(work / "out_ort.wav")).frames == 32000
    proc = run([vpy, "-c", PYTHON_CHECK, venv], work, env)
    assert proc.stdout.startswith("tokens (100, "), proc.stdout
