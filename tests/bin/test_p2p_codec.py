"""p2p-codec: files round trip, 0.5 kbps payload, many files, hostile input, safe loading."""

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import read_p2p
from espnet2_p2p.bin.p2p_codec import main
from espnet2_p2p.errors import ModelLoadError
from espnet2_p2p.model_io import fingerprint, load_codec


def speech(seconds=2.0, fs=16000, seed=0, channels=1):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    x = 0.2 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x = x + 0.02 * rng.standard_normal(len(t))
    x = np.stack([x, 0.5 * x], axis=1)[:, :channels] if channels > 1 else x
    return x.astype(np.float32)


def run(*argv):
    return main([str(a) for a in argv])


def test_round_trip_equals_in_memory_coding(tmp_path, packed_models):
    x = speech(7.0)  # 350 whole frames
    sf.write(tmp_path / "in.wav", x, 16000, subtype="FLOAT")
    assert run("encode", tmp_path / "in.wav", tmp_path / "a.p2p", "--model", packed_models) == 0
    assert run("decode", tmp_path / "a.p2p", tmp_path / "out.wav", "--model", packed_models, "--subtype", "FLOAT") == 0
    header, codes = read_p2p(tmp_path / "a.p2p", packed_models)
    assert header.payload_bits / header.duration == 500.0
    # the compact container: "p4", 3 bytes of length and flags, a 4-byte model id, CRC-16
    assert header.version == 4 and (tmp_path / "a.p2p").stat().st_size == 11 + 350 * 10 // 8 + 1
    codec = load_codec(packed_models).codec
    with torch.no_grad():
        ref_codes = codec.encode(torch.from_numpy(x).view(1, 1, -1))
        ref = codec.decode(ref_codes, length=len(x))[0, 0].numpy()
    np.testing.assert_array_equal(codes, ref_codes[:, 0].numpy())
    y, fs = sf.read(tmp_path / "out.wav", dtype="float32")
    assert fs == 16000
    np.testing.assert_array_equal(y, ref)


def test_info_reports_the_bitrate(tmp_path, packed_models, capsys):
    sf.write(tmp_path / "in.wav", speech(1.01), 16000)
    run("encode", tmp_path / "in.wav", tmp_path / "a.p2p", "--model", packed_models)
    capsys.readouterr()
    assert run("info", tmp_path / "a.p2p", "--model", packed_models) == 0
    out = capsys.readouterr().out
    assert "frames: 51 (50 Hz, hop 320)" in out
    assert "510 bits = 500 bit/s of whole frames" in out
    assert "container overhead: 11 bytes + 2 padding bits" in out
    assert "streams: 1 transmitted of 4" in out
    # several files (a directory): the total; -q: the total alone
    sf.write(tmp_path / "in2.wav", speech(2.0), 16000)
    run("encode", tmp_path / "in2.wav", tmp_path / "b.p2p", "--model", packed_models)
    capsys.readouterr()
    assert run("info", tmp_path, "--model", packed_models, "-q") == 0
    out = capsys.readouterr().out.strip()
    sizes = 8 * ((tmp_path / "a.p2p").stat().st_size + (tmp_path / "b.p2p").stat().st_size)
    assert out.startswith("2 files, 3.0 s of audio: payload ")  # 1.01 s + 2 s
    assert f"whole files {sizes / 3.01:.1f} bit/s" in out, out


def test_info_reads_the_model_once_for_many_files(tmp_path, packed_models, capsys, monkeypatch):
    import espnet2_p2p.coding.files as filecoding

    sf.write(tmp_path / "in.wav", speech(0.5), 16000)
    for name in "abcd":
        run("encode", tmp_path / "in.wav", tmp_path / f"{name}.p2p", "--model", packed_models)
    calls = []
    real = filecoding.packed_spec
    monkeypatch.setattr(filecoding, "packed_spec", lambda *a: calls.append(a) or real(*a))
    capsys.readouterr()
    assert run("info", tmp_path, "--model", packed_models, "-q") == 0
    assert capsys.readouterr().out.startswith("4 files, 2.0 s of audio")
    assert len(calls) == 1  # the packed zip's meta.json is read once a run, not once a file


