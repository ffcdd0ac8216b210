import math

import pytest

from espnet2_p2p.bin import lm_report


def test_report_table_and_output_file(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text(
        "noise\n"
        "INFO: 1epoch results: [train] loss=5.0 [valid] loss=4.0, acc=0.1\n"
        "INFO: 2epoch results: [train] loss=3.0 [valid] loss=2.5, acc=0.2\n"
    )
    out = tmp_path / "RESULTS.md"
    lm_report.main([str(log), "--output", str(out)])
    text = out.read_text()
    assert text.startswith("| epoch |") and text == capsys.readouterr().out
    assert f"| 2 | 2.5000 | {math.exp(2.5):.2f} |" in text
    assert f"epoch 1 {math.exp(4.0):.2f} -> epoch 2 {math.exp(2.5):.2f}" in text
    with pytest.raises(SystemExit, match="no '\\[valid\\] loss='"):
        lm_report.main([str(out)])
    with pytest.raises(SystemExit, match="--output needs a file"):
        lm_report.main([str(log), "--output"])
