"""Small fake corpora in the directory layouts of LibriTTS, VCTK and speechocean762
(espeak-ng speech)."""

from pathlib import Path

import soundfile as sf

from espnet2_p2p.data.espeak import SENTENCES, TEST_SPEAKERS, TRAIN_SPEAKERS, synthesize

VOICES = TRAIN_SPEAKERS + TEST_SPEAKERS


def make_libritts(root: Path, utts_per_speaker: int = 2) -> Path:
    """root/LibriTTS/{train-clean-100,dev-clean,test-clean}/<spk>/<chapter>/... at 24 kHz."""
    corpus = root / "LibriTTS"
    parts = {"train-clean-100": ["19", "26"], "dev-clean": ["84"], "test-clean": ["121"]}
    voice = iter(VOICES)
    for part, speakers in parts.items():
        for spk in speakers:
            chapter = "1000"
            folder = corpus / part / spk / chapter
            folder.mkdir(parents=True)
            trans, book = [], []
            v = next(voice)
            for i in range(utts_per_speaker):
                utt = f"{spk}_{chapter}_{i:06d}_000000"
                text = SENTENCES[(int(spk) + i) % len(SENTENCES)]
                sf.write(str(folder / f"{utt}.wav"), synthesize(v, text, 24000), 24000)
                (folder / f"{utt}.normalized.txt").write_text(text)
                trans.append(f"{utt}\t{text}\t{text}")
                book.append(f"{utt}\t{text}\t{text}\t20.5")
            (folder / f"{spk}_{chapter}.trans.tsv").write_text("\n".join(trans) + "\n")
            (folder / f"{spk}_{chapter}.book.tsv").write_text("\n".join(book) + "\n")
    return corpus


def make_vctk(root: Path, num_speakers: int = 5, utts_per_speaker: int = 2, fs: int = 48000) -> Path:
    """root/VCTK-Corpus/{wav48,txt}/p2xx/p2xx_00i.{wav,txt} + speaker-info.txt."""
    corpus = root / "VCTK-Corpus"
    info = ["ID  AGE  GENDER  ACCENTS  REGION"]
    for n in range(num_speakers):
        spk = f"p{225 + n}"
        info.append(f"{225 + n}  23  F  English  Southern England")
        (corpus / "wav48" / spk).mkdir(parents=True)
        (corpus / "txt" / spk).mkdir(parents=True)
        for i in range(utts_per_speaker):
            text = SENTENCES[(n * 3 + i) % len(SENTENCES)]
            sf.write(str(corpus / "wav48" / spk / f"{spk}_{i + 1:03d}.wav"), synthesize(VOICES[n], text, fs), fs)
            (corpus / "txt" / spk / f"{spk}_{i + 1:03d}.txt").write_text(text + "\n")
    (corpus / "speaker-info.txt").write_text("\n".join(info) + "\n")
    return corpus


def make_speechocean762(
    root: Path, test_speakers: int = 10, train_speakers: int = 5, utts_per_speaker: int = 3, fs: int = 16000
) -> Path:
    """root/speechocean762/{WAVE/SPEAKERxxxx/*.WAV, train/, test/} as OpenSLR 101 lays it out:
    Kaldi dirs whose wav.scp paths are relative to the corpus root, tab- and space-separated
    as the real files are, and one WAV that no list names."""
    corpus = root / "speechocean762"
    lists = {"test": range(1, 1 + test_speakers), "train": range(1 + test_speakers, 1 + test_speakers + train_speakers)}
    for part, numbers in lists.items():
        (corpus / part).mkdir(parents=True)
        scp, text, utt2spk, gender = [], [], [], []
        for n in numbers:
            spk = f"{n:04d}"
            folder = corpus / "WAVE" / f"SPEAKER{spk}"
            folder.mkdir(parents=True)
            for i in range(utts_per_speaker + (1 if n == 1 else 0)):
                utt = f"{spk}{i:05d}"
                sentence = SENTENCES[(n + i) % len(SENTENCES)].upper()
                sf.write(str(folder / f"{utt}.WAV"), synthesize(VOICES[n % len(VOICES)], sentence, fs), fs)
                if i == utts_per_speaker:  # the unlisted file
                    continue
                scp.append(f"{utt}\tWAVE/SPEAKER{spk}/{utt}.WAV")
                text.append(f"{utt}\t{sentence}")
                utt2spk.append(f"{utt} {spk}")
            gender.append(f"{spk}\t{'mf'[n % 2]}")
        for name, lines in (("wav.scp", scp), ("text", text), ("utt2spk", utt2spk), ("spk2gender", gender)):
            (corpus / part / name).write_text("\n".join(lines) + "\n")
    (corpus / "README.md").write_text("fake speechocean762\n")
    return corpus
