"""Small fake corpora in the directory layouts of LibriTTS and VCTK (espeak-ng speech)."""

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
            sf.write(str(corpus / "wav48" / spk / f"{spk}_{i + 1:03d}.wav"),
                     synthesize(VOICES[n], text, fs), fs)  # fmt: skip
            (corpus / "txt" / spk / f"{spk}_{i + 1:03d}.txt").write_text(text + "\n")
    (corpus / "speaker-info.txt").write_text("\n".join(info) + "\n")
    return corpus
