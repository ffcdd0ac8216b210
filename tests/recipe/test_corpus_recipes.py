"""The corpus recipes (egs2/{mini_espeak,libritts,vctk}/codec1/run.sh): each holds only its
settings and sources egs2/TEMPLATE/codec1/corpus.sh, which calls codec.sh with them. codec.sh
is replaced by a script that prints its arguments: what is under test is which calls the
driver makes (the stages themselves: test_codec_sh.py)."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def corpus_calls(tmp_path, name, *args):
    """egs2/<name>/codec1/run.sh through TEMPLATE/codec1/corpus.sh, with a codec.sh that
    prints its arguments: one line per codec.sh call."""
    template = tmp_path / "egs2" / "TEMPLATE" / "codec1"
    (template / "lib").mkdir(parents=True)
    shutil.copy(ROOT / "egs2" / "TEMPLATE" / "codec1" / "corpus.sh", template)
    shutil.copy(ROOT / "egs2" / "TEMPLATE" / "codec1" / "lib" / "local.sh", template / "lib")
    (template / "codec.sh").write_text('#!/usr/bin/env bash\necho "$*"\n')
    (template / "codec.sh").chmod(0o755)
    recipe = tmp_path / "egs2" / name / "codec1"
    recipe.mkdir(parents=True)
    shutil.copy(ROOT / "egs2" / name / "codec1" / "run.sh", recipe)
    proc = subprocess.run(["bash", "run.sh", *args], cwd=recipe, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_mini_espeak_runs_both_codecs_or_the_one_given(tmp_path):
    both = corpus_calls(tmp_path / "both", "mini_espeak", "--stage", "3")
    assert len(both) == 2
    assert "--codec p2psyn --train_config ../../../conf/teacher_tiny.yaml" in both[0] and "--lm_train true" in both[0]
    assert "--codec secousti --secousti_ablation true --train_config ../../../conf/secousti_tiny.yaml" in both[1]
    assert all("--corpus espeak" in call and call.endswith("--corpus_dir corpus --stage 3") for call in both)
    for given in (["--codec", "secousti"], ["--codec=secousti"]):
        (one,) = corpus_calls(tmp_path / given[-1].replace("=", "_"), "mini_espeak", *given)
        assert "--codec secousti --secousti_ablation true" in one and "teacher_tiny" not in one


def test_corpus_recipes_differ_in_their_settings(tmp_path):
    (libritts,) = corpus_calls(tmp_path / "l", "libritts", "--corpus_dir", "/data/LibriTTS")
    (vctk,) = corpus_calls(tmp_path / "v", "vctk", "--corpus_dir", "/data/VCTK")
    common = "--train_set train --valid_set dev --test_sets test --codec p2psyn"
    assert libritts == (
        "--corpus libritts --expect_fs 24000 --fs 16000 " + common + " --train_config "
        "../../../conf/teacher.yaml --student_config ../../../conf/student.yaml --corpus_dir /data/LibriTTS"
    )
    assert vctk == (
        "--corpus vctk --expect_fs 48000 --fs 48000 " + common + " --train_config "
        "../../../conf/teacher_48k.yaml --student_config ../../../conf/student_48k.yaml --corpus_dir /data/VCTK"
    )
