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


def log_spectral_distance(ref, hyp, n_fft: int = 512, hop: int = 128, eps: float = 1e-10) -> float:
    """Log-spectral distance: per-frame RMS over bins of the log10-power difference,
    averaged over frames (log10 units, as codec papers report it; x10 for dB)."""
    ref, hyp = _as_tensor(ref), _as_tensor(hyp)
    n = min(len(ref), len(hyp))
    window = torch.hann_window(n_fft)

    def power(x):
        spec = torch.stft(x[:n], n_fft, hop, window=window, return_complex=True)
        return spec.abs().pow(2)

    diff = torch.log10(power(ref) + eps) - torch.log10(power(hyp) + eps)
    return float(diff.pow(2).mean(0).sqrt().mean())


def pesq_wb(ref, hyp, fs: int) -> float:
    """Wide-band PESQ (ITU-T P.862.2) at 16 kHz; other rates are resampled first."""
    from pesq import pesq

    ref, hyp = (resample(x, fs, 16000) for x in (ref, hyp))
    n = min(len(ref), len(hyp))
    return float(pesq(16000, ref[:n], hyp[:n], "wb"))


def stoi(ref, hyp, fs: int, extended: bool = False) -> float:
    """STOI (or eSTOI with ``extended=True``)."""
    from pystoi import stoi as _stoi

    n = min(len(ref), len(hyp))
    return float(_stoi(np.asarray(ref[:n]), np.asarray(hyp[:n]), fs, extended=extended))


def dnsmos(wav, fs: int) -> float:
    """DNSMOS P.835 overall score (speechmos ships the ONNX models; nothing is downloaded)."""
    from speechmos import dnsmos as _dnsmos

    wav = resample(wav, fs, 16000)
    peak = np.abs(wav).max()
    if peak > 1.0:
        wav = wav / peak
    return float(_dnsmos.run(wav.astype(np.float32), 16000)["ovrl_mos"])


_VISQOL = {}


def visqol(ref, hyp, fs: int) -> float:
    """ViSQOL v3 in speech mode (MOS-LQO, 1 to 5; identical signals score 5).

    ``visqol-python`` (a pure-Python port of Google's ViSQOL 3.3.3) with its bundled
    model files; nothing is downloaded. Speech mode works at 16 kHz, so other rates are
    resampled first. The quality mapping is ViSQOL's polynomial speech mapping scaled to
    5.0 (``use_lattice_model=False``): the deep-lattice mapper needs the LiteRT runtime,
    and in our check it gave the floor of 1.0 to speech with white noise 50 dB down.
    """
    if "api" not in _VISQOL:
        import logging

        from visqol import VisqolApi

        logging.getLogger("visqol").setLevel(logging.ERROR)
        api = VisqolApi()
        api.create(mode="speech", use_lattice_model=False)
        _VISQOL["api"] = api
    ref, hyp = (resample(x, fs, 16000).astype(np.float64) for x in (ref, hyp))
    n = min(len(ref), len(hyp))
    return float(_VISQOL["api"].measure_from_arrays(ref[:n], hyp[:n], 16000).moslqo)


_SPEAKER = {}


