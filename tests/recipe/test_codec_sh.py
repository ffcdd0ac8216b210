"""The recipe driver egs2/TEMPLATE/codec1/codec.sh: options, data prep for every corpus
layout, CPU distributed training through the launcher path, and resuming after a kill."""

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODEC_SH = ROOT / "egs2" / "TEMPLATE" / "codec1" / "codec.sh"
sys.path.insert(0, str(ROOT / "tests" / "data"))
from fake_corpora import make_libritts, make_speechocean762, make_vctk  # noqa: E402

TINY_TRAIN = "--num_iters_per_epoch 2 --batch_size 2 --chunk_length 3200 --use_tensorboard false --use_matplotlib false"


def env():
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}:{e['PATH']}"
    return e


def sh(args, cwd, check=True, **kw):
    proc = subprocess.run(
        ["bash", *map(str, args)], cwd=cwd, env=env(), capture_output=True, text=True, timeout=900, **kw
    )
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def recipe_copy(tmp_path, name):
    """egs2/<name>/codec1 (its run.sh and local/) copied beside links to the real TEMPLATE and conf."""
    (tmp_path / "egs2" / name / "codec1").mkdir(parents=True)
    (tmp_path / "egs2" / "TEMPLATE").symlink_to(ROOT / "egs2" / "TEMPLATE")
    (tmp_path / "conf").symlink_to(ROOT / "conf")
    recipe = tmp_path / "egs2" / name / "codec1"
    if (ROOT / "egs2" / name / "codec1" / "run.sh").exists():
        (recipe / "run.sh").write_text((ROOT / "egs2" / name / "codec1" / "run.sh").read_text())
    if (ROOT / "egs2" / name / "codec1" / "local").is_dir():
        shutil.copytree(ROOT / "egs2" / name / "codec1" / "local", recipe / "local")
    return recipe


def test_help_and_bad_options(tmp_path):
    out = sh([CODEC_SH, "--help"], tmp_path).stdout
    assert "8  packing" in out and "--cpu_procs" in out and "--num_nodes" in out
    proc = sh([CODEC_SH, "--no_such_option", "1"], tmp_path, check=False)
    assert proc.returncode != 0 and "unknown option --no_such_option" in proc.stderr
    proc = sh([CODEC_SH, "--stage", "7", "--stop_stage", "7"], tmp_path, check=False)
    assert proc.returncode != 0 and "valid.ce_loss.best.pth is missing: run stage 4" in proc.stderr
    proc = sh([CODEC_SH, "--stage", "7", "--stop_stage", "7", "--skip_token_dump", "true"], tmp_path)
    assert "token dump skipped" in proc.stdout
    proc = sh(
        [CODEC_SH, "--stage", "1", "--stop_stage", "1", "--corpus", "folder", "--corpus_dir", tmp_path / "missing"],
        tmp_path,
        check=False,
    )
    assert proc.returncode != 0
    assert "corpus directory" in proc.stderr and "missing does not exist" in proc.stderr
    assert not (tmp_path / "data" / "manifests" / ".done").exists()


@pytest.mark.parametrize("name, fs", [("libritts", 16000), ("vctk", 48000)])
def test_corpus_recipes_run_through_data_prep(tmp_path, name, fs):
    import soundfile as sf

    corpus = make_libritts(tmp_path / "src") if name == "libritts" else make_vctk(tmp_path / "src")
    recipe = recipe_copy(tmp_path, name)
    sh([recipe / "run.sh", "--corpus_dir", corpus, "--stop_stage", "2", "--min_duration", "0.1"], recipe)
    for split in ("train", "dev", "test"):
        scp = recipe / "dump" / split / "wav.scp"
        first = scp.read_text().split("\n")[0].split()[1]
        assert sf.info(first).samplerate == fs
    # A finished stage is not redone.
    proc = sh([recipe / "run.sh", "--corpus_dir", corpus, "--stop_stage", "2"], recipe)
    assert "skipping" in proc.stdout


def read_col(path, col=1):
    return {line.split()[0]: line.split()[col] for line in Path(path).read_text().splitlines() if line.strip()}


def speechocean762_with_real_clips(tmp_path):
    """A fake corpus of the OpenSLR 101 layout, a copy of the recipe, and a folder of two of
    the corpus' utterances that stands for the real clips."""
    corpus = make_speechocean762(tmp_path / "src")
    recipe = recipe_copy(tmp_path, "speechocean762")
    real = tmp_path / "real"
    real.mkdir()
    for wav in sorted((corpus / "WAVE" / "SPEAKER0002").glob("*.WAV"))[:2]:
        shutil.copy(wav, real / (wav.stem + ".wav"))
    return corpus, recipe, real


def test_speechocean762_recipe_splits_speakers_apart(tmp_path):
    """run.sh through stage 2 on a fake corpus of the OpenSLR 101 layout: test speakers are
    every 5th of the corpus' test list, and no test speaker is in train or dev."""
    corpus, recipe, real = speechocean762_with_real_clips(tmp_path)
    proc = sh(
        [
            recipe / "run.sh",
            "--corpus_dir",
            corpus,
            "--stop_stage",
            "2",
            "--real_speech_dir",
            real,
            "--min_duration",
            "0.1",
        ],
        recipe,
    )
    speakers = {s: set(read_col(recipe / "dump" / s / "utt2spk").values()) for s in ("train", "dev", "test")}
    assert speakers["test"] == {"0005", "0010"}  # the 5th and 10th of the test list's 10
    assert not speakers["test"] & (speakers["train"] | speakers["dev"])
    assert speakers["dev"] and speakers["dev"] <= speakers["train"]  # dev: utterances of training speakers
    utts = {s: set(read_col(recipe / "dump" / s / "wav.scp")) for s in ("train", "dev", "test")}
    assert not utts["train"] & utts["dev"] and len(utts["dev"]) == 2 * len(speakers["dev"])
    assert sum(map(len, utts.values())) == 15 * 3  # every listed utterance, the unlisted one in none
    assert len(read_col(recipe / "dump" / "real_speech" / "wav.scp")) == 2
    assert read_col(recipe / "dump" / "test" / "text")["000500000"] != ""
    assert "real clips" in proc.stdout


