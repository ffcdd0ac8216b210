"""The decoding stage's bookkeeping: a system decoded before is kept, a changed one redone."""

import json
import os
import zipfile

import pytest
import torch

from espnet2_p2p.bin import decode


@pytest.fixture
def models(tmp_path, packed_models):
    with zipfile.ZipFile(packed_models) as zf:
        zf.extractall(tmp_path / "models")
    return tmp_path / "models"


def spec(models, label, name, options=""):
    return f"{label}:{models / name / 'config.yaml'}:{models / name / 'model.pth'}{options}"


def test_added_system_is_decoded_alone_and_a_changed_model_again(espeak_corpus, models, tmp_path, monkeypatch):
    data, out = espeak_corpus / "test", tmp_path / "decode"
    decode.main(
        ["--data_dir", str(data), "--output_dir", str(out), "--system", spec(models, "plain", "teacher", ":streams=1")]
    )
    before = json.loads((out / "summary.json").read_text())["plain"]
    decoded = []
    real = decode.decode_one
    monkeypatch.setattr(decode, "decode_one", lambda label, *a: decoded.append(label) or real(label, *a))
    both = [
        "--data_dir",
        str(data),
        "--output_dir",
        str(out),
        "--system",
        spec(models, "plain", "teacher", ":streams=1"),
        "--system",
        spec(models, "student", "student"),
    ]
    decode.main(both)
    assert decoded == ["student"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["plain"] == before and summary["student"]["pseudo_top1"]
    assert "| plain |" in (out / "bitrate.md").read_text() and "| student |" in (out / "bitrate.md").read_text()
    assert "| student | 1: " in (out / "token_accuracy.md").read_text()

    # a rewritten file of the same bytes (a resumed training rewrites config.yaml): kept
    config = models / "teacher" / "config.yaml"
    config.write_text(config.read_text())
    os.utime(config, ns=(config.stat().st_atime_ns, config.stat().st_mtime_ns + 10**9))
    decoded.clear()
    decode.main(both)
    assert decoded == []
    # other weights, a lost output wav, other options: decoded again
    model = models / "teacher" / "model.pth"
    state = torch.load(model, weights_only=True)
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key] + 0.01
    torch.save(state, model)
    decoded.clear()
    decode.main(both)
    assert decoded == ["plain"]
    next((out / "student").glob("*.wav")).unlink()
    decoded.clear()
    decode.main(both)
    assert decoded == ["student"]
    decoded.clear()
    decode.main(both[:6] + ["--system", spec(models, "student", "student", ":pseudo_codeword=argmax")])
    assert decoded == ["student"]
    decoded.clear()
    decode.main(both + ["--force"])
    assert decoded == ["plain", "student"]
    # without a student, no token accuracy table is left from the earlier runs
    decode.main(both[:6])
    assert not (out / "token_accuracy.md").exists() and "student" not in json.loads((out / "summary.json").read_text())


def test_missing_model_and_twice_given_label_are_one_line(espeak_corpus, models, tmp_path, monkeypatch):
    data, out = espeak_corpus / "test", tmp_path / "decode"
    decoded = []
    monkeypatch.setattr(decode, "decode_one", lambda label, *a: decoded.append(label))
    dirs = ["--data_dir", str(data), "--output_dir", str(out)]
    missing = f"x:{models / 'teacher' / 'config.yaml'}:{models / 'nothing.pth'}"
    with pytest.raises(SystemExit, match="nothing.pth does not exist"):
        decode.main([*dirs, "--system", spec(models, "ok", "teacher"), "--system", missing])
    assert decoded == []  # found before the first system was decoded
    with pytest.raises(SystemExit, match="given twice"):
        decode.main([*dirs, "--system", spec(models, "a", "teacher"), "--system", spec(models, "a", "student")])


@pytest.mark.parametrize("streams", ["2", "3", "5", "x"])
def test_streams_other_than_plain_or_all_are_refused_before_decoding(espeak_corpus, models, tmp_path, capsys, streams):
    """Issue 42 (9): streams=2 of a teacher of 1 + 3 streams was accepted, then failed writing
    its first file ("implausible header: 2 streams"): a .p2p file holds 1 or 1 + N."""
    out = tmp_path / "decode"
    argv = [
        "--data_dir",
        str(espeak_corpus / "test"),
        "--output_dir",
        str(out),
        "--system",
        spec(models, "plain", "teacher", f":streams={streams}"),
    ]
    with pytest.raises(SystemExit) as exit_:
        decode.main(argv)
    message = str(exit_.value.code) if streams != "x" else capsys.readouterr().err.strip().splitlines()[-1]
    assert ("stream 0 alone (streams=1) or all 4 streams" in message) if streams != "x" else "whole number" in message
    assert not list(out.rglob("*.p2p")) and not list(out.rglob("*.wav"))
