"""Every student config is its teacher's codec plus the student's own keys (issue 28, item 8):
a student that differs from its teacher in the codec part fails only when the teacher's
weights are loaded, after its training has started."""

import pytest
import yaml

from conftest import CONF

STUDENT_KEYS = {"quantizer_mode", "predictor_conf", "pseudo_codeword", "finetune_decoder", "lambda_ce"}
PAIRS = [
    ("teacher_tiny", "student_tiny"), ("teacher_small", "student_small"), ("teacher_small", "student_small_ft"),
    ("teacher_causal_small", "student_causal_small"), ("teacher_causal_small", "student_causal_small_ft"),
    ("teacher", "student"), ("teacher_48k", "student_48k"),
    ("teacher_long", "student_long"), ("teacher_long", "student_long_ft"),
]  # fmt: skip
SINGLES = [("teacher_small", "single_small"), ("teacher_long", "single_long")]


def codec_conf(name: str) -> dict:
    return yaml.safe_load((CONF / f"{name}.yaml").read_text())["codec_conf"]


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
    differ = sorted(k for k in set(s) | set(t) if k not in ("num_pseudo", "pseudo_codebook_size") and s.get(k) != t.get(k))
    assert not differ, f"{single}.yaml differs from {teacher}.yaml in {differ}"