@pytest.mark.slow
def test_speechocean762_recipe_trains_and_codes_secousti(tmp_path):
    """run.sh --codec secousti on a fake corpus, stages 1-8 with a few training steps of
    conf/secousti_21hz_small.yaml: labels from the lowercased transcripts, the training
    (then continued for one more epoch, as a campaign is), .p2p files of both sets that
    p2p-codec decodes, RESULTS_secousti.md and the packed model."""
    import json

    import soundfile as sf

    corpus, recipe, real = speechocean762_with_real_clips(tmp_path)
    exp = tmp_path / "exp"
    tiny = "--num_iters_per_epoch 4 --batch_size 2 --use_tensorboard false --use_matplotlib false"
    base = ["--codec", "secousti", "--corpus_dir", corpus, "--real_speech_dir", real, "--train_args", tiny]
    base += ["--min_duration", "0.1"]
    common = [*base, "--expdir", exp]
    proc = sh([recipe / "run.sh", *common, "--teacher_max_epoch", "1"], recipe)
    assert "SecoustiCodec, one training on one thread" in proc.stdout and "no student stage" in proc.stdout
    info = json.loads((recipe / "dump" / "train" / "frame_labels" / "info.json").read_text())
    assert info["text_norm"] == "lower" and info["unknown_units"] == 0
    config = (exp / "secousti" / "config.yaml").read_text()
    assert "downsample: 32" in config and "num_text_units: 128" in config  # the 21 Hz point, small
    assert (exp / "secousti" / "valid.mel_l1_loss.best.pth").exists()
    assert not (exp / "teacher").exists() and not (exp / "queue_a.log").exists()
    for set_name in ("test", "real_speech"):
        wavs = read_col(recipe / "dump" / set_name / "wav.scp")
        p2p = sorted((exp / f"decode_secousti_{set_name}" / "secousti" / "bitstreams").glob("*.p2p"))
        assert [p.stem for p in p2p] == sorted(wavs), set_name
    first = p2p[0]
    out = tmp_path / "decoded.wav"
    run = subprocess.run(
        [sys.executable, "-m", "espnet2_p2p.bin.p2p_codec", "decode", first, out, "--model", exp / "secousti", "-q"],
        capture_output=True,
        text=True,
        env=env(),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert sf.info(str(out)).frames == sf.info(wavs[first.stem]).frames
    results = (recipe / "RESULTS_secousti.md").read_text()
    for set_name in ("test", "real_speech"):
        section = results.split(f"## {set_name}\n", 1)[1]
        assert re.search(r"^\| secousti \| 0\.27\d* \|", section, re.M), results
    assert "| secousti | 6561 |" in results  # the token probe's row
    assert (exp / "secousti_packed.zip").exists() and (recipe / "dump" / "tokens_secousti" / "test" / ".done").exists()
    # Continuing (a campaign's next session): the training resumes from its checkpoint, here
    # validating on one utterance of dev and its labels (--valid_utts, as the campaign does).
    more = ["--stage", "3", "--stop_stage", "3", "--teacher_max_epoch", "2", "--valid_utts", "1"]
    sh([recipe / "run.sh", *common, *more], recipe)
    log = (exp / "secousti" / "train.log").read_text()
    assert log.count("1epoch results") == 1 and log.count("2epoch results") == 1
    config = (exp / "secousti" / "config.yaml").read_text()
    assert "dump/dev_1/wav.scp" in config and "dump/dev_1/frame_labels/frame_labels.scp" in config
    assert len(read_col(recipe / "dump" / "dev_1" / "wav.scp")) == 1
    # On a machine with the packed model and no experiment (run.sh --restore): it comes back
    # as the finished secousti/, stage 3 skips it and stage 5 decodes with it.
    again = tmp_path / "exp_restored"
    restore = ["--expdir", again, "--restore", exp / "secousti_packed.zip", "--stage", "3", "--stop_stage", "5"]
    restored = sh([recipe / "run.sh", *base, *restore], recipe)
    assert "restored from a packed model" in restored.stdout and not (again / "secousti" / "train.log").exists()
    p2p = sorted((again / "decode_secousti_test" / "secousti" / "bitstreams").glob("*.p2p"))
    assert [p.stem for p in p2p] == sorted(read_col(recipe / "dump" / "test" / "wav.scp"))


def test_speechocean762_bad_corpus_stops_with_one_line(tmp_path):
    corpus = make_speechocean762(tmp_path / "src", test_speakers=5, train_speakers=1, utts_per_speaker=1)
    recipe = recipe_copy(tmp_path, "speechocean762")
    args = ["--stop_stage", "2", "--real_speech_dir", tmp_path / "none"]
    proc = sh([recipe / "run.sh", "--corpus_dir", tmp_path / "nowhere", *args], recipe, check=False)
    assert proc.returncode != 0 and "nowhere does not exist" in proc.stderr
    victim = next((corpus / "WAVE" / "SPEAKER0003").glob("*.WAV"))
    victim.write_bytes(b"RIFF not audio")
    proc = sh([recipe / "run.sh", "--corpus_dir", corpus, *args], recipe, check=False)
    assert proc.returncode != 0
    assert f"cannot read audio file {victim.resolve()}" in proc.stderr.splitlines()[-1]
    assert not (recipe / "data" / "manifests" / ".done").exists()
    assert not (recipe / "dump").exists()


def prepared_recipe(tmp_path, espeak_corpus):
    recipe = recipe_copy(tmp_path, "unit")
    sh([CODEC_SH, "--stop_stage", "2", *espeak_options(espeak_corpus)], recipe)
    return recipe


def espeak_options(corpus) -> list:
    """codec.sh's options for the espeak-ng corpus, validated on its test set."""
    return ["--corpus", "espeak", "--corpus_dir", corpus, "--valid_set", "test", "--min_duration", "0.1"]


STAGE3 = ["--stage", "3", "--stop_stage", "3", "--valid_set", "test"]  # the training stage, validated on test


def teacher_stage(recipe, *extra):
    return [
        CODEC_SH,
        *STAGE3,
        "--train_config",
        ROOT / "conf" / "teacher_tiny.yaml",
        "--train_args",
        TINY_TRAIN,
        *extra,
    ]


@pytest.mark.slow  # over 30 s on 2 cores: make test-slow
def test_cpu_distributed_training_with_two_processes(tmp_path, espeak_corpus):
    recipe = prepared_recipe(tmp_path, espeak_corpus)
    sh(teacher_stage(recipe, "--cpu_procs", "2", "--teacher_max_epoch", "1"), recipe)
    import yaml

    exp = recipe / "exp" / "teacher"
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["dist_backend"] == "gloo" and config["dist_init_method"] == "env://"
    log = (exp / "train.log").read_text()
    assert re.search(r"^\[\S+:0/2\] .*1epoch results", log, re.M)  # rank 0 of a world of 2
    assert (recipe / "exp" / "teacher" / "1epoch.pth").exists()


# A stand-in for Slurm on one machine: `scontrol show hostnames` lists localhost once per
# node and `srun --nodes M --ntasks-per-node 1 CMD` starts CMD M times with the task's
# Slurm variables, waiting for all. codec.sh's own srun + torchrun command lines run
# unchanged; only the scheduler is local.
FAKE_SCONTROL = """#!/bin/bash
for _ in $(seq "${FAKE_NODES}"); do echo localhost; done
"""
FAKE_SRUN = """#!/bin/bash
nodes=1
while [[ "$1" == --* ]]; do
    case "$1" in --nodes) nodes=$2; shift 2;; --ntasks-per-node) shift 2;; *) shift;; esac
done
pids=()
for ((i = 0; i < nodes; i++)); do SLURM_NODEID=$i SLURM_PROCID=$i "$@" & pids+=($!); done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
"""


def free_port() -> int:
    """A TCP port nothing listens on now (the rendezvous port of a test training)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # 58 s; DDP itself stays in make test (test_cpu_distributed_training_with_two_processes)
def test_multi_node_training_through_the_slurm_launcher(tmp_path, espeak_corpus):
    recipe = prepared_recipe(tmp_path, espeak_corpus)
    bin_dir = tmp_path / "fake_slurm"
    bin_dir.mkdir()
    for name, text in [("scontrol", FAKE_SCONTROL), ("srun", FAKE_SRUN)]:
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    e = env()
    e.update(
        PATH=f"{bin_dir}:{e['PATH']}",
        FAKE_NODES="2",
        SLURM_JOB_NODELIST="fake[1-2]",
        SLURM_JOB_ID="4242",
        MASTER_PORT=str(free_port()),
    )
    args = teacher_stage(
        recipe, "--num_nodes", "2", "--cpu_procs", "1", "--launcher", "slurm", "--teacher_max_epoch", "1"
    )
    proc = subprocess.run(["bash", *map(str, args)], cwd=recipe, env=e, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "2 node(s) x 1 process(es)" in proc.stdout
    log = (recipe / "exp" / "teacher" / "train.log").read_text()
    assert re.search(r"^\[\S+:0/2\] .*1epoch results", log, re.M)  # rank 0 of 2 nodes x 1
    assert (recipe / "exp" / "teacher" / "1epoch.pth").exists()
    # Without an allocation the stage says so.
    e.pop("SLURM_JOB_NODELIST")
    (recipe / "exp" / "teacher").rename(recipe / "exp" / "teacher_done")
    proc = subprocess.run(["bash", *map(str, args)], cwd=recipe, env=e, capture_output=True, text=True, timeout=900)
    assert proc.returncode != 0 and "run inside a Slurm allocation" in proc.stderr


def test_killed_training_resumes_from_the_last_checkpoint(tmp_path, espeak_corpus):
    recipe = prepared_recipe(tmp_path, espeak_corpus)
    exp = recipe / "exp" / "teacher"
    cmd = ["bash", *map(str, teacher_stage(recipe, "--teacher_max_epoch", "4"))]
    proc = subprocess.Popen(
        cmd, cwd=recipe, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 300
    while not (exp / "1epoch.pth").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert (exp / "1epoch.pth").exists(), "the first epoch never finished"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (exp / "4epoch.pth").exists()

    sh(teacher_stage(recipe, "--teacher_max_epoch", "4"), recipe)
    log = (exp / "train.log").read_text()
    assert "The training was resumed using" in log
    assert log.count("1/4epoch started") == 1  # epoch 1 was not trained again
    assert log.count("1epoch results") == 1
    assert (exp / "4epoch.pth").exists() and "4epoch results" in log


def test_token_dump_stage_feeds_espnet_lm(tmp_path, espeak_corpus, packed_models):
    """Stage 7 through codec.sh on a student (from the packed fixture): tokens of every
    set, the joint vocabulary, and ESPnet's LM task trained on them; its validation
    perplexity falls."""
    import zipfile

    recipe = prepared_recipe(tmp_path, espeak_corpus)
    student = recipe / "exp" / "student"
    student.mkdir(parents=True)
    with zipfile.ZipFile(packed_models) as zf:
        (student / "config.yaml").write_bytes(zf.read("student/config.yaml"))
        (student / "valid.ce_loss.best.pth").write_bytes(zf.read("student/model.pth"))
    proc = sh(
        [
            CODEC_SH,
            "--stage",
            "7",
            "--stop_stage",
            "7",
            "--train_set",
            "train",
            "--valid_set",
            "test",
            "--test_sets",
            "test",
            "--nbpe",
            "30",
            "--lm_train",
            "true",
            "--lm_config",
            ROOT / "conf" / "lm_tiny.yaml",
            "--lm_args",
            "--max_epoch 4 --batch_size 2",
        ],
        recipe,
    )
    tokens = recipe / "dump" / "tokens"
    for split in ("train", "test"):
        assert (tokens / split / ".done").exists() and (tokens / split / "tokens.scp").exists()
    assert (tokens / "joint_vocab" / "bpe.model").exists()
    report = (recipe / "exp" / "lm" / "RESULTS.md").read_text()
    assert report.startswith("| epoch |"), report  # nothing but the table (no import chatter)
    first, last = map(float, re.search(r"epoch 1 ([0-9.]+) -> epoch 4 ([0-9.]+)", report).groups())
    assert last < first, report
    assert "Validation perplexity" in proc.stdout
    # A finished dump is not redone.
    proc = sh([CODEC_SH, "--stage", "7", "--stop_stage", "7", "--valid_set", "test", "--test_sets", "test"], recipe)
    assert proc.stdout.count("is complete, skipping") == 2, proc.stdout


@pytest.mark.slow  # over 30 s on 2 cores: make test-slow
def test_secousti_through_every_stage(tmp_path, espeak_corpus, packed_models):
    """--codec secousti: phoneme labels, training with and without the contrastive term,
    decoding through .p2p files with side information, scoring + probe, token dump with
    the paralinguistic codes, packing; the packed
    model codes with p2p-codec and refuses files of another model."""
    import soundfile as sf

    from conftest import read_p2p

    recipe = recipe_copy(tmp_path, "unit")
    proc = sh(
        [
            CODEC_SH,
            "--codec",
            "secousti",
            "--secousti_ablation",
            "true",
            *espeak_options(espeak_corpus),
            "--test_sets",
            "test",
            "--train_config",
            ROOT / "conf" / "secousti_tiny.yaml",
            "--teacher_max_epoch",
            "1",
            "--train_args",
            TINY_TRAIN,
        ],
        recipe,
    )
    assert "no student stage" in proc.stdout
    labels = recipe / "dump" / "train" / "frame_labels"
    assert (labels / "frame_labels.scp").exists() and "<sil>" in (labels / "units.txt").read_text()
    for exp in ("secousti", "secousti_nocontrast"):
        assert (recipe / "exp" / exp / "valid.mel_l1_loss.best.pth").exists()
    assert "lambda_contrastive: 0" in (recipe / "exp" / "secousti_nocontrast" / "config.yaml").read_text()
    results = (recipe / "exp" / "RESULTS_secousti.md").read_text()
    assert "| secousti |" in results and "| secousti_nocontrast |" in results
    # the probe's rows: codebook 6561, codes used, usage share, entropy, and accuracies in [0, 1]
    for name in ("secousti", "secousti_nocontrast"):
        row = re.search(rf"^\| {name} \| 6561 \| (\d+) \| ([\d.]+)% \|(.*)\|$", results, re.M)
        assert row, results
        used, share = int(row.group(1)), float(row.group(2))
        assert 0 < used <= 6561 and share == pytest.approx(100 * used / 6561, abs=0.05)
        cells = [float(c) for c in row.group(3).split("|")]
        assert all(0 <= c <= 1 for c in cells[-4:])  # probe and majority accuracies
    p2p = sorted((recipe / "exp" / "decode_secousti_test" / "secousti" / "bitstreams").glob("*.p2p"))
    header, codes = read_p2p(p2p[0], recipe / "exp" / "secousti_packed.zip")
    assert header.codebook_size == 6561 and len(header.side_info) == 32 and header.hop_length == 192
    tokens = recipe / "dump" / "tokens_secousti"
    for set_name in ("train", "test"):
        assert (tokens / set_name / ".done").exists() and (tokens / set_name / "paralinguistic.scp").exists()
    assert (tokens / "joint_vocab" / "offsets.json").exists()
    packed = recipe / "exp" / "secousti_packed.zip"
    assert packed.exists()
    cli = [sys.executable, "-m", "espnet2_p2p.bin.p2p_codec"]
    wav = espeak_corpus / "test"
    first = sorted(wav.rglob("*.wav"))[0]
    out = tmp_path / "x.p2p"
    run = subprocess.run(
        [*cli, "encode", first, out, "--model", packed, "-q", "--chunk_seconds", "0.5"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    with zipfile.ZipFile(packed) as zf:  # stage 8 fitted the prior on the train set's token dump
        assert "secousti/prior.npz" in zf.namelist()
    assert read_p2p(out, packed).header.entropy_coded
    run = subprocess.run(
        [*cli, "decode", out, tmp_path / "x.wav", "--model", packed, "-q"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert sf.info(str(tmp_path / "x.wav")).frames == sf.info(str(first)).frames
    run = subprocess.run(
        [*cli, "decode", out, tmp_path / "y.wav", "--model", packed_models, "-q"], capture_output=True, text=True
    )
    assert run.returncode == 1 and "decode with the model that encoded it" in run.stderr
    assert not (tmp_path / "y.wav").exists()


@pytest.mark.slow  # over 30 s on 2 cores: make test-slow
def test_fine_tuning_the_shipped_model_with_init_model(tmp_path, espeak_corpus):
    """codec.sh --init_model starts the teacher and student stages from the shipped model's
    weights; a few steps on espeak speech, then p2p-codec decodes with the result."""
    import zipfile

    import soundfile as sf
    import torch

    from espnet2_p2p import pretrained

    if pretrained.DEFAULT is None:
        pytest.skip("this checkout ships no model (espnet2_p2p/pretrained)")
    packed = pretrained.default_model()
    # the configs of the shipped model's layout, as a user would start from them
    import yaml

    from espnet2_p2p.utils.config import load_config

    # the small recipe's training options with the shipped model's codec (whichever layout ships)
    with zipfile.ZipFile(packed) as zf:
        for name in ("teacher", "student"):
            config = load_config(ROOT / "conf" / f"{name}_small.yaml")  # merged with its base: complete
            config["codec_conf"] = yaml.safe_load(zf.read(f"{name}/config.yaml"))["codec_conf"]
            (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config))
    recipe = prepared_recipe(tmp_path, espeak_corpus)
    sh(
        [
            CODEC_SH,
            "--stage",
            "3",
            "--stop_stage",
            "4",
            "--valid_set",
            "test",
            "--init_model",
            packed,
            "--train_config",
            tmp_path / "teacher.yaml",
            "--student_config",
            tmp_path / "student.yaml",
            "--teacher_max_epoch",
            "1",
            "--student_max_epoch",
            "1",
            "--train_args",
            TINY_TRAIN,
        ],
        recipe,
    )
    # the teacher started from the shipped weights: its first checkpoint is near them, not random
    with zipfile.ZipFile(packed) as zf:
        import io

        shipped = torch.load(io.BytesIO(zf.read("teacher/model.pth")), weights_only=True)
    tuned = torch.load(recipe / "exp" / "teacher" / "1epoch.pth", weights_only=True)
    key = next(k for k in shipped if ".encoder." in k and k.endswith("weight") and shipped[k].dim() > 1)
    change = (tuned[key] - shipped[key]).norm() / shipped[key].norm()
    assert change < 0.2, f"{key} moved by {change:.2f}: the teacher did not start from the shipped model"
    student = recipe / "exp" / "student"
    wav = next((espeak_corpus / "test" / "wav").glob("*.wav"))
    from espnet2_p2p.bin.p2p_codec import main

    assert main(["encode", str(wav), str(tmp_path / "x.p2p"), "--model", str(student / "valid.ce_loss.best.pth")]) == 0
    assert (
        main(
            [
                "decode",
                str(tmp_path / "x.p2p"),
                str(tmp_path / "x.wav"),
                "--model",
                str(student / "valid.ce_loss.best.pth"),
            ]
        )
        == 0
    )
    assert len(sf.read(str(tmp_path / "x.wav"))[0]) == sf.info(str(wav)).frames
    # a config of another layout is refused before training, naming both layouts
    other = tmp_path / "n1.yaml"
    other.write_text((tmp_path / "teacher.yaml").read_text().replace("num_pseudo: 3", "num_pseudo: 1"))
    proc = sh(
        [
            CODEC_SH,
            *STAGE3,
            "--init_model",
            packed,
            "--train_config",
            other,
            "--tag",
            "_n1",
            "--train_args",
            TINY_TRAIN,
        ],
        recipe,
        check=False,
    )
    assert proc.returncode != 0 and "N=3 pseudo VQs" in proc.stderr and "N=1 pseudo VQs" in proc.stderr


@pytest.mark.parametrize(
    "script, known",
    [
        ("speechlm.sh", "--model"),
        ("baselines.sh", "--model"),
        ("campaign_check.sh", "--set"),
        ("adversarial_screen.sh", "--init"),
    ],
)
def test_local_scripts_refuse_unknown_options_in_one_line(tmp_path, script, known):
    """lib/local.sh's parse_options: a known option sets its variable, anything else stops."""
    recipe = recipe_copy(tmp_path, "unit")
    (recipe / "local").mkdir()
    shutil.copy(ROOT / "egs2" / "speechocean762" / "codec1" / "local" / script, recipe / "local")
    for args, said in (
        (["--no_such", "1"], "unknown option --no_such"),
        (["--expdir"], "--expdir needs a value"),
        (["--PATH", "/x"], "unknown option --PATH"),
        (["expdir", "x"], "unknown option expdir"),
    ):
        proc = sh([recipe / "local" / script, *args], recipe, check=False)
        assert proc.returncode == 2 and proc.stderr.strip() == f"{script}: {said}"
    # a known option is taken: the script goes on to its first check (no dump here)
    proc = sh([recipe / "local" / script, "--expdir", tmp_path / "e", known, tmp_path / "none"], recipe, check=False)
    assert proc.returncode != 0 and "unknown option" not in proc.stderr and "needs a value" not in proc.stderr
    assert proc.stderr.strip().startswith(f"{script}: ") and len(proc.stderr.strip().splitlines()) == 1


def run_speechlm(tmp_path, espeak_corpus, packed_models, *options, corpus="espeak"):
    """local/speechlm.sh with tiny LMs and one-epoch probes, on the espeak recipe (its test
    set doubling as dev) or on a fake speechocean762 prepared by its own run.sh (stages 1-2):
    (recipe, experiment dir)."""
    if corpus == "espeak":
        recipe = prepared_recipe(tmp_path, espeak_corpus)
        shutil.copytree(recipe / "dump" / "test", recipe / "dump" / "dev")
    else:
        source = make_speechocean762(tmp_path / "src")
        recipe = recipe_copy(tmp_path, "speechocean762")
        sh(
            [
                recipe / "run.sh",
                "--corpus_dir",
                source,
                "--stop_stage",
                "2",
                "--real_speech_dir",
                tmp_path / "none",
                "--min_duration",
                "0.1",
            ],
            recipe,
        )
    (recipe / "local").mkdir(exist_ok=True)  # the speechocean762 recipe has its local/ already
    shutil.copy(ROOT / "egs2" / "speechocean762" / "codec1" / "local" / "speechlm.sh", recipe / "local")
    exp = tmp_path / "exp"
    sh(
        [
            recipe / "local" / "speechlm.sh",
            "--model",
            packed_models,
            "--expdir",
            exp,
            "--lm_config",
            ROOT / "conf" / "lm_tiny.yaml",
            "--lm_args",
            "--max_epoch 1",
            "--continue_prompts",
            "0",
            "--probe_args",
            "--max_epoch 1 --batch_size 4",
            *options,
        ],
        recipe,
    )
    return recipe, exp


@pytest.mark.slow  # over 30 s on 2 cores: make test-slow
def test_speechlm_measures_the_plain_stream(tmp_path, espeak_corpus, packed_models):
    """The quick path of local/speechlm.sh on a fake speechocean762 (its upper-case
    transcripts, its split): the plain stream and SecoustiCodec's (issue 41), their LMs and
    probes, and the table (every choice and the log-mel probe: the slow test below, on the
    espeak corpus)."""
    import json

    secousti = ROOT / "tests" / "fixtures" / "secousti_fixture.zip"
    recipe, exp = run_speechlm(
        tmp_path,
        espeak_corpus,
        packed_models,
        "--choices",
        "plain secousti",
        "--probe_choices",
        "plain secousti",
        "--secousti_model",
        secousti,
        corpus="speechocean762",
    )
    # the probe's targets: the corpus' transcripts normalised (A-Z, the apostrophe, spaces)
    refs = (exp / "asr_text" / "test" / "text").read_text().splitlines()
    assert len(refs) == len((recipe / "dump" / "test" / "wav.scp").read_text().splitlines()) > 0
    assert all(re.fullmatch(r"\S+ [A-Z' ]+", line) for line in refs)
    lines = [
        line
        for line in (recipe / "RESULTS_speechlm.md").read_text().splitlines()
        if line.startswith("| plain stream (student, transmitted) |")
    ]
    assert len(lines) == 2  # results and costs
    cells = [c.strip() for c in lines[0].split("|")[2:-1]]
    score = json.loads((exp / "probe_plain" / "test" / "score.json").read_text())
    assert 49.0 < float(cells[0]) < 51.0 and float(cells[4]) == round(100 * score["cer"], 1)
    # SecoustiCodec's row: its own frame rate, LM and probe
    from espnet2_p2p.model_io import load_codec

    layout = load_codec(secousti).codec.layout
    results = (recipe / "RESULTS_speechlm.md").read_text()
    row = [line for line in results.splitlines() if line.startswith("| SecoustiCodec's stream (transmitted) |")]
    assert len(row) == 2 and "secousti_fixture.zip (SecoustiCodec)" in results
    # --continue_prompts 0: said once, and no column of DNSMOS that nothing measured
    assert "No LM continuations were decoded" in results and "DNSMOS of LM continuations" not in results
    cells = [c.strip() for c in row[0].split("|")[2:-1]]
    score = json.loads((exp / "probe_secousti" / "test" / "score.json").read_text())
    rate = layout.fs / layout.hop_length
    assert 0.95 * rate < float(cells[0]) < 1.02 * rate and float(cells[4]) == round(100 * score["cer"], 1)
    # the choice without its model stops with one line
    proc = sh([recipe / "local" / "speechlm.sh", "--expdir", exp, "--choices", "secousti"], recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.strip() == "speechlm.sh: the choice secousti needs --secousti_model"


@pytest.mark.slow
def test_speechlm_measures_every_token_choice(tmp_path, espeak_corpus, packed_models):
    """local/speechlm.sh (issue 30): token dumps, BPE units, one ESPnet LM per choice,
    perplexity on test, a CTC ASR probe per choice and on log-mel, and the table; the
    rates follow from the layout, the error rates from the probes' own outputs."""
    import json

    import jiwer

    recipe, exp = run_speechlm(tmp_path, espeak_corpus, packed_models, "--nbpe", "300")
    table = (recipe / "RESULTS_speechlm.md").read_text()
    rows = {}
    for line in table.splitlines():
        if line.startswith("| ") and "token choice" not in line:
            rows.setdefault(line.split("|")[1].strip(), []).append([c.strip() for c in line.split("|")[2:-1]])
    labels = [
        "plain stream (student, transmitted)",
        "BPE units of the plain stream (300 pieces)",
        "teacher's 1 + N streams, flattened",
        "log-mel features (50 frames/s), no codec",
    ]
    assert list(rows) == labels and all(len(r) == 2 for r in rows.values())  # results and costs
    (plain, plain_cost), (bpe, _), (teacher, teacher_cost), (logmel, logmel_cost) = (rows[k] for k in labels)
    assert 49.0 < float(plain[0]) < 51.0 and 196.0 < float(teacher[0]) < 204.0  # ceil(T / 320) frames
    assert float(bpe[0]) < float(plain[0])  # pieces join several tokens
    for row in (plain, teacher, bpe):
        ce_nats, ce_bits, bits_per_s = float(row[1]), float(row[2]), float(row[3])
        assert ce_nats > 0 and abs(ce_bits - ce_nats / math.log(2)) < 2e-3
        # bits/s = CE (bits) x (tokens + one end-of-sentence per utterance) / seconds
        assert bits_per_s > ce_bits * float(row[0])
    assert logmel[:4] == ["-"] * 4 and logmel_cost[:4] == ["-"] * 4  # no LM on log-mel
    assert plain_cost[2] == "1" and plain_cost[1].endswith(" M")  # one epoch, a parameter count
    # item 2: every probe's CER and WER are its greedy transcripts' against the normalised text
    refs = dict(line.split(" ", 1) for line in (exp / "asr_text" / "test" / "text").read_text().splitlines())
    for name, row in zip(("plain", "bpe", "teacher", "logmel"), (plain, bpe, teacher, logmel)):
        score = json.loads((exp / f"probe_{name}" / "test" / "score.json").read_text())
        hyps = dict(
            (line.split(" ", 1) + [""])[:2]
            for line in (exp / f"probe_{name}" / "test" / "hyp").read_text().splitlines()
        )
        assert sorted(hyps) == sorted(refs) and score["epochs"] == 1
        cer = jiwer.cer([refs[u] for u in sorted(refs)], [hyps[u] for u in sorted(refs)])
        assert abs(score["cer"] - cer) < 1e-9 and float(row[4]) == round(100 * cer, 1)
    # one encoder: the probes differ only in their input layers (the teacher's 4 x 1024 embeddings)
    probe_params = {
        k: float(c[4].split()[0])
        for k, c in (("plain", plain_cost), ("teacher", teacher_cost), ("logmel", logmel_cost))
    }
    assert 0.3 < probe_params["logmel"] < probe_params["plain"] < probe_params["teacher"]
    # item 3: the plain-stream LM continues test prompts; the student decodes both
    from espnet2_p2p.bin.lm_continue import main as lm_continue

    def continue_lm(tokens, out, *more, model=True):  # the LM of a token choice continues its test dump
        lm, dump = ["--lm_exp", str(exp / f"lm_{tokens}")], ["--tokens", str(exp / f"tokens_{tokens}" / "test")]
        common = ["--data_dir", str(recipe / "dump" / "test"), "--output_dir", str(out)]
        return lm_continue([*lm, *dump, *common, *(["--model", str(packed_models)] if model else []), *more])

    short = ["--num_prompts", "2", "--prompt_seconds", "0.4", "--continue_seconds", "1.2"]
    out = tmp_path / "continuations"
    assert continue_lm("plain", out, *short) == 0
    import soundfile as sf

    for kind in ("lm", "real"):
        wavs = sorted((out / kind).glob("*.wav"))
        assert len(wavs) == 2 and all(sf.info(str(w)).frames == 60 * 320 for w in wavs)  # 1.2 s at 50 Hz
    report = (out / "continuations.md").read_text()
    assert "| LM continuations |" in report and "| paired difference |" in report
    from espnet2_p2p.bin.speechlm_report import main as speechlm_report

    summary = json.loads((out / "continuations.json").read_text())
    assert (
        speechlm_report(
            [
                "--data_dir",
                str(recipe / "dump" / "test"),
                "--output",
                str(tmp_path / "t.md"),
                "--continuations",
                f"{labels[0]}={out / 'continuations.json'}",
            ]
        )
        == 0
    )
    assert (
        f"| {labels[0]} | - | - | - | - | - | - | {summary['lm']:.3f} ± {summary['lm_ci']:.3f} |"
        in (tmp_path / "t.md").read_text()
    )
    assert (out / "spectrograms.png").stat().st_size > 10_000
    assert continue_lm("plain", out, "--continue_seconds", "60", model=False) == 1  # no utterance that long: one line
    # the teacher's LM continues its 4 flattened streams; the teacher decodes them all
    out = tmp_path / "continuations_teacher"
    assert continue_lm("teacher", out, "--model_name", "teacher", *short) == 0
    assert all(sf.info(str(w)).frames == 60 * 320 for w in (out / "lm").glob("*.wav"))
    summary = json.loads((out / "continuations.json").read_text())
    assert summary["streams"] == 4 and summary["decoder"] == "teacher" and summary["prompts"] == 2
    assert "decoded by the teacher (4 stream(s) given)" in (out / "continuations.md").read_text()


@pytest.mark.slow  # over 30 s on 2 cores: make test-slow
def test_campaign_check_scores_the_best_checkpoints_so_far(tmp_path, espeak_corpus, packed_models):
    """local/campaign_check.sh (issue 27): the trainings' best checkpoints, copied with the
    epoch their train.log names (a restored experiment: where from), decode a subset of test
    and are scored, with the paired differences to --reference."""
    from espnet2_p2p.bin import init_model

    recipe = prepared_recipe(tmp_path, espeak_corpus)
    (recipe / "local").mkdir()
    shutil.copy(ROOT / "egs2" / "speechocean762" / "codec1" / "local" / "campaign_check.sh", recipe / "local")
    exp = tmp_path / "exp"
    init_model.main(["--packed", str(packed_models), "--name", "teacher", "--experiment", str(exp / "teacher")])
    for name, crit, best in (("student", "ce_loss", 3), ("student_ft", "mel_l1_loss", 2)):
        (exp / name).mkdir(parents=True)
        shutil.copy(packed_models.parent / "student" / "config.yaml", exp / name / "config.yaml")
        shutil.copy(packed_models.parent / "student" / "model.pth", exp / name / f"valid.{crit}.best.pth")
        log = []
        for epoch in range(1, 5):
            log.append(f"[vm] 2026-12-03 (trainer:394) INFO: {epoch}epoch results: [train] loss=1.0")
            if epoch <= best:
                log.append(f"[vm] 2026-12-03 (trainer:462) INFO: The best model has been updated: valid.{crit}")
        (exp / name / "train.log").write_text("\n".join(log) + "\n")
    out = tmp_path / "check"
    proc = sh(
        [
            recipe / "local" / "campaign_check.sh",
            "--expdir",
            exp,
            "--output_dir",
            out,
            "--every",
            "1",
            "--reference",
            "student_ft",
        ],
        recipe,
    )
    epochs = (out / "checkpoints" / "epochs.md").read_text()
    assert f"| teacher | valid.mel_l1_loss.best.pth | restored from {packed_models.resolve()} teacher |" in epochs
    assert "| student | valid.ce_loss.best.pth | 3 |" in epochs
    assert "| student_ft | valid.mel_l1_loss.best.pth | 2 |" in epochs
    results = (out / "score" / "RESULTS.md").read_text()
    summary = [line for line in results.split("## Paired")[0].splitlines() if line.startswith("| ")][1:]
    systems = [line.split("|")[1].strip() for line in summary]
    assert systems[0] == "student_ft", results
    assert {"teacher", "plain_only", "student"} <= set(systems)
    assert "single_vq" not in systems and "plain_only_ft" not in systems
    n = len((recipe / "dump" / "test" / "wav.scp").read_text().splitlines())
    assert len(list((out / "decode" / "plain_only").glob("*.wav"))) == n
    assert "visqol" in proc.stdout and "paired difference to student_ft" in proc.stdout.lower()
    assert "speaker_sim ↑" in results and "<audio" in (out / "score" / "listening.html").read_text()
    # a reference that was not decoded (here: left out with --exclude): one line
    proc = sh(
        [
            recipe / "local" / "campaign_check.sh",
            "--expdir",
            exp,
            "--output_dir",
            tmp_path / "c2",
            "--every",
            "1",
            "--reference",
            "student_ft",
            "--exclude",
            "student_ft",
        ],
        recipe,
        check=False,
    )
    assert proc.returncode == 1 and proc.stderr.strip().endswith("was not decoded (its experiment is missing)")
    assert "student_ft" not in (tmp_path / "c2" / "checkpoints" / "epochs.md").read_text()
    # without a teacher checkpoint there is nothing to check: one line
    proc = sh([recipe / "local" / "campaign_check.sh", "--expdir", tmp_path / "none"], recipe, check=False)
    assert proc.returncode == 1 and proc.stderr.strip().endswith("has no best checkpoint yet")


def test_valid_utts_validates_on_an_even_subset_with_its_labels(tmp_path):
    """codec.sh --valid_utts N: the trainings validate on N utterances spread through the
    valid set (wav.scp and its frame labels, the same ids), written once; a bad N stops."""
    lib = ROOT / "egs2" / "TEMPLATE" / "codec1" / "lib"
    dev = tmp_path / "dump" / "dev"
    (dev / "frame_labels").mkdir(parents=True)
    ids = [f"utt{i:03d}" for i in range(90)]
    (dev / "wav.scp").write_text("".join(f"{u} /w/{u}.wav\n" for u in ids))
    (dev / "frame_labels" / "frame_labels.scp").write_text("".join(f"{u} /l/{u}.npy\n" for u in reversed(ids)))

    def valid_dir(n):
        script = (
            f'. "{lib}/local.sh"; . "{lib}/common.sh"; dumpdir=dump; valid_set=dev; valid_utts={n}; train_valid_dir'
        )
        return subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True)

    proc = valid_dir("")
    assert proc.returncode == 0 and proc.stdout.strip() == "dump/dev"
    proc = valid_dir(30)
    assert proc.returncode == 0 and proc.stdout.strip() == "dump/dev_30", proc.stderr
    assert "validating on 30 of the 90 utterances" in proc.stderr
    kept = [line.split()[0] for line in (dev.parent / "dev_30" / "wav.scp").read_text().splitlines()]
    assert kept == ids[::3]
    labels = (dev.parent / "dev_30" / "frame_labels" / "frame_labels.scp").read_text().split()[::2]
    assert sorted(labels) == kept
    again = valid_dir(30)
    assert again.stdout.strip() == "dump/dev_30" and "validating on" not in again.stderr  # written once
    for bad, said in (
        ("0", "must be a positive number"),
        ("abc", "must be a positive number"),
        ("91", "has 90 utterances"),
    ):
        proc = valid_dir(bad)
        assert proc.returncode != 0 and said in proc.stderr and proc.stdout == ""


@pytest.mark.slow  # trains and decodes models of the shipped model's size: make test-slow
def test_decoder_campaign_resumes_and_takes_a_system_added_later(tmp_path):
    """local/decoder_campaign.sh (issue 40) from the shipped zip on a fake corpus: each round
    trains every system to its epoch, keeps that snapshot, scores the systems on dev and
    draws the curve; the same command continues without training or scoring anything again,
    and a system added later (the fair control) is trained through the rounds it missed and
    scored in each, beside what was scored before."""
    corpus, recipe, real = speechocean762_with_real_clips(tmp_path)
    prep = ["--stop_stage", "2", "--real_speech_dir", real, "--min_duration", "0.1"]
    sh([recipe / "run.sh", "--corpus_dir", corpus, *prep], recipe)
    exp = tmp_path / "exp"
    campaign = [
        recipe / "local" / "decoder_campaign.sh",
        "--expdir",
        exp,
        "--zip",
        ROOT / "espnet2_p2p" / "pretrained" / "speechocean762_long_ft.zip",
        "--rounds",
        "1 2",
        "--valid_utts",
        "1",
        "--train_args",
        TINY_TRAIN + " --log_interval 1",  # the batches logged: the curve counts its steps
    ]
    proc = sh([*campaign, "--systems", "student_gan"], recipe)
    assert proc.stdout.count("student_gan: training to epoch") == 2
    for epoch in (1, 2):
        assert (exp / "student_gan" / "snapshots" / f"{epoch}epoch.pth").is_file()
        assert (exp / "curve" / f"scores_e{epoch}_dev" / ".curve").read_text() == "student_gan\n"
    assert "dump/dev_1/wav.scp" in (exp / "student_gan" / "config.yaml").read_text()
    curve = (exp / "curve" / "quality_curve.md").read_text()
    assert re.search(r"^\| student_gan \| 2 \| [1-9]", curve, re.M), curve
    again = sh([*campaign, "--systems", "student_gan"], recipe)
    assert "training to epoch" not in again.stdout and "scoring on dev" not in again.stdout
    proc = sh([*campaign, "--systems", "student_gan plain_only_gan"], recipe)
    assert proc.stdout.count("plain_only_gan: training to epoch") == 2 and "student_gan: training" not in proc.stdout
    for epoch in (1, 2):
        assert (exp / "curve" / f"scores_e{epoch}_dev" / ".curve").read_text() == "plain_only_gan\nstudent_gan\n"
        assert (exp / "student_plain_only_gan" / "snapshots" / f"{epoch}epoch.pth").is_file()
    curve = (exp / "curve" / "quality_curve.md").read_text()
    for system in ("student_gan", "plain_only_gan"):
        steps = [int(n) for n in re.findall(rf"^\| {system} \| [12] \| (\d+) \|", curve, re.M)]
        assert len(steps) == 2 and steps[1] == 2 * steps[0] > 0, curve
    # --jobs 2: a round's trainings side by side, then scored together
    campaign[campaign.index("1 2")] = "1 2 3"
    proc = sh([*campaign, "--systems", "student_gan plain_only_gan", "--jobs", "2"], recipe)
    assert proc.stdout.count(": training to epoch 3") == 2
    assert (exp / "curve" / "scores_e3_dev" / ".curve").read_text() == "plain_only_gan\nstudent_gan\n"
    for system in ("gan", "plain_only_gan"):
        assert (exp / f"student_{system}" / "snapshots" / "3epoch.pth").is_file()
    bad = sh([*campaign, "--jobs", "0"], recipe, check=False)
    assert bad.returncode != 0 and "--jobs must be a positive integer" in bad.stderr


@pytest.mark.slow  # codes and scores a set with two models and codec2: make test-slow
def test_baselines_code_several_models_as_users_do_beside_codec2(tmp_path, packed_models):
    """local/baselines.sh --models (issue 41): every model through p2p-codec encode/decode
    with its payload and whole-file bit rates, codec2 700C and 450, one table whose paired
    differences are to the first model; a second run codes nothing again; a bad spec stops."""
    corpus, recipe, real = speechocean762_with_real_clips(tmp_path)
    prep = ["--stop_stage", "2", "--real_speech_dir", real, "--min_duration", "0.1"]
    sh([recipe / "run.sh", "--corpus_dir", corpus, *prep], recipe)
    secousti = ROOT / "tests" / "fixtures" / "secousti_fixture.zip"
    models = f"secousti={secousti} tiny={packed_models}"
    run = [recipe / "local" / "baselines.sh", "--models", models, "--expdir", tmp_path / "exp", "--sets", "real_speech"]
    proc = sh([*run, "--results", "RESULTS_two.md"], recipe)
    assert proc.stdout.count("p2p-codec encode + decode") == 2
    results = (recipe / "RESULTS_two.md").read_text()
    for label in ("secousti", "tiny"):
        assert re.search(
            rf"^{label} files: 2 files, .* payload [\d.]+ bit/s, whole files [\d.]+ bit/s", results, re.M
        ), results
    summary = results.split("## Summary", 1)[1].split("## Paired", 1)[0]
    assert [row.split("|")[1].strip() for row in summary.splitlines() if row.startswith("| ")][1:] == [
        "secousti",
        "tiny",
        "codec2_700C",
        "codec2_450",
    ]
    assert "## Paired difference to secousti" in results
    again = sh([*run, "--results", "RESULTS_two.md"], recipe)
    assert "p2p-codec encode" not in again.stdout and "codec2 700C" not in again.stdout
    for bad, said in (
        (["--models", "no_equals"], "'no_equals' is not LABEL=MODEL"),
        (["--models", "a=x a=y"], "the label a is taken"),
        (["--models", "a=x", "--model", "y"], "--model or --models, not both"),
    ):
        proc = sh([recipe / "local" / "baselines.sh", *bad], recipe, check=False)
        assert proc.returncode == 1 and proc.stderr.startswith("baselines.sh: ")
        assert said in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