def speaker_similarity(ref, hyp, fs: int, min_speech_s: float = 0.2) -> float:
    """Cosine between the speaker embeddings of ``ref`` and ``hyp``.

    The embeddings are Resemblyzer's (a GE2E voice encoder whose weights ship inside its
    pip package; nothing is downloaded), each of the signal at 16 kHz after Resemblyzer's
    preprocessing (set to -30 dBFS, long pauses cut by WebRTC's VAD), except that a loud
    signal is turned down as a quiet one is turned up: its encoder reads linear mel
    energies, so a codec's change of level alone would otherwise lower the score.
    They are non-negative and L2-normed, so the cosine lies in [0, 1]: one espeak-ng voice
    reading two sentences scores about 0.88, two espeak-ng voices reading one about 0.67
    (tests/bin/test_score.py). A signal with less than ``min_speech_s`` of speech left
    after the VAD has no embedding: ValueError (the scorer's NaN and note).
    """
    if "encoder" not in _SPEAKER:
        import warnings

        with warnings.catch_warnings():  # its import of scipy.ndimage.morphology is deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            import resemblyzer

        _SPEAKER["encoder"] = resemblyzer.VoiceEncoder("cpu", verbose=False)
        _SPEAKER["module"] = resemblyzer

    def embedding(wav):
        rz = _SPEAKER["module"]
        wav = resample(wav, fs, 16000)
        if np.abs(wav).max() < 2**-15:  # the level step would divide by zero
            raise ValueError("a silent signal has no voice to embed")
        wav = rz.normalize_volume(wav, rz.hparams.audio_norm_target_dBFS, increase_only=False)
        wav = rz.trim_long_silences(np.clip(wav, -1.0, 1.0))  # its VAD packs int16, unclipped
        if len(wav) < min_speech_s * 16000:
            raise ValueError(f"under {min_speech_s} s of speech after voice activity detection")
        with torch.no_grad():
            out = _SPEAKER["encoder"].embed_utterance(wav.astype(np.float32))
        if not np.isfinite(out).all():  # every partial embedding was zero
            raise ValueError("no speaker embedding (the encoder found no voice)")
        return out

    e_ref, e_hyp = embedding(ref), embedding(hyp)
    return float(np.dot(e_ref, e_hyp) / (np.linalg.norm(e_ref) * np.linalg.norm(e_hyp)))


MAX_RATE = 768_000


def resample(wav, fs_in: int, fs_out: int) -> np.ndarray:
    """Resample a mono float waveform with soxr (high quality), as the codec's reader does:
    memory in proportion to the input and output, for any pair of rates (a band-limited
    sinc of the rates' ratio asked for gigabytes at 16001 Hz). Rates must be whole numbers
    of Hz in [1, 768000]."""
    import soxr

    wav = np.asarray(wav, dtype=np.float32)
    for rate in (fs_in, fs_out):
        if int(rate) != rate or not 1 <= rate <= MAX_RATE:
            raise ValueError(f"sampling rate {rate} Hz: expected a whole number in [1, {MAX_RATE}]")
    if fs_in == fs_out:
        return wav
    return soxr.resample(wav, int(fs_in), int(fs_out), quality="HQ").astype(np.float32, copy=False)


