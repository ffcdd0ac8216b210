"""Learning curves from ESPnet train.log files."""

from espnet2_p2p.bin import learning_curve

LINE = (
    "[vm] 2026-12-03 07:34:23,731 (trainer:394) INFO: {e}epoch results: [train] iter_time=6.9e-04,"
    " mel_l1_loss=9.0, train_time=0.125, time={t} seconds, total_count=200, [valid] mel_l1_loss={v},"
    " loss=1.0, time=6.35 seconds, total_count=170"
)


def test_hours_accumulate_and_a_resumed_epoch_counts_once(tmp_path):
    exp = tmp_path / "teacher"
    exp.mkdir()
    lines = [
        LINE.format(e=1, t=1800, v=2.0),
        LINE.format(e=2, t=1800, v=1.5),
        "some other line",
        LINE.format(e=2, t=3600, v=1.4),  # epoch 2 again after a resume
        LINE.format(e=3, t=1800, v=1.2),
    ]
    (exp / "train.log").write_text("\n".join(lines) + "\n")
    (exp / "config.yaml").write_text("num_iters_per_epoch: 200\n")
    points = learning_curve.read_curve(exp / "train.log")
    assert [p.epoch for p in points] == [1, 2, 3]
    assert [round(p.hours, 3) for p in points] == [0.5, 1.5, 2.0]
    assert [p.value for p in points] == [2.0, 1.4, 1.2]
    out = tmp_path / "curve.png"
    assert learning_curve.main(["--exp", f"teacher={exp}", "--output", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # epochs of 1800, 3600 and 1800 s: median 1800 s, so 1.5 h by the median and 2 h of wall time
    assert "| teacher | 3 | 1800.0 | 1.50 | 2.00 | 1.2000 | 1.2000 |" in out.with_suffix(".md").read_text()


def test_a_paused_epoch_does_not_stretch_the_hours(tmp_path):
    """An epoch that spans a SIGSTOP (the campaign pauses for quiet benchmarks) logs the
    pause as training time; the median epoch time leaves it out."""
    times = [60, 61, 59, 3660, 60]
    points = [learning_curve.Point(e + 1, sum(times[: e + 1]) / 3600.0, 1.0) for e in range(len(times))]
    assert abs(learning_curve.median_epoch_seconds(points) - 60.0) < 1e-9
    assert abs(points[-1].hours - 3900 / 3600.0) < 1e-9  # the wall time keeps the pause
    skipped = [points[0], points[2], points[4]]  # epochs without the statistic: time spreads over the gap
    assert abs(learning_curve.median_epoch_seconds(skipped) - 60.0) < 1e-9


def test_a_missing_log_is_one_line(tmp_path, capsys):
    assert learning_curve.main(["--exp", f"x={tmp_path}", "--output", str(tmp_path / "c.png")]) == 1
    assert "train.log does not exist" in capsys.readouterr().err


def test_durations_in_minutes_and_hours_are_read_whole(tmp_path):
    """ESPnet writes "1 minute and 50.11 seconds" or "2 hours, 3 minutes and 4.5 seconds"."""
    exp = tmp_path / "t"
    exp.mkdir()
    lines = [
        LINE.format(e=1, t=1, v=2.0).replace("time=1 seconds", "time=1 minute and 48 seconds"),
        LINE.format(e=2, t=1, v=1.0).replace("time=1 seconds", "time=2 hours, 3 minutes and 0 seconds"),
    ]
    (exp / "train.log").write_text("\n".join(lines) + "\n")
    points = learning_curve.read_curve(exp / "train.log")
    assert [round(p.hours, 3) for p in points] == [0.03, 2.08]


def test_after_starts_a_curve_where_another_ends(tmp_path):
    """A student trains from its finished teacher: --after student=teacher shifts its x axis
    by the teacher's last x, in hours and in steps."""
    curves, steps = {}, {}
    for name, times in (("teacher", [1800, 1800]), ("student", [900, 900, 900])):
        (tmp_path / name).mkdir()
        lines = [LINE.format(e=e + 1, t=t, v=1.0) for e, t in enumerate(times)]
        (tmp_path / name / "train.log").write_text("\n".join(lines) + "\n")
        (tmp_path / name / "config.yaml").write_text("num_iters_per_epoch: 200\n")
        curves[name] = learning_curve.read_curve(tmp_path / name / "train.log")
        steps[name] = learning_curve.iters_per_epoch(tmp_path / name)
    hours = learning_curve.positions(curves, after={"student": "teacher"})
    assert hours == {"teacher": [0.5, 1.0], "student": [1.25, 1.5, 1.75]}
    assert learning_curve.positions(curves, steps, {"student": "teacher"})["student"] == [600.0, 800.0, 1000.0]
    assert learning_curve.positions(curves)["student"] == [0.25, 0.5, 0.75]
    exps = ["--exp", f"teacher={tmp_path / 'teacher'}", "--exp", f"student={tmp_path / 'student'}"]
    out = tmp_path / "c.png"
    assert learning_curve.main(exps + ["--after", "student=teacher", "--output", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_after_naming_an_unknown_curve_is_one_line(tmp_path, capsys):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "train.log").write_text(LINE.format(e=1, t=60, v=1.0) + "\n")
    argv = ["--exp", f"teacher={tmp_path / 't'}", "--after", "student=teacher", "--output", str(tmp_path / "c.png")]
    assert learning_curve.main(argv) == 1
    assert "--after names student, which no --exp labels" in capsys.readouterr().err
