"""Every student config is its teacher's codec plus the student's own keys (issue 28, item 8):
a student that differs from its teacher in the codec part fails only when the teacher's
weights are loaded, after its training has started."""

from pathlib import Path

import pytest

from conftest import CONF, ROOT, load_config

STUDENT_KEYS = {"quantizer_mode", "predictor_conf", "pseudo_codeword", "finetune_decoder", "lambda_ce"}
PAIRS = [
    ("teacher_tiny", "student_tiny"),
    ("teacher_small", "student_small"),
    ("teacher_small", "student_small_ft"),
    ("teacher_causal_small", "student_causal_small"),
    ("teacher_causal_small", "student_causal_small_ft"),
    ("teacher", "student"),
    ("teacher_48k", "student_48k"),
    ("teacher_long", "student_long"),
    ("teacher_long", "student_long_ft"),
]
SINGLES = [("teacher_small", "single_small"), ("teacher_long", "single_long")]


def codec_conf(name: str) -> dict:
    return load_config(f"{name}.yaml")["codec_conf"]


@pytest.mark.parametrize("teacher, student", PAIRS)
def test_a_student_is_its_teachers_codec(teacher, student):
    t, s = codec_conf(teacher), codec_conf(student)
    assert s.get("quantizer_mode") == "student"
    shared = {k: v for k, v in s.items() if k not in STUDENT_KEYS}
    differ = sorted(k for k in set(shared) | set(t) if shared.get(k) != t.get(k))
    assert not differ, f"{student}.yaml differs from {teacher}.yaml in {differ}"


@pytest.mark.parametrize("teacher, single", SINGLES)
def test_a_single_vq_control_is_its_teacher_without_residual_levels(teacher, single):
    t, s = codec_conf(teacher), codec_conf(single)
    assert s["num_pseudo"] == 0
    differ = sorted(
        k for k in set(s) | set(t) if k not in ("num_pseudo", "pseudo_codebook_size") and s.get(k) != t.get(k)
    )
    assert not differ, f"{single}.yaml differs from {teacher}.yaml in {differ}"


# ------------------------------------------------- configs as overrides of a base config
def raw(name: str) -> dict:
    import yaml

    return yaml.safe_load((CONF / f"{name}.yaml").read_text())


@pytest.mark.parametrize(
    "name", sorted({s for _, s in PAIRS + SINGLES} | {"teacher_causal_small", "teacher_long", "teacher_48k"})
)
def test_a_variant_is_written_as_what_differs_from_its_base(name):
    """No variant restates its teacher's codec block: its file names a base and holds a few
    of the codec's keys at most (the whole block is about 15)."""
    config = raw(name)
    assert "base" in config, f"{name}.yaml copies a config instead of naming a base"
    assert len(config.get("codec_conf", {})) <= 6, f"{name}.yaml restates {sorted(config['codec_conf'])}"