def _correlation(a: np.ndarray, b: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Normalised sum_t a[t + lag] * b[t] for each lag in ``lags``."""
    from scipy.signal import correlate

    corr = correlate(a, b, mode="full", method="fft")  # index len(b) - 1 is lag 0
    norm = np.linalg.norm(a) * np.linalg.norm(b) + 1e-12
    return corr[lags + len(b) - 1] / norm


def align(ref: np.ndarray, hyp: np.ndarray, max_shift: int, hop: int = 16, min_gain: float = 0.05):
    """Delay-compensate ``hyp`` against ``ref``; returns (ref, hyp, lag) cut to a common length.

    The lag (|lag| <= max_shift, positive when hyp is late) is found on the energy
    envelopes (``hop``-sample frames), which a codec's phase errors do not disturb, and
    kept only if it raises the normalised envelope correlation over lag 0 by ``min_gain``;
    it is then refined on the waveforms within one hop. (Waveform cross-correlation
    alone locks onto pitch-period multiples when the decoded phase is poor, and a
    broad envelope peak would shift zero-delay codecs by a few frames.)
    """
    n = min(len(ref), len(hyp))
    if n == 0:
        raise ValueError("cannot align empty signals")
    frames = n // hop
    lag = 0
    if frames > 2 and max_shift >= hop:
        env_r = np.sqrt((ref[: frames * hop].reshape(frames, hop) ** 2).mean(1))
        env_h = np.sqrt((hyp[: frames * hop].reshape(frames, hop) ** 2).mean(1))
        span = min(max_shift // hop, frames - 1)
        lags = np.arange(-span, span + 1)
        corr = _correlation(env_h - env_h.mean(), env_r - env_r.mean(), lags)
        best = int(np.argmax(corr))
        if corr[best] - corr[span] >= min_gain:  # corr[span] is lag 0
            fine = np.arange(hop * lags[best] - hop, hop * lags[best] + hop + 1)
            fine = fine[(np.abs(fine) <= max_shift) & (np.abs(fine) < n)]
            lag = int(fine[np.argmax(_correlation(hyp[:n], ref[:n], fine))])
    if lag > 0:
        hyp = hyp[lag:]
    elif lag < 0:
        ref = ref[-lag:]
    m = min(len(ref), len(hyp))
    return ref[:m], hyp[:m], lag


GRID_RATE = 50.0
"""The frame grid :func:`frame_grid` looks at by default: P2PSynCodec's code rate at 16 kHz
(16000 / 320 samples a frame)."""


def frame_grid(wav, fs: int, rate: float = GRID_RATE, width: float = 1.5, fmin: float = 25.0, fmax: float = 8000.0):
    """How much of a waveform is periodic at ``rate`` Hz (a codec's code-frame rate): the
    buzz of a decoder that stamps one pattern per code frame.

    From a Welch power spectrum of 0.25 Hz bins (2 s Hann segments, half overlap; a
    shorter signal is one segment) over ``fmin`` to ``min(fmax, fs / 2)`` Hz:

    - ``share``: the fraction of the energy within ``width`` Hz of a multiple of ``rate``
      (the line bands). Energy spread evenly puts about ``2 * width / rate`` there (6.5%
      for 1.5 Hz at 50 Hz: 13 of every 200 bins); natural speech, whose pitch moves,
      about that.
    - ``line_db``: the mean over the lines k * rate in the range of 10 log10 of the mean
      power density in the line's band over that of its neighbourhood (the rest of
      ``k * rate +- rate / 2``): how far the lines stand above their neighbours, about 0
      dB for noise and slightly below for speech. Unlike ``share`` it weighs every line
      alike, so weak lines high in the spectrum count as much as strong low ones.

    Returns (share, line_db).
    """
    from scipy.signal import welch

    wav = np.asarray(wav, dtype=np.float64)
    if wav.ndim != 1 or len(wav) < fs // 4:
        raise ValueError(f"frame_grid needs a mono waveform of at least 0.25 s, got shape {wav.shape}")
    if not (0 < 2 * width < rate):
        raise ValueError(f"the line width {width} Hz must be positive and below half the grid rate {rate} Hz")
    segment = min(len(wav), 2 * fs)
    freqs, power = welch(
        wav, fs, window="hann", nperseg=segment, noverlap=segment // 2, nfft=max(segment, 4 * fs), detrend=False
    )
    top = min(fmax, fs / 2)
    line = np.round(freqs / rate)
    on = np.abs(freqs - line * rate) <= width
    band = (freqs >= fmin) & (freqs <= top)
    total = power[band].sum()
    if total <= 0:
        raise ValueError("frame_grid: the signal is silent in the band")
    share = float(power[band & on].sum() / total)
    ratios = []
    for k in np.unique(line[band]):
        if k < 1 or not fmin <= k * rate <= top:
            continue
        near = band & (line == k)
        inside, outside = power[near & on], power[near & ~on]
        if len(inside) and len(outside) and outside.mean() > 0 and inside.mean() > 0:
            ratios.append(10 * np.log10(inside.mean() / outside.mean()))
    return share, float(np.mean(ratios)) if ratios else float("nan")


METRICS = {
    "pesq_wb": lambda r, h, fs: pesq_wb(r, h, fs),
    "stoi": lambda r, h, fs: stoi(r, h, fs),
    "estoi": lambda r, h, fs: stoi(r, h, fs, extended=True),
    "lsd": lambda r, h, fs: log_spectral_distance(r, h),
    "mel_distance": lambda r, h, fs: mel_distance(r, h, fs),
    "dnsmos": lambda r, h, fs: dnsmos(h, fs),
    "visqol": lambda r, h, fs: visqol(r, h, fs),
    "grid_share": lambda r, h, fs, grid_rate=GRID_RATE: frame_grid(h, fs, grid_rate)[0],
    "grid_line_db": lambda r, h, fs, grid_rate=GRID_RATE: frame_grid(h, fs, grid_rate)[1],
    "speaker_sim": lambda r, h, fs: speaker_similarity(r, h, fs),
}
"""Metric name -> f(ref, hyp, fs). Higher is better except for :data:`LOWER_IS_BETTER`.
The grid metrics (:func:`frame_grid` of the hypothesis) also take ``grid_rate``."""

GRID_METRICS = ("grid_share", "grid_line_db")

LOWER_IS_BETTER = {"lsd", "mel_distance", *GRID_METRICS}
