"""p2p-codec against a hostile user (issue "Hostile input, round two"): spliced outputs,
inputs overwritten, colliding names, escaping ids, unwritable outputs, bad options."""

import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet2_p2p.bin.p2p_codec import main
from espnet2_p2p.container import bitstream

sys.path.insert(0, str(Path(__file__).parent))
from test_p2p_codec import speech  # noqa: E402

from conftest import p2p_codec_command  # noqa: E402


def run(*argv):
    return main([str(a) for a in argv])


def last_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1] if err else ""


def test_temporary_names_are_unique_per_writer(tmp_path):
    """Two writers of one output never share a temporary file: each renames a whole file
    of its own, so the output is one writer's file, never a splice of both."""
    from espnet2_p2p.utils.files import temp_path

    out = tmp_path / "x.wav"
    names = {temp_path(out) for _ in range(100)}
    assert len(names) == 100 and all(str(os.getpid()) in n.name for n in names)
    header = bitstream.P2PHeader.for_streams(16000, 320, [1024], 1, 32000, b"\0" * 8)
    payloads = [np.full((1, 100), v, np.int64) for v in (7, 9)]
    errors = []

    def writer(codes):
        try:
            for _ in range(50):
                bitstream.write(tmp_path / "same.p2p", header, codes, compact=False)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(c,)) for c in payloads]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    _, codes = bitstream.read(tmp_path / "same.p2p")  # whole and valid (CRC)
    assert len(set(codes.reshape(-1).tolist())) == 1
    assert not list(tmp_path.glob(".*tmp*"))


def test_the_same_path_as_input_and_output_is_refused(tmp_path, packed_models, capsys):
    sf.write(tmp_path / "s.wav", speech(0.5), 16000)
    before = (tmp_path / "s.wav").read_bytes()
    assert run("encode", tmp_path / "s.wav", tmp_path / "s.wav", "--model", packed_models) == 1
    assert "is both an input and an output" in last_error(capsys)
    assert (tmp_path / "s.wav").read_bytes() == before
    assert run("encode", tmp_path / "s.wav", tmp_path / "x.p2p", "--model", packed_models) == 0
    before = (tmp_path / "x.p2p").read_bytes()
    assert run("decode", tmp_path / "x.p2p", tmp_path / "x.p2p", "--model", packed_models) == 1
    assert "refusing to overwrite the input" in last_error(capsys)
    assert (tmp_path / "x.p2p").read_bytes() == before


def test_two_inputs_for_one_output_name_are_refused(tmp_path, packed_models, capsys):
    src = tmp_path / "src"
    src.mkdir()
    sf.write(src / "a.wav", speech(0.5), 16000)
    sf.write(src / "a.flac", speech(0.5, seed=1), 16000)
    assert run("encode", src, tmp_path / "out", "--model", packed_models) == 1
    err = last_error(capsys)
    assert "a.flac and" in err and "a.wav would both be written to" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "lines, message",
    [
        (["u1 {a}", "u1 {a}"], "the id 'u1' appears twice"),
        (["../../x {a}"], "the id '../../x' would write outside the output folder"),
        (["/abs/x {a}"], "the id '/abs/x' would write outside the output folder"),
        (["lonely"], "expected '<id> <path>'"),
        (["u1 sox {a} -t wav - |"], "u1 is a command ('... |'); only file paths are read"),
    ],
)
def test_bad_wav_scp_ids_are_refused(tmp_path, packed_models, capsys, lines, message):
    sf.write(tmp_path / "a.wav", speech(0.5), 16000)
    scp = tmp_path / "wav.scp"
    scp.write_text("\n".join(line.format(a=tmp_path / "a.wav") for line in lines) + "\n")
    assert run("encode", scp, tmp_path / "out" / "deep", "--model", packed_models) == 1
    assert message in last_error(capsys)
    assert not list(tmp_path.rglob("*.p2p"))