def test_teacher_writes_all_streams(tmp_path, packed_models):
    sf.write(tmp_path / "in.wav", speech(1.0), 16000)
    assert (
        run("encode", tmp_path / "in.wav", tmp_path / "t.p2p", "--model", packed_models, "--model_name", "teacher") == 0
    )
    header, codes = read_p2p(tmp_path / "t.p2p", packed_models, "teacher")
    assert header.num_streams == 4 and header.payload_bitrate == 2000.0
    # the student cannot decode what the teacher wrote (another model)
    assert run("decode", tmp_path / "t.p2p", tmp_path / "x.wav", "--model", packed_models) == 1
    assert not (tmp_path / "x.wav").exists()


def test_tokens_plain_and_all(tmp_path, packed_models):
    x = speech(1.5)
    sf.write(tmp_path / "in.wav", x, 16000, subtype="FLOAT")
    run("tokens", tmp_path / "in.wav", tmp_path / "plain.npy", "--model", packed_models)
    run("tokens", tmp_path / "in.wav", tmp_path / "all.npy", "--model", packed_models, "--streams", "all")
    plain, full = np.load(tmp_path / "plain.npy"), np.load(tmp_path / "all.npy")
    assert plain.shape == (75, 1) and full.shape == (75, 4)
    codec = load_codec(packed_models).codec
    ref = codec.tokens(torch.from_numpy(x).view(1, 1, -1))[:, 0].numpy().T
    np.testing.assert_array_equal(full, ref)
    np.testing.assert_array_equal(plain, ref[:, :1])
    # a teacher: transmitted (the default) = the 1 + N streams its files carry; plain = stream 0
    for streams, width in (("transmitted", 4), ("plain", 1)):
        out = tmp_path / f"teacher_{streams}.npy"
        assert (
            run(
                "tokens",
                tmp_path / "in.wav",
                out,
                "--model",
                packed_models,
                "--model_name",
                "teacher",
                "--streams",
                streams,
            )
            == 0
        )
        assert np.load(out).shape == (75, width)


def test_directory_and_wav_scp_with_a_bad_file(tmp_path, packed_models, capsys):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    sf.write(src / "a.wav", speech(1.0, seed=1), 16000)
    sf.write(src / "sub" / "b.wav", speech(0.5, seed=2), 16000)
    (src / "c.wav").write_bytes(b"RIFF not really a wav")
    assert run("encode", src, tmp_path / "enc", "--model", packed_models) == 1
    err = capsys.readouterr().err
    assert "c.wav" in err and "1 of 3 inputs failed" in err
    assert sorted(p.relative_to(tmp_path / "enc").as_posix() for p in (tmp_path / "enc").rglob("*")) == [
        "a.p2p",
        "sub",
        "sub/b.p2p",
    ]
    assert run("decode", tmp_path / "enc", tmp_path / "dec", "--model", packed_models) == 0
    assert sf.info(str(tmp_path / "dec" / "sub" / "b.wav")).frames == 8000
    scp = tmp_path / "wav.scp"
    scp.write_text(f"utt1 {src / 'a.wav'}\nutt2 {src / 'sub' / 'b.wav'}\n")
    assert run("tokens", scp, tmp_path / "tok", "--model", packed_models) == 0
    assert np.load(tmp_path / "tok" / "utt2.npy").shape == (25, 1)


@pytest.mark.parametrize(
    "fs, channels, notice",
    [
        (8000, 1, "resampled from 8000 Hz to 16000 Hz"),
        (48000, 2, "downmixed 2 channels to mono"),
    ],
)
def test_other_rates_and_stereo_are_converted(tmp_path, packed_models, capsys, fs, channels, notice):
    sf.write(tmp_path / "in.wav", speech(1.0, fs=fs, channels=channels), fs)
    assert run("encode", tmp_path / "in.wav", tmp_path / "a.p2p", "--model", packed_models) == 0
    assert notice in capsys.readouterr().err
    header, _ = read_p2p(tmp_path / "a.p2p", packed_models)
    assert header.sample_rate == 16000 and header.num_samples == 16000


