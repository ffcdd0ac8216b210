"""A small synthetic speech corpus from espeak-ng, for tests and the demo recipe.

Each *speaker* is an espeak-ng voice with a variant, a pitch and a speed. Sentences are
drawn from a fixed pool and combined, so utterances differ in text and length. Audio is
written as 16-bit PCM wavs at ``fs`` with a Kaldi-style data dir beside it.
"""

import dataclasses
import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import soundfile as sf
import torch
import torchaudio

from espnet2_p2p.data.prepare import write_kaldi_dir

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things from the store.",
    "Six spoons of fresh snow peas, five thick slabs of blue cheese.",
    "We also need a small plastic snake and a big toy frog for the kids.",
    "She can scoop these things into three red bags.",
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "Numbers like seven hundred and twelve are read aloud.",
    "Is the meeting on Tuesday or on Thursday afternoon?",
    "Wow, that was a surprisingly loud thunderstorm!",
    "Quantization turns a continuous signal into a few discrete symbols.",
    "My phone number ends in four, nine, two and eight.",
    "Bring the umbrella; the forecast says rain until midnight.",
]


@dataclasses.dataclass(frozen=True)
class Speaker:
    """An espeak-ng voice setting that plays the role of a speaker."""

    name: str
    voice: str
    pitch: int = 50
    speed: int = 160

    def command(self, text: str, wav_path: str) -> List[str]:
        return [
            "espeak-ng",
            "-v",
            self.voice,
            "-p",
            str(self.pitch),
            "-s",
            str(self.speed),
            "-w",
            wav_path,
            text,
        ]


# Voices of the training speakers and of speakers held out for testing.
TRAIN_SPEAKERS = [
    Speaker("usm1", "en-us+m1", 45, 165),
    Speaker("usf2", "en-us+f2", 60, 150),
    Speaker("gbm3", "en-gb+m3", 40, 170),
    Speaker("gbf3", "en-gb+f3", 65, 155),
    Speaker("scm2", "en-gb-scotland+m2", 50, 145),
    Speaker("rpf1", "en-gb-x-rp+f1", 70, 160),
    Speaker("carm4", "en-029+m4", 35, 175),
    Speaker("usf4", "en-us+f4", 55, 180),
]
TEST_SPEAKERS = [
    Speaker("wmm5", "en-gb-x-gbcwmd+m5", 42, 158),
    Speaker("lanf5", "en-gb-x-gbclan+f5", 66, 162),
]


def require_espeak() -> str:
    """Path of espeak-ng, or a clear error naming the package to install."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise RuntimeError("espeak-ng is not installed; install Debian's 'espeak-ng' package (make setup does it)")
    return path


def synthesize(speaker: Speaker, text: str, fs: int = 16000) -> np.ndarray:
    """Speak ``text`` with ``speaker``; float32 mono audio at ``fs``."""
    require_espeak()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "out.wav")
        subprocess.run(speaker.command(text, path), check=True, capture_output=True)
        audio, sr = sf.read(path, dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if sr != fs:
        audio = torchaudio.functional.resample(torch.from_numpy(audio), sr, fs).numpy()
    return audio.astype(np.float32)


def random_text(rng: random.Random, max_sentences: int = 2) -> str:
    """One to ``max_sentences`` pool sentences joined into an utterance."""
    return " ".join(rng.sample(SENTENCES, rng.randint(1, max_sentences)))


def make_split(
    out_dir: Path,
    speakers: Sequence[Speaker],
    utts_per_speaker: int,
    fs: int = 16000,
    seed: int = 0,
    max_sentences: int = 2,
    progress: Optional[Iterable] = None,
) -> Dict[str, dict]:
    """Synthesise one split: ``out_dir/wav/*.wav`` and a Kaldi data dir in ``out_dir``.

    Returns:
        Dict[str, dict]: utterance id -> path, speaker, text, num_samples.
    """
    rng = random.Random(seed)
    out_dir = Path(out_dir)
    wav_dir = out_dir / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(spk, i, random_text(rng, max_sentences)) for spk in speakers for i in range(utts_per_speaker)]
    if progress is not None:
        jobs = progress(jobs)
    utts = {}
    for spk, i, text in jobs:
        utt = f"{spk.name}_{i:04d}"
        audio = synthesize(spk, text, fs)
        path = (wav_dir / f"{utt}.wav").resolve()
        sf.write(str(path), audio, fs, subtype="PCM_16")
        utts[utt] = dict(path=str(path), speaker=spk.name, text=text, num_samples=len(audio))
    write_kaldi_dir(
        out_dir,
        sorted((u, v["path"], v["speaker"], v["text"], v["num_samples"]) for u, v in utts.items()),
    )
    return utts


def main(argv=None) -> None:
    """Synthesise train/dev/test splits: ``python -m espnet2_p2p.data.espeak OUT_DIR``."""
    import argparse

    from tqdm import tqdm

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--fs", type=int, default=16000)
    parser.add_argument("--train_utts", type=int, default=30, help="per training speaker")
    parser.add_argument("--dev_utts", type=int, default=1, help="per training speaker")
    parser.add_argument("--test_utts", type=int, default=6, help="per unseen test speaker")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    splits = [
        ("train", TRAIN_SPEAKERS, args.train_utts, args.seed),
        ("dev", TRAIN_SPEAKERS, args.dev_utts, args.seed + 1),
        ("test", TEST_SPEAKERS, args.test_utts, args.seed + 2),
    ]
    for name, speakers, n, seed in splits:
        utts = make_split(
            args.out_dir / name,
            speakers,
            n,
            fs=args.fs,
            seed=seed,
            progress=lambda jobs, name=name: tqdm(jobs, desc=f"espeak-ng {name}"),
        )
        hours = sum(u["num_samples"] for u in utts.values()) / args.fs / 3600
        print(f"{name}: {len(utts)} utterances, {hours * 60:.1f} min -> {args.out_dir / name}")


if __name__ == "__main__":
    main()