def test_merging_and_its_refusals(tmp_path):
    from espnet2_p2p.errors import P2PError
    from espnet2_p2p.utils.config import load_config as merged
    from espnet2_p2p.utils.config import resolved_argv

    (tmp_path / "a.yaml").write_text("codec: p2psyn\ncodec_conf: {x: 1, y: {p: 1, q: 2}}\nlist: [1, 2]\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\ncodec_conf: {y: {q: 3}}\nlist: [9]\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text("base: ../b.yaml\nmax_epoch: 2\n")
    assert merged(tmp_path / "sub" / "c.yaml") == {
        "codec": "p2psyn",
        "codec_conf": {"x": 1, "y": {"p": 1, "q": 3}},
        "list": [9],
        "max_epoch": 2,
    }
    (tmp_path / "loop1.yaml").write_text("base: loop2.yaml\n")
    (tmp_path / "loop2.yaml").write_text("base: loop1.yaml\n")
    with pytest.raises(P2PError, match="loop: loop1.yaml -> loop2.yaml -> loop1.yaml"):
        merged(tmp_path / "loop1.yaml")
    (tmp_path / "missing.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(P2PError, match="nowhere.yaml: cannot read"):
        merged(tmp_path / "missing.yaml")
    # the trainer gets a complete file; a config without a base is passed as it is
    argv = resolved_argv(["--config", str(tmp_path / "sub" / "c.yaml"), "--ngpu", "0"])
    assert argv[0] == "--config" and argv[1] != str(tmp_path / "sub" / "c.yaml") and argv[2:] == ["--ngpu", "0"]
    import yaml

    assert yaml.safe_load(open(argv[1])) == merged(tmp_path / "sub" / "c.yaml")
    assert resolved_argv([f"--config={tmp_path / 'a.yaml'}"]) == [f"--config={tmp_path / 'a.yaml'}"]


def test_espnet_accepts_every_merged_config():
    """ESPnet's parser takes each merged config as its --config (no unknown option)."""
    from espnet2.tasks.gan_codec import GANCodecTask

    import espnet2_p2p  # noqa: F401
    from espnet2_p2p.utils.config import resolved_argv

    parser = GANCodecTask.get_parser()
    for name in sorted({s for _, s in PAIRS + SINGLES}):
        args = parser.parse_args(resolved_argv(["--config", str(CONF / f"{name}.yaml")]))
        assert args.codec == "p2psyn" and args.codec_conf == load_config(f"{name}.yaml")["codec_conf"]


def test_the_command_line_prints_a_merged_value_dotted_keys_included(capsys):
    from espnet2_p2p.utils.config import main

    assert main([str(CONF / "student_long_ft.yaml"), "max_epoch"]) == 0
    assert capsys.readouterr().out.strip() == "90"
    assert main([str(CONF / "student_long_ft.yaml"), "optim_conf.lr"]) == 0  # from its own file
    assert float(capsys.readouterr().out) == 4.0e-4
    assert main([str(CONF / "student_long_ft.yaml"), "optim_conf.betas"]) == 0  # from the base chain
    assert capsys.readouterr().out.split() == ["-", "0.8", "-", "0.99"]
    assert main([str(CONF / "student_long_ft.yaml"), "optim_conf.nothing.deeper"]) == 0
    assert capsys.readouterr().out.strip() == ""


@pytest.mark.parametrize("name", ["secousti_21hz_small", "secousti_21hz_long"])
def test_the_speechocean762_secousti_budgets_keep_the_21_hz_point(name):
    """The CPU budgets of run.sh --codec secousti code at secousti_21hz.yaml's rate: the same
    hop (768 samples, 20.83 Hz) and FSQ levels (13 bits a frame: 270.8 bit/s)."""
    paper, small = codec_conf("secousti_21hz"), codec_conf(name)
    for conf in (paper, small):
        assert conf["mdct_hop_length"] * conf["downsample"] == 768
    assert small["fsq_levels"] == paper["fsq_levels"] and small["sampling_rate"] == paper["sampling_rate"]
    config = load_config(f"{name}.yaml")
    assert config["chunk_length"] % 768 == 0
    if name.endswith("_long"):  # the campaign: the small budget trained longer, nothing else
        assert raw(name)["base"] == "secousti_21hz_small.yaml" and small == codec_conf("secousti_21hz_small")


# ------------------------------------- hostile bases (issue 42, item 2): one line, at once
def _config_cli(tmp_path, config: Path, seconds: float = 20):
    """``python -m espnet2_p2p.utils.config CONFIG`` within 4 GB of address space."""
    import resource
    import subprocess
    import sys
    import time

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "espnet2_p2p.utils.config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
        cwd=tmp_path,
    )
    assert time.perf_counter() - start < seconds
    return run


@pytest.mark.parametrize(
    "base, message",
    [
        ("fifo.yaml", "not a regular file (a FIFO)"),
        ("/dev/zero", "must be a .yaml file named relative to the config's folder"),
        ("zero.yaml", "not a regular file (a device or socket)"),
        ("deep.yaml", "nests mappings or lists more than 64 deep"),
        ("/etc/passwd", "must be a .yaml file named relative"),
        ("../../../../../../../../../../etc/passwd", "must be a .yaml file named relative"),
        ("../../..", "must be a .yaml file named relative"),
        ("sub.yaml", "not a regular file (a folder)"),
        ("big.yaml", "more than 1048576"),
        ("binary.yaml", "is not text (UTF-8)"),
        (7, "base must be a file name, got 7"),
    ],
)
def test_a_hostile_base_is_one_line_at_once(tmp_path, base, message):
    import os

    os.mkfifo(tmp_path / "fifo.yaml")  # reading it used to block forever
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")  # read to 3.8 GB, then a MemoryError
    (tmp_path / "deep.yaml").write_text("[" * 100_000 + "]" * 100_000)  # a RecursionError
    (tmp_path / "sub.yaml").mkdir()
    (tmp_path / "big.yaml").write_text("# padding\n" * 200_000)
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00" * 100)
    config = tmp_path / "conf" / "f.yaml"
    config.parent.mkdir()
    config.write_text(f"base: {'../' + base if isinstance(base, str) and not base.startswith(('/', '.')) else base}\n")
    run = _config_cli(tmp_path, config)
    assert run.returncode == 1 and run.stdout == ""
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("config: error: ") and message in line and "Traceback" not in run.stderr


def test_the_shipped_and_recipe_configs_read_as_before():
    """The recipes' configs name a shared config outside their folder by a relative path."""
    from espnet2_p2p.utils.config import load_config as merged

    wide = ROOT / "egs2" / "speechocean762" / "codec1" / "conf" / "student_small_wide.yaml"
    assert merged(wide)["codec_conf"]["quantizer_mode"] == "student"
    for path in sorted(CONF.glob("*.yaml")):
        assert isinstance(merged(path), dict)


@pytest.mark.slow
def test_fuzzed_bases_are_a_config_or_one_line(tmp_path):
    """Random bytes, random YAML nesting and aliases as a base: a mapping or a P2PError,
    never another exception, each within a second."""
    import random
    import time

    from espnet2_p2p.errors import P2PError
    from espnet2_p2p.utils.config import load_config as merged

    rng = random.Random(42)
    (tmp_path / "f.yaml").write_text("base: b.yaml\nx: 1\n")
    pieces = [
        "[",
        "]",
        "{",
        "}",
        "a: ",
        "- ",
        "&x ",
        "*x ",
        "\n",
        "  ",
        "1",
        "'",
        '"',
        ":",
        ",",
        "!!python/object ",
        "\t",
    ]
    for trial in range(400):
        if trial % 3 == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        elif trial % 3 == 1:
            data = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 400))).encode()
        else:
            depth = rng.randrange(1, 3000)
            data = ("a: " + "{b: " * depth + "1" + "}" * depth + "\n").encode()
        (tmp_path / "b.yaml").write_bytes(data)
        start = time.perf_counter()
        try:
            assert merged(tmp_path / "f.yaml")["x"] == 1
        except P2PError as e:
            assert "\n" not in str(e) and "b.yaml" in str(e)
        assert time.perf_counter() - start < 1.0
