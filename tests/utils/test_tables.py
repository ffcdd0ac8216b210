"""One reader of Kaldi tables (issue 42, item 1): an id given twice is refused in every
tool that reads a wav.scp, text or segments, with one line naming the file and both lines."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet2_p2p.utils.tables import TableError, read_kaldi_table, table_kind

ROOT = Path(__file__).resolve().parents[2]


def test_tables_read_in_order_with_tabs_and_empty_values(tmp_path):
    (tmp_path / "text").write_text("u2\thello world\n\nu1\n")
    assert read_kaldi_table(tmp_path / "text") == {"u2": "hello world", "u1": ""}
    (tmp_path / "segments").write_text("s1 rec1 0.0 1.5\ns2 rec1 1.5 -1\n")
    assert list(read_kaldi_table(tmp_path / "segments")) == ["s1", "s2"]
    assert [table_kind(Path(n)) for n in ("wav.scp", "ref.scp", "text", "segments", "utt2spk")] == [
        "wav.scp",
        "wav.scp",
        "text",
        "segments",
        "table",
    ]


@pytest.mark.parametrize(
    "name, lines, message",
    [
        ("wav.scp", ["u1 a.wav", "u2 b.wav", "u1 c.wav"], "wav.scp:3: the id 'u1' appears twice (also on line 1)"),
        ("text", ["u1 hello", "u1 world"], "text:2: the id 'u1' appears twice (also on line 1)"),
        ("segments", ["s1 r 0 1", "s1 r 1 2"], "segments:2: the id 's1' appears twice"),
        ("utt2spk", ["u1 a", "u1 b"], "utt2spk:2: the id 'u1' appears twice"),
        ("wav.scp", ["u1"], "wav.scp:1: expected '<id> <path>', got 'u1' without a path"),
        ("wav.scp", ["u1 sox a.wav -t wav - |"], "wav.scp:1: u1 is a command"),
        ("segments", ["s1 r 2 1"], "segments:1: expected '<utt> <recording> <start> <end>'"),
        ("segments", ["s1 r zero 1"], "segments:1: expected"),
        ("segments", ["s1 r 0 nan"], "segments:1: expected"),
    ],
)
def test_a_repeated_id_or_a_bad_line_is_one_line_naming_the_file(tmp_path, name, lines, message):
    (tmp_path / name).write_text("\n".join(lines) + "\n")
    with pytest.raises(TableError) as err:
        read_kaldi_table(tmp_path / name)
    assert message in str(err.value) and str(tmp_path / name) in str(err.value) and "\n" not in str(err.value)


def test_a_table_that_is_not_a_regular_file_is_refused_at_once(tmp_path):
    import os

    os.mkfifo(tmp_path / "wav.scp")  # reading a FIFO would wait for a writer forever
    with pytest.raises(TableError, match="not a regular file"):
        read_kaldi_table(tmp_path / "wav.scp")
    with pytest.raises(TableError, match="cannot read"):
        read_kaldi_table(tmp_path / "missing" / "text")


def _data_dir(tmp_path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    t = np.arange(8000) / 16000
    for i, name in enumerate(("a", "b")):
        sf.write(data / f"{name}.wav", (0.1 * np.sin(2 * np.pi * (200 + 100 * i) * t)).astype(np.float32), 16000)
    (data / "wav.scp").write_text(f"u1 {data / 'a.wav'}\nu1 {data / 'b.wav'}\n")
    return data


def test_dump_tokens_refuses_a_repeated_id_and_writes_nothing(tmp_path):
    """The issue's case: two files of one id; before, the second alone was dumped (exit 0)."""
    data, out = _data_dir(tmp_path), tmp_path / "tokens"
    model = ROOT / "espnet2_p2p" / "pretrained" / "speechocean762_long_ft.zip"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet2_p2p.bin.dump_tokens",
            "--model",
            str(model),
            "--data_dir",
            str(data),
            "--output_dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"dump_tokens: {data / 'wav.scp'}:2: the id 'u1' appears twice (also on line 1): its lines would"
        " overwrite each other; keep one"
    ]
    assert not out.exists()


@pytest.mark.parametrize("tool", ["decode", "frame_labels", "token_probe", "prepare"])
def test_every_tool_reading_a_data_dir_refuses_a_repeated_id(tmp_path, capsys, tool):
    data = _data_dir(tmp_path)
    (data / "text").write_text("u1 hello\n")
    (data / "utt2spk").write_text("u1 s1\n")
    if tool == "decode":
        from espnet2_p2p.bin.decode import main

        (tmp_path / "c.yaml").write_text("codec: p2psyn\n")
        (tmp_path / "m.pth").write_bytes(b"")
        argv = [
            "--data_dir",
            str(data),
            "--output_dir",
            str(tmp_path / "o"),
            "--system",
            f"s:{tmp_path / 'c.yaml'}:{tmp_path / 'm.pth'}",
        ]
    elif tool == "frame_labels":
        from espnet2_p2p.bin.frame_labels import main

        argv = [
            "--data_dir",
            str(data),
            "--out_dir",
            str(tmp_path / "o"),
            "--unit",
            "char",
            "--unit_list",
            str(tmp_path / "units"),
        ]
    elif tool == "token_probe":
        from espnet2_p2p.bin.token_probe import main

        argv = ["--data_dir", str(data), "--model", "x.zip", "--output", str(tmp_path / "o.md")]
    else:
        from espnet2_p2p.data.prepare import import_kaldi_dir as main

        (data / "wav.scp").write_text(f"u1 {data / 'a.wav'}\n")
        (data / "text").write_text("u1 hello\nu1 world\n")
        with pytest.raises(TableError, match=r"text:2: the id 'u1' appears twice"):
            main(data, tmp_path, None)
        return
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    message = str(exit_.value.code)
    assert message.startswith(f"{tool}: error: {data}/") and "the id 'u1' appears twice" in message
    assert "\n" not in message and not (tmp_path / "o").exists()
