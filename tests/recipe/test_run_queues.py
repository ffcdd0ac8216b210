"""egs2/speechocean762/codec1/run.sh's two training queues (stages 3-4, --jobs 2): which
trainings each queue runs, in which order, and that queue B's plain_only_ft waits for queue
A's teacher. codec.sh is replaced by a script that records its calls: what is under test is
run.sh's orchestration, not the trainings (those are tested through codec.sh elsewhere)."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RECORDER = r"""#!/usr/bin/env bash
# records "<start|end> <name> <time>" per call; the teacher sleeps, or fails on request
tag=; stage=; expdir=
while [ $# -gt 0 ]; do
    case "$1" in
        --tag) tag=$2; shift 2 ;;
        --stage) stage=$2; shift 2 ;;
        --expdir) expdir=$2; shift 2 ;;
        --train_args) train_args=$2; shift 2 ;;
        --student_criterion) criterion=$2; shift 2 ;;
        *) shift ;;
    esac
done
name=stage${stage}${tag}
echo "${name} ${train_args:-}" >> "${CALLS}.args"
echo "${name} ${criterion:-}" >> "${CALLS}.criterion"
echo "start ${name} $(date +%s.%N)" >> "${CALLS}"
if [ "${name}" = stage3 ]; then
    mkdir -p "${expdir}/teacher"
    sleep "${TEACHER_SECONDS}"
    [ "${TEACHER_FAILS:-0}" = 1 ] && exit 1
fi
echo "end ${name} $(date +%s.%N)" >> "${CALLS}"
"""


def run_queues(tmp_path, teacher_seconds, teacher_fails=False, jobs=2, stages=(3, 4), extra=()):
    recipe = tmp_path / "egs2" / "speechocean762" / "codec1"
    recipe.mkdir(parents=True)
    (recipe / "run.sh").write_text((ROOT / "egs2" / "speechocean762" / "codec1" / "run.sh").read_text())
    shutil.copytree(ROOT / "egs2" / "speechocean762" / "codec1" / "local", recipe / "local")  # the queues
    template = tmp_path / "egs2" / "TEMPLATE" / "codec1"
    template.mkdir(parents=True)
    (template / "codec.sh").write_text(RECORDER)
    (template / "codec.sh").chmod(0o755)
    (template / "lib").mkdir()
    shutil.copy(ROOT / "egs2" / "TEMPLATE" / "codec1" / "lib" / "local.sh", template / "lib" / "local.sh")
    (tmp_path / "conf").symlink_to(ROOT / "conf")
    calls = tmp_path / "calls.txt"
    env = dict(
        os.environ,
        CALLS=str(calls),
        TEACHER_SECONDS=str(teacher_seconds),
        TEACHER_FAILS="1" if teacher_fails else "0",
        P2P_QUEUE_POLL_SECONDS="0.2",
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    )
    begin = time.monotonic()
    proc = subprocess.run(
        [
            "bash",
            "run.sh",
            "--stage",
            str(stages[0]),
            "--stop_stage",
            str(stages[1]),
            "--jobs",
            str(jobs),
            "--budget",
            "long",
            "--ablation",
            "false",
            "--causal",
            "false",
            "--expdir",
            str(tmp_path / "exp"),
            *extra,
        ],
        cwd=recipe,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - begin
    events = {}
    for line in calls.read_text().splitlines() if calls.exists() else []:
        kind, name, when = line.split()
        events[(kind, name)] = float(when)
    return proc, events, elapsed, tmp_path / "exp"


def test_queue_b_trains_plain_only_ft_after_the_teacher_and_its_own_controls(tmp_path):
    proc, ev, _, exp = run_queues(tmp_path, teacher_seconds=3)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = {name for _, name in ev}
    assert names == {"stage3", "stage4", "stage4_ft", "stage3_single", "stage3_single_ft", "stage3_plain_ft"}
    # queue A: teacher, then student, then student_ft
    assert ev["end", "stage3"] <= ev["start", "stage4"] <= ev["start", "stage4_ft"]
    # queue B: single VQ and its continuation start at once beside the teacher ...
    assert ev["start", "stage3_single"] < ev["end", "stage3"]
    assert ev["end", "stage3_single"] <= ev["start", "stage3_single_ft"]
    # ... and plain_only_ft, which starts from the teacher, waits for it
    assert ev["start", "stage3_plain_ft"] >= ev["end", "stage3"]
    assert ev["start", "stage3_plain_ft"] >= ev["end", "stage3_single_ft"]
    assert "plain_only_ft waits for the teacher" in (exp / "queue_b.log").read_text()
    assert (exp / "teacher" / ".trained").exists()
    # the controls take student_long_ft's epochs and learning rate (conf/student_long_ft.yaml)
    args = dict(line.split(" ", 1) for line in (tmp_path / "calls.txt.args").read_text().splitlines())
    for control in ("stage3_plain_ft", "stage3_single_ft"):
        assert "--optim_conf lr=0.0004 --optim2_conf lr=0.0004" in args[control]
        assert "--init_param" in args[control]


def test_a_failed_teacher_stops_queue_b_instead_of_waiting_forever(tmp_path):
    proc, ev, elapsed, exp = run_queues(tmp_path, teacher_seconds=2, teacher_fails=True)
    assert proc.returncode == 1
    assert "a training queue failed" in proc.stderr
    assert "queue A stopped before the teacher finished" in (exp / "queue_b.log").read_text()
    assert ("start", "stage3_plain_ft") not in ev and ("start", "stage4") not in ev
    assert elapsed < 60


def test_a_marker_left_by_an_earlier_run_does_not_start_plain_only_ft_early(tmp_path):
    (tmp_path / "exp" / "teacher").mkdir(parents=True)
    (tmp_path / "exp" / "teacher" / ".trained").touch()  # from a finished run; the teacher trains again
    proc, ev, _, _ = run_queues(tmp_path, teacher_seconds=3)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ev["start", "stage3_plain_ft"] >= ev["end", "stage3"]


def test_one_queue_runs_everything_in_order(tmp_path):
    proc, ev, _, _ = run_queues(tmp_path, teacher_seconds=0, jobs=1)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    order = [name for (kind, name), _ in sorted(ev.items(), key=lambda kv: kv[1]) if kind == "start"]
    assert order == ["stage3", "stage4", "stage4_ft", "stage3_single", "stage3_single_ft", "stage3_plain_ft"]


def test_ship_chooses_which_student_stages_7_8_pack(tmp_path):
    # default: the fine-tuned student (tag _ft, its best mel_l1 checkpoint)
    proc, ev, _, _ = run_queues(tmp_path / "ft", teacher_seconds=0, stages=(7, 8))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {name for _, name in ev} == {"stage7_ft"}
    assert (tmp_path / "ft" / "calls.txt.criterion").read_text().split() == ["stage7_ft", "mel_l1_loss"]
    # --ship student: the student before decoder fine-tuning (no tag, its best ce checkpoint)
    proc, ev, _, _ = run_queues(tmp_path / "st", teacher_seconds=0, stages=(7, 8), extra=("--ship", "student"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {name for _, name in ev} == {"stage7"}
    assert (tmp_path / "st" / "calls.txt.criterion").read_text().split() == ["stage7", "ce_loss"]
    # anything else stops before any stage runs
    proc, ev, _, _ = run_queues(tmp_path / "bad", teacher_seconds=0, extra=("--ship", "teacher"))
    assert proc.returncode == 1 and "--ship is student_ft or student" in proc.stderr
    assert not ev
