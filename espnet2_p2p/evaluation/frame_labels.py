"""Frame labels for probes: espeak-ng phonemes of a transcript (:func:`phonemes`) spread
over the speech region an energy detector finds (:func:`speech_span`, :func:`align`);
``python -m espnet2_p2p.bin.frame_labels`` writes them for a data dir."""

import subprocess
from pathlib import Path
from typing import List

import numpy as np

SIL = "<sil>"


TEXT_NORMS = {"none": lambda text: text, "lower": str.lower}


def phonemes(text: str, voice: str = "en") -> List[str]:
    """espeak-ng phoneme symbols of a transcript (stress and pause marks removed)."""
    out = subprocess.run(
        ["espeak-ng", "-q", "-x", "--sep= ", "-v", voice, text],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    units = []
    for tok in out.split():
        tok = tok.replace("'", "").replace(",", "").replace("_:", "").replace("_", "")
        if tok:
            units.append(tok)
    return units


def speech_span(wav: np.ndarray, fs: int, threshold_db: float = 35.0):
    """(first, last) sample of the speech region found by a frame-energy detector."""
    frame = max(1, int(0.02 * fs))
    n = len(wav) // frame
    if n == 0:
        return 0, len(wav)
    energy = (wav[: n * frame].reshape(n, frame).astype(np.float64) ** 2).mean(1)
    level = 10 * np.log10(energy + 1e-12)
    speech = np.nonzero(level > level.max() - threshold_db)[0]
    if len(speech) == 0:
        return 0, len(wav)
    return int(speech[0] * frame), int(min(len(wav), (speech[-1] + 1) * frame))


def align(units: List[int], num_samples: int, span) -> np.ndarray:
    """Per-sample labels: ``units`` spread uniformly over ``span``; 0 (<sil>) elsewhere."""
    labels = np.zeros(num_samples, dtype=np.int16)
    start, end = span
    if units and end > start:
        edges = np.linspace(start, end, len(units) + 1).round().astype(int)
        for u, a, b in zip(units, edges[:-1], edges[1:]):
            labels[a:b] = u
    return labels


def unit_tokenizer(unit: str, texts: dict, out_dir: Path, bpe_model=None, nbpe: int = 100, voice: str = "en"):
    """text -> its units: ``phoneme`` (espeak-ng's ``voice``), ``bpe`` (a sentencepiece
    model: ``bpe_model``, or one trained on ``texts``' values into ``out_dir/bpe.model``)
    or ``char`` (the letters, lowercased)."""
    if unit == "phoneme":
        return lambda text: phonemes(text, voice)
    if unit == "char":
        return lambda text: [c for c in text.lower() if c.isalpha()]
    import sentencepiece as spm

    model = Path(bpe_model or Path(out_dir) / "bpe.model")
    if not model.exists():
        corpus = Path(out_dir) / "bpe_train.txt"
        corpus.write_text("\n".join(texts.values()) + "\n", encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(model.with_suffix("")),
            vocab_size=nbpe,
            model_type="bpe",
            character_coverage=1.0,
            minloglevel=2,
        )
    sp = spm.SentencePieceProcessor(model_file=str(model))
    return lambda text: sp.encode(text, out_type=str)


def unit_inventory(unit_list: Path, symbols: dict) -> List[str]:
    """The units, ``<sil>`` first: read from ``unit_list`` when it exists (dev, test), else
    those of ``symbols`` ({utterance: units}, the training set), written there."""
    if unit_list.exists():
        return unit_list.read_text(encoding="utf-8").split()
    inventory = [SIL] + sorted({u for units in symbols.values() for u in units})
    unit_list.parent.mkdir(parents=True, exist_ok=True)
    unit_list.write_text("\n".join(inventory) + "\n", encoding="utf-8")
    return inventory


def labels_of_file(wav_path, units: List[int], threshold_db: float = 35.0) -> np.ndarray:
    """Per-sample labels of an audio file (channels averaged): ``units`` spread over its
    speech span (:func:`align`)."""
    import soundfile as sf

    wav, fs = sf.read(wav_path, dtype="float32", always_2d=True)
    wav = wav.mean(1)
    return align(units, len(wav), speech_span(wav, fs, threshold_db))