def test_silent_and_clipped_inputs_work_with_a_notice(tmp_path, packed_models, capsys):
    sf.write(tmp_path / "zero.wav", np.zeros(8000, np.float32), 16000)
    clipped = np.clip(speech(1.0) * 20, -1, 1)
    sf.write(tmp_path / "clip.wav", clipped, 16000)
    assert run("encode", tmp_path / "zero.wav", tmp_path / "zero.p2p", "--model", packed_models) == 0
    assert run("encode", tmp_path / "clip.wav", tmp_path / "clip.p2p", "--model", packed_models) == 0
    err = capsys.readouterr().err
    assert "zero.wav: the input is silent (all zeros)" in err
    assert "clip.wav:" in err and "the input looks clipped" in err


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: sf.write(p, np.zeros(0, np.float32), 16000), r"holds no samples"),
        (
            lambda p: sf.write(p, np.array([0.1, np.nan, 0.2], np.float32), 16000, subtype="FLOAT"),
            r"non-finite sample \(NaN or Inf\) at 0\.000 s \(sample 1\)",
        ),
        (
            lambda p: sf.write(p, np.array([0.1] * 100 + [np.inf], np.float32), 16000, subtype="FLOAT"),
            r"non-finite sample .* \(sample 100\)",
        ),
        (lambda p: p.write_bytes(b""), r"cannot read"),
    ],
)
def test_uncodable_audio_fails_with_one_line(tmp_path, packed_models, capsys, make, message):
    make(tmp_path / "bad.wav")
    assert run("encode", tmp_path / "bad.wav", tmp_path / "bad.p2p", "--model", packed_models) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert any(line.startswith("p2p-codec: error:") and "bad.wav" in line for line in err)
    import re

    assert re.search(message, "\n".join(err))
    assert not any(tmp_path.glob("*.p2p")) and not any(tmp_path.glob(".*tmp*"))


def test_corrupt_bitstream_is_refused_by_decode(tmp_path, packed_models, capsys):
    sf.write(tmp_path / "in.wav", speech(1.0), 16000)
    run("encode", tmp_path / "in.wav", tmp_path / "a.p2p", "--model", packed_models)
    data = (tmp_path / "a.p2p").read_bytes()
    (tmp_path / "a.p2p").write_bytes(data[:-5])
    assert run("decode", tmp_path / "a.p2p", tmp_path / "a.wav", "--model", packed_models) == 1
    assert "a.p2p: truncated" in capsys.readouterr().err
    assert not (tmp_path / "a.wav").exists()


def test_model_loading_is_safe_and_named(tmp_path, packed_models):
    model = load_codec(packed_models, "student")
    assert model.codec.is_student and len(fingerprint(model)) == 8
    assert fingerprint(model) != fingerprint(load_codec(packed_models, "teacher"))
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_codec(tmp_path / "nothing.zip")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelLoadError, match="is not a model"):
        load_codec(tmp_path / "notes.txt")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.md", "x")
    with pytest.raises(ModelLoadError, match="is a zip but not a packed codec"):
        load_codec(tmp_path / "other.zip")
    with pytest.raises(ModelLoadError, match=r"holds models \['student', 'teacher'\]"):
        load_codec(packed_models, "nope")
    # A checkpoint that would run code when unpickled is refused (weights_only=True).
    d = tmp_path / "exp"
    d.mkdir()
    with zipfile.ZipFile(packed_models) as zf:
        (d / "config.yaml").write_bytes(zf.read("student/config.yaml"))
    torch.save({"x": Path("/etc/passwd")}, d / "valid.loss.best.pth")
    with pytest.raises(ModelLoadError, match="weights_only=True"):
        load_codec(d)
    (d / "valid.loss.best.pth").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match="not a PyTorch state dict"):
        load_codec(d)
    # Weights of another layout: named.
    with zipfile.ZipFile(packed_models) as zf:
        state = torch.load(io.BytesIO(zf.read("teacher/model.pth")), weights_only=True)
    state = {k: v for k, v in state.items() if "decoder" not in k}
    torch.save(state, d / "valid.loss.best.pth")
    with pytest.raises(ModelLoadError, match="the weights do not fit the config: .*Missing key"):
        load_codec(d)


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "p2p-codec"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    assert "encode" in out and "decode" in out and "tokens" in out and "info" in out