def test_an_unwritable_output_is_one_line_and_the_rest_is_coded(tmp_path, packed_models, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a", "b", "c"):
        sf.write(src / f"{name}.wav", speech(0.5), 16000)
    out = tmp_path / "out"
    (out / "b.p2p").mkdir(parents=True)  # an output path that is a folder
    assert run("encode", src, out, "--model", packed_models) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("p2p-codec: error:")]
    assert len(lines) == 1 and "b.wav" in lines[0] and "b.p2p" in lines[0]
    assert "Traceback" not in err and "1 of 3 inputs failed" in err
    assert (out / "a.p2p").is_file() and (out / "c.p2p").is_file()
    assert not list(out.glob(".*tmp*"))
    if os.geteuid() != 0:  # root writes into read-only folders anyway
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        assert run("encode", src / "a.wav", ro / "a.p2p", "--model", packed_models) == 1
        assert "Permission denied" in last_error(capsys)


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--chunk_seconds", "nan", "must be a finite number of seconds > 0, got nan"),
        ("--chunk_seconds", "inf", "must be a finite number of seconds > 0, got inf"),
        ("--chunk_seconds", "0", "must be a finite number of seconds > 0, got 0"),
        ("--chunk_seconds", "-1", "must be a finite number of seconds > 0, got -1"),
        ("--context_seconds", "-2", "must be a finite number of seconds >= 0, got -2"),
        ("--chunk_seconds", "soon", "not a number: 'soon'"),
    ],
)
def test_bad_durations_are_argument_errors(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as exc:
        run("encode", tmp_path / "a.wav", tmp_path / "a.p2p", option, value)
    assert exc.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    "subtype, output, message",
    [
        ("PCM_99", "x.wav", "--subtype PCM_99: unknown"),
        ("FLOAT", "x.flac", "--subtype FLOAT cannot be written as FLAC"),
    ],
)
def test_bad_subtypes_are_one_line(tmp_path, packed_models, capsys, subtype, output, message):
    sf.write(tmp_path / "a.wav", speech(0.5), 16000)
    run("encode", tmp_path / "a.wav", tmp_path / "a.p2p", "--model", packed_models)
    capsys.readouterr()
    assert run("decode", tmp_path / "a.p2p", tmp_path / output, "--subtype", subtype, "--model", packed_models) == 1
    assert message in last_error(capsys) and not (tmp_path / output).exists()


@pytest.mark.parametrize(
    "device, message",
    [
        ("cuda", "no CUDA GPU is available here"),
        ("tpu9", "not a device"),
    ],
)
def test_unusable_devices_are_one_line(tmp_path, packed_models, capsys, device, message):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    sf.write(tmp_path / "a.wav", speech(0.5), 16000)
    assert run("encode", tmp_path / "a.wav", tmp_path / "a.p2p", "--device", device, "--model", packed_models) == 1
    assert message in last_error(capsys)


def test_help_info_and_argument_errors_answer_without_torch(tmp_path, packed_models):
    """Importing the package loads neither torch nor ESPnet (the codecs register when
    ESPnet's codec task is imported), so --help, info and argument errors are quick."""
    import subprocess
    import time

    sf.write(tmp_path / "a.wav", speech(0.5), 16000)
    assert run("encode", tmp_path / "a.wav", tmp_path / "a.p2p", "--model", packed_models) == 0
    probe = "\n".join(
        [
            "import sys",
            "from espnet2_p2p.bin.p2p_codec import main",
            "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code",
            "assert 'torch' not in sys.modules and 'espnet2' not in sys.modules, 'heavy import'",
            "sys.exit(code)",
        ]
    )
    start = time.time()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    torch_import = time.time() - start
    # a format-4 file names its model; a packed zip's meta.json gives its layout without torch
    info = ["info", str(tmp_path / "a.p2p"), "--model", str(packed_models)]
    for argv, code in ((info, 0), (["--help"], 0), (["encode"], 2)):
        start = time.time()
        proc = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True)
        seconds = time.time() - start
        assert proc.returncode == code, proc.stderr[-500:]
        assert "heavy import" not in proc.stderr
        # a third of importing torch (they take about a tenth here)
        assert seconds < torch_import / 3, f"{argv}: {seconds:.2f} s, import torch {torch_import:.2f} s"
    from espnet2.tasks.gan_codec import GANCodecTask

    import espnet2_p2p  # noqa: F401

    assert {"p2psyn", "secousti"} <= set(GANCodecTask.class_choices_list[0].classes)


