"""Shared fixtures: a tiny espeak-ng corpus and the tiny teacher config."""

import argparse
from pathlib import Path

import pytest
import torch
import yaml

import espnet2_p2p  # noqa: F401  (registers the codecs in ESPnet)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


def load_config(name: str) -> dict:
    return yaml.safe_load((CONF / name).read_text())


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
