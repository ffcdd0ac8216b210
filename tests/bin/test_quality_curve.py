"""The campaign's learning curve: snapshot scores against training steps."""

import pytest

from espnet2_p2p.bin import quality_curve

METRICS = ["dnsmos", "visqol", "grid_line_db"]


def write_scores(folder, rows):
    folder.mkdir(parents=True)
    lines = ["system\tutterance\t" + "\t".join(METRICS)]
    lines += [f"{label}\t{utt}\t" + "\t".join(map(str, values)) for label, utt, values in rows]
    (folder / "scores.tsv").write_text("\n".join(lines) + "\n")


def test_points_steps_table_and_plot(tmp_path):
    curve = tmp_path / "curve"
    write_scores(
        curve / "scores_e5_dev",
        [
            ("student_gan_e5", "u1", (2.0, 3.0, 10.0)),
            ("student_gan_e5", "u2", (2.2, 3.2, 12.0)),
            ("plain_only_gan_e5", "u1", (1.8, 2.5, 11.0)),
            ("plain_only_gan_e5", "u2", (1.8, 2.7, 13.0)),
        ],
    )
    write_scores(
        curve / "scores_e15_dev",
        [("student_gan_e15", "u1", (2.6, 3.1, 2.0)), ("student_gan_e15", "u2", (2.8, 3.3, 0.0))],
    )
    write_scores(curve / "scores_e15_test", [("student_gan_e15", "u1", (9.0, 9.0, 9.0))])  # another set: not read
    log = tmp_path / "student_gan" / "train.log"
    log.parent.mkdir()
    log.write_text("1epoch:train:1-100batch\n1epoch:train:301-370batch\n2epoch:train:1-100batch\n")
    out = tmp_path / "figs" / "curve.png"
    quality_curve.main(["--curve_dir", str(curve), "--metrics", ",".join(METRICS), "--output", str(out)])
    text = out.with_suffix(".md").read_text()
    assert "| student_gan | 5 | 1,850 | 2.100 ± " in text
    assert "| student_gan | 15 | 5,550 | 2.700 ± " in text
    assert "| plain_only_gan | 5 | ? | 1.800 ± 0.000 |" in text  # no train.log: steps unknown
    assert "9.000" not in text
    assert out.stat().st_size > 10_000


def test_an_empty_curve_dir_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="quality_curve: no scores_e<EPOCH>_dev"):
        quality_curve.main(["--curve_dir", str(tmp_path), "--output", str(tmp_path / "c.png")])