def test_a_zip_bomb_model_is_refused_unread(tmp_path, packed_models, monkeypatch):
    """A packed zip whose model member inflates far beyond what a model of its config can
    be is refused before a byte of it is inflated; a corrupt deflate stream is one line."""
    import tracemalloc
    import zipfile

    from espnet2_p2p.errors import ModelLoadError
    from espnet2_p2p.model_io import load_codec

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(packed_models) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.json", src.read("meta.json"))
        zf.writestr("student/config.yaml", src.read("student/config.yaml"))
        with zf.open("student/model.pth", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(300):  # 300 MB of zeros, about 300 KB compressed
                member.write(block)
    assert bomb.stat().st_size < 2_000_000
    tracemalloc.start()
    with pytest.raises(
        ModelLoadError, match=r"student/model.pth holds 314572800 bytes, more than a model of its config can"
    ):
        load_codec(bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 100_000_000
    # a deflate stream damaged in the middle of the model member
    broken = tmp_path / "broken.zip"
    data = bytearray(packed_models.read_bytes())
    with zipfile.ZipFile(packed_models) as zf:
        info = zf.getinfo("student/model.pth")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    if info.compress_type == zipfile.ZIP_DEFLATED:
        for i in range(start + 100, start + 200):
            data[i] ^= 0x5A
        broken.write_bytes(bytes(data))
        with pytest.raises(ModelLoadError, match="broken.zip"):
            load_codec(broken, "student")


@pytest.mark.parametrize("name", ["out.ogg", "out.mp3", "out.WAVE"])
def test_decode_writes_only_the_formats_it_names(tmp_path, packed_models, capsys, name):
    """Issue 29 (14): out.ogg got WAV bytes and exit 0."""
    sf.write(tmp_path / "a.wav", speech(0.5), 16000)
    assert run("encode", tmp_path / "a.wav", tmp_path / "a.p2p", "--model", packed_models) == 0
    assert run("decode", tmp_path / "a.p2p", tmp_path / name, "--model", packed_models) == 1
    assert "decode writes .wav or .flac files" in last_error(capsys)
    assert not (tmp_path / name).exists()


def test_an_output_that_is_a_directory_is_named(tmp_path, packed_models, capsys):
    """Issue 29 (15): the error named the hidden temporary file."""
    sf.write(tmp_path / "a.wav", speech(0.5), 16000)
    assert run("encode", tmp_path / "a.wav", tmp_path / "a.p2p", "--model", packed_models) == 0
    (tmp_path / "out" / "a.wav").mkdir(parents=True)
    assert run("decode", tmp_path / "a.p2p", tmp_path / "out", "--model", packed_models) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'out' / 'a.wav'}: Is a directory" in err and ".tmp" not in err


def test_quiet_prints_nothing(tmp_path, packed_models):
    """Issue 29 (16): -q still printed ESPnet's flash-attention notice and a FutureWarning."""
    import subprocess

    sf.write(tmp_path / "a.wav", speech(0.5), 16000)
    cmd = p2p_codec_command("encode", tmp_path / "a.wav", tmp_path / "a.p2p", "--model", packed_models, "-q")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", (proc.stdout, proc.stderr)


@pytest.mark.parametrize("sig, code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_while_decoding_leaves_nothing_and_says_one_line(tmp_path, packed_models, sig, code):
    """Issue 29 (13): SIGTERM left a hidden temporary file behind, SIGINT printed a traceback."""
    import signal
    import subprocess
    import time

    sf.write(tmp_path / "long.wav", speech(240.0), 16000)
    assert run("encode", tmp_path / "long.wav", tmp_path / "long.p2p", "--model", packed_models, "-q") == 0
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        p2p_codec_command(
            "decode", tmp_path / "long.p2p", out / "long.wav", "--model", packed_models, "-q", "--chunk_seconds", 5
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a job started in the background by a script inherits SIGINT ignored, and Python then
        # honours that (no KeyboardInterrupt): give the CLI the disposition a terminal gives it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while not list(out.glob(".*.tmp*")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the decode ended before it could be interrupted"
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err[-500:]
    assert len(err.strip().splitlines()) == 1 and "no partial output" in err
    assert list(out.iterdir()) == []


# ------------------------------------------------------- faults (issue 42, item 8)
def test_a_full_disk_is_one_line_per_file_and_the_run_goes_on(tmp_path, packed_models):
    """``ulimit -f 100``: the file that does not fit was a 35-line LibsndfileError traceback
    that stopped the run; now one line, the others are decoded, the count is said."""
    import resource
    import subprocess

    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for name, seconds in (("a", 0.5), ("big", 4.0), ("c", 0.5)):  # 4 s: 128 KB of PCM_16
        sf.write(tmp_path / f"{name}.wav", speech(seconds), 16000)
        assert run("encode", tmp_path / f"{name}.wav", src / f"{name}.p2p", "--model", packed_models, "-q") == 0

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100 * 1024, 100 * 1024))

    proc = subprocess.run(
        p2p_codec_command("decode", src, out, "--model", packed_models, "-q"),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=small_files,
    )
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert err[-1] == "p2p-codec: 1 of 3 inputs failed" and len(err) == 2, err
    assert err[0].startswith(f"p2p-codec: error: {src / 'big.p2p'} -> {out / 'big.wav'}: ") and "cannot write" in err[0]
    assert sorted(p.name for p in out.iterdir()) == ["a.wav", "c.wav"]  # no partial big.wav, no temporary file


def test_a_closed_stdout_ends_info_quietly(tmp_path, packed_models):
    """``p2p-codec info a.p2p | head -3`` printed a BrokenPipeError traceback."""
    import subprocess

    sf.write(tmp_path / "a.wav", speech(0.5), 16000)
    assert run("encode", tmp_path / "a.wav", tmp_path / "a.p2p", "--model", packed_models, "-q") == 0
    # enough files that the output outgrows the pipe: the reader closes it mid-way
    cmd = p2p_codec_command("info", *[tmp_path / "a.p2p"] * 2000, "--model", packed_models)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    head = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 141
    assert head[0].startswith("file: ") and err == ""
