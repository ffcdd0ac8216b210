"""Lhotse data preparation: manifests, formatting, and refusing bad data cleanly."""

import shutil
import sys
from pathlib import Path

import pytest
import soundfile as sf
from lhotse import CutSet

sys.path.insert(0, str(Path(__file__).parent))
from fake_corpora import make_libritts, make_speechocean762, make_vctk  # noqa: E402

from espnet2_p2p.data import prepare  # noqa: E402


def read_table(path):
    return dict(line.split(maxsplit=1) for line in Path(path).read_text().splitlines())


def test_espeak_corpus_to_manifests_and_data_dirs(espeak_corpus, tmp_path):
    manifests = tmp_path / "manifests"
    prepare.main(
        [
            "manifests",
            "--corpus",
            "espeak",
            "--corpus_dir",
            str(espeak_corpus),
            "--output_dir",
            str(manifests),
            "--expect_fs",
            "16000",
        ]
    )
    for split in ("train", "test"):
        for kind in ("recordings", "supervisions", "cuts"):
            assert (manifests / f"{split}_{kind}.jsonl.gz").is_file()
    cuts = CutSet.from_file(manifests / "train_cuts.jsonl.gz")
    assert len(cuts) == 8 and all(c.supervisions[0].text for c in cuts)

    out = tmp_path / "dump" / "train"
    limit = sorted(c.duration for c in cuts)[len(cuts) // 2]
    prepare.main(
        [
            "format",
            "--manifest_dir",
            str(manifests),
            "--sets",
            "train",
            "--dumpdir",
            str(out.parent),
            "--fs",
            "8000",
            "--max_duration",
            str(limit),
        ]
    )
    wavs = read_table(out / "wav.scp")
    kept = [c for c in cuts if c.duration <= limit]
    assert 0 < len(wavs) == len(kept) < len(cuts)  # the duration filter dropped some
    texts, speakers = read_table(out / "text"), read_table(out / "utt2spk")
    lengths = read_table(out / "utt2num_samples")
    for utt, path in wavs.items():
        audio, fs = sf.read(path)
        assert fs == 8000 and audio.ndim == 1 and len(audio) == int(lengths[utt])
        assert texts[utt] and speakers[utt] == utt.rsplit("_", 1)[0]
    assert not out.with_name("train.tmp").exists()


def test_bad_data_stops_with_one_line_and_no_partial_dir(espeak_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(espeak_corpus, corpus)
    # Rewrite wav.scp to the copy, then corrupt one file.
    for split in ("train", "test"):
        scp = corpus / split / "wav.scp"
        scp.write_text(scp.read_text().replace(str(espeak_corpus), str(corpus)))
    victim = sorted((corpus / "test" / "wav").glob("*.wav"))[0]
    with pytest.raises(SystemExit, match="corpus directory .*nowhere does not exist"):
        prepare.main(
            [
                "manifests",
                "--corpus",
                "espeak",
                "--corpus_dir",
                str(tmp_path / "nowhere"),
                "--output_dir",
                str(tmp_path / "m"),
            ]
        )
    with pytest.raises(SystemExit, match=r"\.wav is sampled at 16000 Hz, this corpus should be 48000"):
        prepare.main(
            [
                "manifests",
                "--corpus",
                "espeak",
                "--corpus_dir",
                str(corpus),
                "--output_dir",
                str(tmp_path / "m"),
                "--expect_fs",
                "48000",
            ]
        )
    prepare.main(["manifests", "--corpus", "espeak", "--corpus_dir", str(corpus), "--output_dir", str(tmp_path / "m")])
    victim.write_bytes(b"RIFF....WAVEfmt garbage")
    out = tmp_path / "dump" / "test"
    with pytest.raises(SystemExit, match=f"cannot read audio of .*{victim.name}"):
        prepare.main(["format", "--manifest_dir", str(tmp_path / "m"), "--sets", "test", "--dumpdir", str(out.parent)])
    assert not out.exists() and not out.with_name("test.tmp").exists()
    with pytest.raises(SystemExit, match=f"cannot read audio file .*{victim.name}"):
        prepare.main(
            ["manifests", "--corpus", "espeak", "--corpus_dir", str(corpus), "--output_dir", str(tmp_path / "m2")]
        )


def test_libritts_layout(tmp_path):
    corpus = make_libritts(tmp_path)
    cuts = prepare.corpus_cuts("libritts", corpus, expect_fs=24000)
    assert sorted(cuts) == ["dev", "test", "train"]
    assert len(cuts["train"]) == 4 and len(cuts["test"]) == 2
    n = prepare.format_data_dir(cuts["test"], tmp_path / "test", fs=16000)
    assert n == 2
    audio, fs = sf.read(next(iter(read_table(tmp_path / "test" / "wav.scp").values())))
    assert fs == 16000


def test_vctk_layout_and_speaker_split(tmp_path):
    corpus = make_vctk(tmp_path, fs=48000)
    cuts = prepare.corpus_cuts("vctk", corpus, expect_fs=48000, num_test_speakers=2)
    speakers = {split: {c.supervisions[0].speaker for c in cs} for split, cs in cuts.items()}
    assert speakers == {"train": {"p225"}, "dev": {"p226", "p227"}, "test": {"p228", "p229"}}
    with pytest.raises(prepare.DataPrepError, match="sampled at 48000 Hz.*16000"):
        prepare.corpus_cuts("vctk", corpus, expect_fs=16000)


def test_speechocean762_refuses_a_wrong_rate_naming_the_file(tmp_path):
    corpus = make_speechocean762(tmp_path / "src", test_speakers=5, train_speakers=1, utts_per_speaker=1)
    victim = next((corpus / "WAVE" / "SPEAKER0006").glob("*.WAV"))
    wav, fs = sf.read(str(victim))
    sf.write(str(victim), wav[::2], fs // 2)
    out = tmp_path / "m"
    with pytest.raises(SystemExit, match=rf"{victim.name} is sampled at 8000 Hz, this corpus should be 16000"):
        prepare.main(
            [
                "manifests",
                "--corpus",
                "speechocean762",
                "--corpus_dir",
                str(corpus),
                "--output_dir",
                str(out),
                "--expect_fs",
                "16000",
            ]
        )
    assert not out.exists()
    with pytest.raises(SystemExit, match="is not a speechocean762 copy: .*train/wav.scp is missing"):
        shutil.rmtree(corpus / "train")
        prepare.main(["manifests", "--corpus", "speechocean762", "--corpus_dir", str(corpus), "--output_dir", str(out)])