def _write_long_wav(path: Path, seconds: int) -> None:
    """A long 16-bit wav written block by block (the test itself stays small)."""
    block = speech(10.0)
    with sf.SoundFile(path, "w", 16000, 1, "PCM_16") as f:
        for _ in range(seconds // 10):
            f.write(block)


PEAK_SCRIPT = """
import resource, sys
from espnet2_p2p.bin.p2p_codec import main
status = main(sys.argv[1:])
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(status)
"""


def _peak_rss_mb(*argv) -> float:
    env = dict(os.environ, OMP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, *map(str, argv)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("MAXRSS_KB")][0]
    return int(line.split()[1]) / 1024


# A 30-minute input is 57.6 MB as 16-bit PCM and 115 MB as float32; whole-input coding
# would hold several float copies of it. Chunked coding must not grow with the length:
# the 30-minute encode may use at most this much more than a 1-minute encode.
LONG_INPUT_EXTRA_MB = 40.0


@pytest.mark.slow  # 80 s; long inputs stay covered by tests/test_tokenizer.py (5 min) and tests/test_audio.py
def test_thirty_minute_input_encodes_in_bounded_memory(tmp_path, packed_models):
    _write_long_wav(tmp_path / "short.wav", 60)
    _write_long_wav(tmp_path / "long.wav", 1800)
    short = _peak_rss_mb("encode", tmp_path / "short.wav", tmp_path / "s.p2p", "--model", packed_models, "-q")
    long = _peak_rss_mb("encode", tmp_path / "long.wav", tmp_path / "l.p2p", "--model", packed_models, "-q")
    header, _ = read_p2p(tmp_path / "l.p2p", packed_models)
    assert header.duration == 1800.0 and header.num_frames == 90000
    print(f"peak RSS: 1-minute encode {short:.0f} MB, 30-minute encode {long:.0f} MB")
    assert long - short < LONG_INPUT_EXTRA_MB, (short, long)


def test_a_plain_encode_prints_only_its_own_notice(tmp_path, request):
    """Issue 44: ESPnet's "Failed to import Flash Attention" line and torch's weight_norm
    FutureWarning were printed on every call; -q prints nothing."""
    from espnet2_p2p import pretrained

    sf.write(tmp_path / "in.wav", speech(1.0), 16000)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # Python's default filters
    cli = [sys.executable, "-m", "espnet2_p2p.bin.p2p_codec"]
    model = [] if pretrained.DEFAULT else ["--model", str(request.getfixturevalue("packed_models"))]
    proc = subprocess.run(
        [*cli, "encode", tmp_path / "in.wav", tmp_path / "a.p2p", *model], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    notices = proc.stderr.splitlines()
    assert len(notices) <= 1 and all(line.startswith("model: the shipped ") for line in notices), proc.stderr
    for argv in (
        ["encode", tmp_path / "in.wav", tmp_path / "b.p2p", *model, "-q"],
        ["decode", tmp_path / "a.p2p", tmp_path / "a.wav", *model, "-q"],
    ):
        proc = subprocess.run([*cli, *argv], capture_output=True, text=True, env=env)
        assert proc.returncode == 0 and (proc.stdout, proc.stderr) == ("", ""), (argv[0], proc.stdout, proc.stderr)


def test_export_takes_q_too(tmp_path, monkeypatch, capsys):
    """The one verb without -q had none (the export itself is tested in tests/test_onnx.py)."""
    from espnet2_p2p.onnx import export

    meta = {"codec": "P2PSynCodec", "fingerprint": "00" * 8, "prior": False}
    monkeypatch.setattr(export, "export", lambda *args: meta)
    assert run("export", "--model", tmp_path / "m.zip", "--out", tmp_path / "o") == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'o'}/encoder.onnx")
    assert run("export", "--model", tmp_path / "m.zip", "--out", tmp_path / "o", "-q") == 0
    assert capsys.readouterr() == ("", "")
