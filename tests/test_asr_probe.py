"""The ASR probe's text normalisation, CTC decoding and error counting (issue 30, item 2)."""

import pytest
import torch

from espnet2_p2p.evaluation import asr_probe


def test_normalise_keeps_letters_and_apostrophes():
    assert asr_probe.normalise("  it's  a Dog, (really)!\t") == "IT'S A DOG REALLY"
    assert asr_probe.normalise("1, 2... -") == ""


def test_prepare_text_writes_sets_shapes_and_the_training_characters(tmp_path):
    for name, lines in (("train", ["a HELLO world", "b ..."]), ("test", ["c Q x"])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "text").write_text("\n".join(lines) + "\n")
    tokens = asr_probe.prepare_text({"train": tmp_path / "train", "test": tmp_path / "test"}, tmp_path / "out")
    assert (tmp_path / "out" / "train" / "text").read_text() == "a HELLO WORLD\n"  # b has nothing to spell
    assert (tmp_path / "out" / "train" / "text_shape").read_text() == "a 11\n"
    chars = tokens.read_text().split()
    # Q appears only in test: not a training character (ESPnet maps it to <unk>)
    assert chars == ["<blank>", "<unk>", "<space>", "D", "E", "H", "L", "O", "R", "W", "<sos/eos>"]
    (tmp_path / "test" / "text").write_text("c 42\n")
    with pytest.raises(SystemExit, match="no transcript left"):
        asr_probe.prepare_text({"train": tmp_path / "train", "test": tmp_path / "test"}, tmp_path / "out")


def test_ctc_greedy_merges_repeats_then_drops_blanks():
    best = [0, 3, 3, 0, 3, 4, 4, 2, 5, 5, 0]  # blank 0 separates the two 3s
    logits = torch.nn.functional.one_hot(torch.tensor(best), 6).float()
    assert asr_probe.ctc_greedy(logits, len(best)) == [3, 3, 4, 2, 5]
    assert asr_probe.ctc_greedy(logits, 3) == [3]  # frames past the length are padding
    token_list = ["<blank>", "<unk>", "<space>", "A", "B", "C"]
    assert asr_probe.labels_to_text([3, 3, 4, 2, 5, 1], token_list) == "AAB C"  # <unk> dropped
    assert asr_probe.labels_to_text([2, 3, 2, 2], token_list) == "A"  # spaces trimmed and merged


def test_error_rates_are_corpus_rates_and_need_every_utterance():
    refs = {"u1": "AB CD", "u2": "EF"}
    cer, wer = asr_probe.error_rates(refs, {"u1": "AB CX", "u2": ""})
    assert cer == pytest.approx(3 / 7)  # one substitution + two deletions over 5 + 2 characters
    assert wer == pytest.approx(2 / 3)
    with pytest.raises(SystemExit, match="1 utterances have no hypothesis"):
        asr_probe.error_rates(refs, {"u1": "AB CD"})
