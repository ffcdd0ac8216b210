"""Frame labels for probes: espeak-ng phonemes of a transcript (:func:`phonemes`) spread
over the speech region an energy detector finds (:func:`speech_span`, :func:`align`);
``python -m espnet2_p2p.bin.frame_labels`` writes them for a data dir."""

import subprocess
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
