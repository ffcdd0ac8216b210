"""Text units aligned to samples (SecoustiCodec's contrastive term) and the speaker probe."""

import numpy as np
import soundfile as sf
import torch

from espnet2_p2p.bin import frame_labels, token_probe
from espnet2_p2p.evaluation import frame_labels as labels_lib


def test_uniform_alignment_inside_the_speech_region():
    fs = 16000
    wav = np.zeros(fs, dtype=np.float32)
    wav[4000:12000] = 0.5 * np.sin(np.arange(8000) * 0.3)
    span = labels_lib.speech_span(wav, fs)
    assert abs(span[0] - 4000) <= 320 and abs(span[1] - 12000) <= 320
    labels = labels_lib.align([5, 6, 7, 8], len(wav), span)
    assert labels.dtype == np.int16 and labels.shape == (fs,)
    assert (labels[: span[0]] == 0).all() and (labels[span[1] :] == 0).all()
    inside = labels[span[0] : span[1]]
    values, counts = np.unique(inside, return_counts=True)
    assert values.tolist() == [5, 6, 7, 8] and counts.max() - counts.min() <= 1
    assert np.all(np.diff(inside) >= 0)  # units keep their order


def test_phonemes_from_espeak():
    units = labels_lib.phonemes("the cat sat")
    assert 5 <= len(units) <= 12 and all(u and "'" not in u for u in units)


def test_lowercasing_keeps_espeak_from_spelling_all_caps_words():
    """speechocean762's transcripts are upper case: espeak-ng reads a short all-caps word as
    an abbreviation (IT as the letters I, T), so the recipe lowercases them first."""
    caps = "WE CALL IT BEAR"
    lower = labels_lib.TEXT_NORMS["lower"](caps)
    assert lower == "we call it bear" and labels_lib.TEXT_NORMS["none"](caps) == caps
    spelled, read = labels_lib.phonemes(caps), labels_lib.phonemes(lower)
    assert "aI" in spelled and "aI" not in read  # "IT": the names of I and T, against the word "it"
    assert len(spelled) > len(read)


def test_labels_for_a_data_dir(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    fs = 16000
    lines, texts = [], []
    for i, text in enumerate(["the cat sat", "a dog ran far"]):
        wav = (0.3 * np.sin(np.arange(fs) * (0.05 + 0.01 * i))).astype(np.float32)
        sf.write(data / f"u{i}.wav", wav, fs)
        lines.append(f"u{i} {data / f'u{i}.wav'}")
        texts.append(f"u{i} {text}")
    (data / "wav.scp").write_text("\n".join(lines) + "\n")
    (data / "text").write_text("\n".join(texts) + "\n")
    units = tmp_path / "units.txt"
    frame_labels.main(
        ["--data_dir", str(data), "--out_dir", str(tmp_path / "fl"), "--unit", "char", "--unit_list", str(units)]
    )
    inventory = units.read_text().split()
    assert inventory[0] == "<sil>" and set("thecatsadogrnf") <= set(inventory)
    scp = dict(line.split() for line in (tmp_path / "fl" / "frame_labels.scp").read_text().splitlines())
    labels = np.load(scp["u0"])
    assert labels.shape == (fs,) and set(np.unique(labels)) <= set(range(len(inventory)))


def test_speaker_probe_sees_speaker_information_when_it_is_there():
    torch.manual_seed(0)
    levels = [3, 3, 3]
    utt2spk, leaky, clean = {}, {}, {}
    for s in range(4):
        for u in range(4):
            key = f"s{s}_u{u}"
            utt2spk[key] = f"s{s}"
            # leaky: the first digit is the speaker's (mod 3) most of the time
            digits = torch.randint(0, 3, (200, 3))
            digits[:150, 0] = s % 3
            digits[:150, 1] = s // 3
            leaky[key] = digits[:, 0] + 3 * digits[:, 1] + 9 * digits[:, 2]
            clean[key] = torch.randint(0, 27, (200,))
    a = token_probe.speaker_probe(leaky, utt2spk, levels)
    b = token_probe.speaker_probe(clean, utt2spk, levels)
    assert a["speakers"] == 4 and a["frame_majority"] == 0.25
    assert a["frame_accuracy"] > 0.6 and a["utterance_accuracy"] >= 0.75
    assert b["frame_accuracy"] < 0.35
