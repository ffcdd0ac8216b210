"""Shared fixtures: a tiny espeak-ng corpus and the tiny teacher config."""

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import espnet2_p2p  # noqa: F401  (registers the codecs in ESPnet)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


# The 20 real LibriTTS/VCTK clips of the development machines (beside the project); the
# tests that use them skip with their reason when the folder is absent.
REAL_SPEECH = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_speech"

# Sizes smaller than the tiny configs, for unit tests that build models many times.
SMALL = yaml.safe_load((Path(__file__).parent / "small_sizes.yaml").read_text())


def p2p_codec_command(*args) -> list:
    """The command line that runs ``p2p-codec ARGS`` in a new interpreter."""
    return [sys.executable, "-m", "espnet2_p2p.bin.p2p_codec", *map(str, args)]


def load_config(name: str) -> dict:
    """A config of conf/, its base configs merged (espnet2_p2p.utils.config)."""
    from espnet2_p2p.utils.config import load_config as merged

    return merged(CONF / name)


def task_args(config: dict, **overrides) -> argparse.Namespace:
    """The part of ESPnet's parsed arguments that build_model/build_optimizers read."""
    args = dict(
        codec=config["codec"],
        codec_conf=config.get("codec_conf", {}),
        model_conf=config.get("model_conf", {}),
        optim=config.get("optim", "adam"),
        optim_conf=config.get("optim_conf", {}),
        optim2=config.get("optim2", "adam"),
        optim2_conf=config.get("optim2_conf", {}),
        sharded_ddp=False,
    )
    args.update(overrides)
    return argparse.Namespace(**args)


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    return load_config("teacher_tiny.yaml")


@pytest.fixture(scope="session")
def espeak_corpus(tmp_path_factory) -> Path:
    """train/ (4 speakers x 2 utterances) and test/ (2 unseen speakers x 1) data dirs."""
    from espnet2_p2p.data.espeak import TEST_SPEAKERS, TRAIN_SPEAKERS, make_split

    root = tmp_path_factory.mktemp("espeak")
    make_split(root / "train", TRAIN_SPEAKERS[:4], 2, seed=1)
    make_split(root / "test", TEST_SPEAKERS, 1, seed=2)
    return root


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def gliding_speech(seconds: float, seed: int = 0, fs: int = 16000):
    """A voiced-like test signal: a tone gliding around 120 Hz, amplitude-modulated at 3 Hz,
    with a little noise (float32 (T,))."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.3 * t)
    x = 0.2 * np.sin(2 * np.pi * np.cumsum(f0) / fs) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (x + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def trained_like(model, seed: int = 0):
    """Make an untrained codec behave like a trained one where tests need it: codebooks
    initialised by one training step, and GRN scales that are not zero (they start at
    zero, which would hide GRN's look at the whole sequence)."""
    torch.manual_seed(seed)
    model.train()
    model(0.1 * torch.randn(4, 8000), forward_generator=True)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".grn." in name:
                p.normal_(0.0, 0.5)
    return model.eval()


def make_packed(root: Path, **codec_overrides) -> Path:
    """A packed zip (espnet2_p2p.bin.pack) with a tiny teacher and its student."""
    from espnet2.tasks.gan_codec import GANCodecTask

    from espnet2_p2p.model_io import pack
    from espnet2_p2p.utils.config import resolved_argv

    # The configs as ESPnet's trainer writes them (every option, defaults filled in).
    parser = GANCodecTask.get_parser()
    teacher_config = vars(parser.parse_args(resolved_argv(["--config", str(CONF / "teacher_tiny.yaml")])))
    student_config = vars(parser.parse_args(resolved_argv(["--config", str(CONF / "student_tiny.yaml")])))
    for config in (teacher_config, student_config):
        config["codec_conf"].update(codec_overrides)
    teacher = trained_like(GANCodecTask.build_model(task_args(teacher_config)))
    student = GANCodecTask.build_model(task_args(student_config))
    student.load_state_dict(teacher.state_dict(), strict=False)
    models = []
    for name, config, model in [("teacher", teacher_config, teacher), ("student", student_config, student)]:
        (root / name).mkdir()
        (root / name / "config.yaml").write_text(yaml.safe_dump(config))
        torch.save(model.state_dict(), root / name / "model.pth")
        models.append((name, root / name / "config.yaml", root / name / "model.pth"))
    pack(root / "packed.zip", models)
    return root / "packed.zip"


@pytest.fixture(scope="session")
def packed_models(tmp_path_factory) -> Path:
    """A packed zip (espnet2_p2p.bin.pack) with a tiny teacher and its student."""
    return make_packed(tmp_path_factory.mktemp("packed"))


@pytest.fixture(scope="session")
def packed_causal_models(tmp_path_factory) -> Path:
    """The same with the causal variant (``causal: true``)."""
    return make_packed(tmp_path_factory.mktemp("packed_causal"), causal=True)


def read_p2p(path, model, name=None):
    """A ``.p2p`` file read with the model (a coder, or what open_coder takes) that wrote
    it: a version-4 file names its model by id, not its layout. ``header, codes = ...``."""
    from espnet2_p2p.coding.coder import open_coder
    from espnet2_p2p.container.bitstream import P2PFile

    coder = model if hasattr(model, "layout") else open_coder(model, "torch", name)
    return P2PFile.read(path, coder.prior, coder.layout, coder.fingerprint)


# ------------------------ input every entry point refuses (issue 42, item 6: utils/checks.py)
#: audio a coder must refuse, and a word of the message
BAD_AUDIO = [
    (np.zeros(800, np.int16), "floating-point samples"),
    (np.zeros(800, np.int32), "divide integer PCM"),
    (np.zeros(800, np.complex64), "floating-point samples"),
    (np.zeros(800, bool), "floating-point samples"),
    (np.array([0.1, "a"], dtype=object), "floating-point samples"),
    (np.zeros((2, 800), np.float32), "mono samples (T,), got shape (2, 800)"),
    (np.float32(0.1), "got a single number"),
    (np.zeros(0, np.float32), "empty"),
    (np.array([0.0, np.nan], np.float32), "non-finite sample"),
    (np.array([0.0, 1e300]), "non-finite sample"),
    (["a", "b"], "floating-point samples"),
    ([[0.1], [0.1, 0.2]], "not an array of numbers"),
    (torch.zeros(800, dtype=torch.int16), "floating-point samples"),
]

#: tokens (streams, frames) a decoder of a student of codebooks [1024, 256, 256, 256] must
#: refuse (1 or 4 streams), and a word of the message
BAD_TOKENS = [
    (np.full((1, 5), 3.7), "must be integers, got float64"),
    (np.ones((1, 5), bool), "must be integers, got bool"),
    (np.array([[1, "a"]], dtype=object), "must be integers"),
    (np.array([[2**70, 1]], dtype=object), "must be integers, got numbers beyond int64"),
    ([[2**70, 1]], "must be integers"),
    (np.array([[2**63 + 5]], dtype=np.uint64), "beyond int64"),
    (np.arange(5), "(streams, frames)"),
    (np.int64(3), "(streams, frames)"),
    (np.zeros((1, 0), np.int64), "frames > 0"),
    (np.zeros((2, 5), np.int64), "2 token streams; this model decodes 1 or 4"),
    (np.full((1, 5), 1024), "stream 0 has token 1024 at frame 0, outside [0, 1024)"),
    (np.array([[1, 2], [3, -1], [0, 0], [0, 0]]), "stream 1 has token -1 at frame 1, outside [0, 256)"),
]
