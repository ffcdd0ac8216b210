"""Objective distances between a reference and a decoded waveform."""

import numpy as np
import torch
import torchaudio

_MEL = {}


def _mel_transform(fs: int) -> torchaudio.transforms.MelSpectrogram:
    if fs not in _MEL:
        _MEL[fs] = torchaudio.transforms.MelSpectrogram(
            sample_rate=fs, n_fft=1024, hop_length=256, n_mels=80, power=2.0
        )
    return _MEL[fs]


def _as_tensor(x) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if x.dim() != 1:
        raise ValueError(f"expected a mono waveform (T,), got shape {tuple(x.shape)}")
    return x


def mel_distance(ref, hyp, fs: int = 16000, silence_db: float = 40.0) -> float:
    """Mean absolute difference of log10 mel energies over the non-silent frames of ``ref``.

    Frames whose reference energy lies more than ``silence_db`` below the loudest
    frame are masked: with a tiny floor, digital silence would dominate the mean.
    Lengths are matched by truncating to the shorter signal.
    """
    ref, hyp = _as_tensor(ref), _as_tensor(hyp)
    n = min(len(ref), len(hyp))
    if n == 0:
        raise ValueError("mel_distance needs non-empty signals")
    mel = _mel_transform(fs)
    m_ref = torch.log10(mel(ref[:n]) + 1e-10)
    m_hyp = torch.log10(mel(hyp[:n]) + 1e-10)
    frame_db = 10 * torch.log10(mel(ref[:n]).sum(0) + 1e-10)
    keep = frame_db > frame_db.max() - silence_db
    return float((m_ref - m_hyp).abs()[:, keep].mean())
