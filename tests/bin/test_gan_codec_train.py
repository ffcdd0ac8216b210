"""A real ESPnet training run of the tiny teacher, and loading it back through ESPnet."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from espnet2.bin.gan_codec_inference import AudioCoding
from espnet2.tasks.gan_codec import GANCodecTask, codec_choices

from conftest import CONF, read_p2p
from espnet2_p2p.bin import decode
from espnet2_p2p.codec.p2psyn import P2PSynCodec
from espnet2_p2p.coding.coder import open_coder


def test_registration():
    assert codec_choices.classes["p2psyn"] is P2PSynCodec
    import espnet2_p2p

    espnet2_p2p.register()  # idempotent
    assert codec_choices.get_class("p2psyn") is P2PSynCodec


def train(config, corpus, exp, *extra, epochs=2):
    """Run ESPnet's trainer (through our entry point) for a few tiny epochs."""
    cmd = [
        sys.executable,
        "-m",
        "espnet2_p2p.bin.gan_codec_train",
        "--config",
        str(CONF / config),
        "--train_data_path_and_name_and_type",
        f"{corpus / 'train' / 'wav.scp'},audio,sound",
        "--valid_data_path_and_name_and_type",
        f"{corpus / 'test' / 'wav.scp'},audio,sound",
        "--output_dir",
        str(exp),
        "--ngpu",
        "0",
        "--max_epoch",
        str(epochs),
        "--num_iters_per_epoch",
        "3",
        "--batch_size",
        "2",
        "--chunk_length",
        "3200",
        "--use_tensorboard",
        "false",
        "--use_matplotlib",
        "false",
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_teacher_then_student_through_espnet(espeak_corpus, tmp_path):
    exp = tmp_path / "teacher"
    proc = train("teacher_tiny.yaml", espeak_corpus, exp)
    assert (exp / "2epoch.pth").exists() and (exp / "checkpoint.pth").exists()
    assert "2epoch results" in proc.stderr

    state = torch.load(exp / "2epoch.pth", map_location="cpu", weights_only=True)
    assert any(k.startswith("codec.generator.quantizer.") for k in state)

    model, train_args = GANCodecTask.build_model_from_file(exp / "config.yaml", exp / "2epoch.pth", "cpu")
    assert train_args.codec == "p2psyn" and isinstance(model.codec, P2PSynCodec)
    path = (espeak_corpus / "test" / "wav.scp").read_text().split()[1]
    audio, fs = sf.read(path, dtype="float32")
    assert fs == 16000
    codes = model.eval().encode(torch.from_numpy(audio)[None])
    assert codes.shape[:2] == (4, 1) and codes.shape[2] == -(-len(audio) // 320)

    # ESPnet's own inference class loads it too and gives the same codes.
    coder = AudioCoding(train_config=exp / "config.yaml", model_file=exp / "2epoch.pth")
    out = coder(torch.from_numpy(audio)[None])
    assert torch.equal(out["codes"], codes)
    assert out["resyn_audio"].shape[-1] == codes.shape[-1] * 320

    # Stage 2 from the teacher with ESPnet's --init_param: shared weights arrive intact
    # and stay frozen; the student transmits the plain stream only.
    student_exp = tmp_path / "student"
    proc = train("student_tiny.yaml", espeak_corpus, student_exp, "--init_param", str(exp / "2epoch.pth"), epochs=1)
    assert "acc_level3" in proc.stderr
    student, _ = GANCodecTask.build_model_from_file(student_exp / "config.yaml", student_exp / "1epoch.pth", "cpu")
    student_state = student.state_dict()
    for key, value in state.items():
        assert torch.equal(student_state[key], value), key
    x = torch.from_numpy(audio)[None, None]
    plain = student.codec.eval().encode(x)
    assert torch.equal(plain, codes[:1])
    assert student.codec.tokens(x).shape == codes.shape

    # The recipe's decoding stage writes .p2p files, the wavs decoded from them, the
    # measured bitrate and token accuracy.
    decode.main(
        [
            "--data_dir",
            str(espeak_corpus / "test"),
            "--output_dir",
            str(tmp_path / "decode"),
            "--system",
            f"plain:{exp / 'config.yaml'}:{exp / '2epoch.pth'}:streams=1",
            "--system",
            f"student:{student_exp / 'config.yaml'}:{student_exp / '1epoch.pth'}",
        ]
    )
    utts = [line.split()[0] for line in (espeak_corpus / "test" / "wav.scp").read_text().splitlines()]
    coders = {"plain": open_coder(exp / "2epoch.pth"), "student": open_coder(student_exp / "1epoch.pth")}
    for system in ("plain", "student"):
        for utt in utts:
            wav, fs = sf.read(str(tmp_path / "decode" / system / f"{utt}.wav"))
            assert fs == 16000 and np.isfinite(wav).all()
            header, codes = read_p2p(tmp_path / "decode" / system / "bitstreams" / f"{utt}.p2p", coders[system])
            assert header.num_streams == 1 and header.num_samples == len(wav)
    rates = (tmp_path / "decode" / "bitrate.md").read_text()
    for line in rates.splitlines()[2:]:
        cells = line.split("|")
        assert float(cells[2]) == 500.0  # nominal: 10 bits x 50 Hz
        assert 500.0 <= float(cells[3]) < 510.0  # measured: whole frames of 10 bits
        assert float(cells[4]) > float(cells[3])  # files carry the 11-byte container
    assert "| student | 1: " in (tmp_path / "decode" / "token_accuracy.md").read_text()
    # codebook use counted from the files written: every transmitted token of every utterance
    import json

    summary = json.loads((tmp_path / "decode" / "summary.json").read_text())
    sent = [read_p2p(tmp_path / "decode" / "plain" / "bitstreams" / f"{u}.p2p", coders["plain"]).codes for u in utts]
    tokens = np.concatenate([s.reshape(-1) for s in sent])
    use = summary["plain"]["codebook_use"][0]
    assert use["size"] == 1024 and use["used"] == len(np.unique(tokens))
    p = np.bincount(tokens) / len(tokens)
    assert use["entropy_bits"] == pytest.approx(float(-(p[p > 0] * np.log2(p[p > 0])).sum()))
    top1 = summary["student"]["pseudo_top1"]
    assert len(top1) == 3 and all(0 <= a <= 1 and 0 < m <= 1 for a, m in top1)
    assert "| plain | 0 |" in (tmp_path / "decode" / "codebook_use.md").read_text()
