"""The recipe's comparison table: means, paired differences, gap share, codebook use."""

import json

import pytest

from espnet2_p2p.bin import results_table


def write_inputs(tmp_path, scores):
    (tmp_path / "dec").mkdir()
    (tmp_path / "sc").mkdir()
    summary = {
        "base": {
            "nominal_bps": 500.0,
            "codebook_use": [{"size": 1024, "used": 512, "share": 0.5, "entropy_bits": 8.5}],
        },
        "student": {"nominal_bps": 500.0, "pseudo_top1": [[0.25, 0.125]], "codebook_use": []},
        "teacher": {"nominal_bps": 2000.0, "codebook_use": []},
    }
    (tmp_path / "dec" / "summary.json").write_text(json.dumps(summary))
    rows = ["system\tutterance\tstoi\tmel_distance"]
    for system, values in scores.items():
        rows += [f"{system}\tu{i}\t{s}\t{m}" for i, (s, m) in enumerate(values)]
    (tmp_path / "sc" / "scores.tsv").write_text("\n".join(rows) + "\n")


def table(tmp_path, *options):
    """Run the table on write_inputs' folders with OPTIONS; its Markdown."""
    out = tmp_path / "table.md"
    dirs = ["--decode_dir", str(tmp_path / "dec"), "--scores_dir", str(tmp_path / "sc"), "--output", str(out)]
    results_table.main(dirs + list(options))
    return out.read_text()


def test_paired_differences_and_gap_share(tmp_path):
    write_inputs(
        tmp_path,
        {
            "base": [(0.5, 2.0), (0.6, 2.0), (0.7, 2.0)],
            "plain_only": [(0.5, 2.0), (0.6, 2.0), (0.7, 2.0)],
            "student": [(0.6, 1.5), (0.7, 1.5), (0.8, 1.5)],
            "teacher": [(0.7, 1.0), (0.8, 1.0), (0.9, 1.0)],
        },
    )
    text = table(
        tmp_path,
        "--metrics",
        "stoi,mel_distance",
        "--baselines",
        "base",
        "--students",
        "student",
        "--teacher",
        "teacher",
    )
    assert "| student | 0.5 | 0.700 ± 0.113 | 1.500 ± 0.000 | 0.250 (0.125) |" in text
    assert "| teacher | 2 |" in text
    assert "| student - base | +0.100 ± 0.000 | -0.500 ± 0.000 |" in text
    assert "| student | +50% | +50% |" in text  # half of the plain-only-to-teacher gap, both ways
    assert "| base | 0 | 512 / 1024 | 50.0% | 8.50 |" in text


def test_missing_inputs_stop_with_one_line(tmp_path):
    with pytest.raises(SystemExit, match="summary.json does not exist"):
        results_table.main(
            ["--decode_dir", str(tmp_path), "--scores_dir", str(tmp_path), "--output", str(tmp_path / "t.md")]
        )
    write_inputs(tmp_path, {"base": [(0.5, 2.0), (0.6, 2.0)]})
    with pytest.raises(SystemExit, match="system 'student' has no scores"):
        table(tmp_path, "--students", "student", "--baselines", "base")


def test_a_sparse_metric_is_averaged_over_its_scored_utterances(tmp_path):
    write_inputs(tmp_path, {"base": [(0.5, 2.0), (0.7, float("nan")), (0.6, 4.0)]})
    text = table(tmp_path, "--metrics", "stoi,mel_distance")
    assert "over 3 utterances; mel distance over 2." in text
    assert "| base | 0.5 | 0.600 ± 0.113 | 3.000 ± 1.960 |" in text


def test_systems_scored_elsewhere_join_the_table_on_the_same_utterances(tmp_path):
    write_inputs(tmp_path, {"base": [(0.5, 2.0), (0.6, 2.0)], "student": [(0.7, 1.5), (0.8, 1.5)]})
    (tmp_path / "dsp").mkdir()
    (tmp_path / "dsp" / "scores.tsv").write_text(
        "system\tutterance\tstoi\tmel_distance\n"
        "p2p\tu0\t0.1\t9\np2p\tu1\t0.1\t9\n"  # another system of that run: not taken
        "codec2_700C\tu0\t0.6\t3.0\ncodec2_700C\tu1\t0.6\t3.0\n"
    )
    args = ["--metrics", "stoi,mel_distance", "--students", "student", "--extra_scores", str(tmp_path / "dsp")]
    text = table(tmp_path, *args, "--extra_systems", "codec2_700C=0.7", "--baselines", "codec2_700C")
    assert "| codec2_700C | 0.7 | 0.600 ± 0.000 | 3.000 ± 0.000 | – |" in text and "| p2p |" not in text
    assert "| student - codec2_700C | +0.150 ± 0.098 | -1.500 ± 0.000 |" in text
    with pytest.raises(SystemExit, match="'codec2_450' is in none of"):
        table(tmp_path, *args, "--extra_systems", "codec2_450=0.45")
    (tmp_path / "dsp" / "scores.tsv").write_text("system\tutterance\tstoi\tmel_distance\ncodec2_700C\tu0\t0.6\t3.0\n")
    with pytest.raises(SystemExit, match="scored on 1 utterances, not the 2 of this table"):
        table(tmp_path, *args, "--extra_systems", "codec2_700C=0.7")
    with pytest.raises(SystemExit, match="expected NAME=KBPS"):
        table(tmp_path, *args, "--extra_systems", "codec2_700C")


def test_speaker_similarity_is_a_default_column_when_scored(tmp_path):
    (tmp_path / "dec").mkdir()
    (tmp_path / "sc").mkdir()
    (tmp_path / "dec" / "summary.json").write_text(json.dumps({"a": {"nominal_bps": 500.0}, "b": {}}))
    rows = ["system\tutterance\tstoi\tspeaker_sim"]
    rows += [f"{s}\tu{i}\t0.8\t{0.9 - 0.2 * (s == 'b') + 0.01 * i}" for s in "ab" for i in range(3)]
    (tmp_path / "sc" / "scores.tsv").write_text("\n".join(rows) + "\n")
    text = table(tmp_path, "--pairs", "b-a")
    assert "| system | kbit/s | STOI ↑ | speaker sim. ↑ |" in text
    assert "| a | 0.5 | 0.800 ± 0.000 | 0.910 ± 0.011 |" in text
    assert "| b - a | +0.000 ± 0.000 | -0.200 ± 0.000 |" in text
