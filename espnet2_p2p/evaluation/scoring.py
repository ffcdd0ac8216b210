"""Scoring decoded speech against its reference: reading and checking audio, references,
alignment and every metric of one pair (:func:`score_pair`), the optional model-based
scorers (a local TorchScript MOS model, an ESPnet ASR model's word error rate) and the
spectrogram figure. ``python -m espnet2_p2p.bin.score`` runs it over folders and writes
the tables."""

import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import soundfile as sf

from espnet2_p2p.errors import P2PError
from espnet2_p2p.evaluation.metrics import GRID_METRICS, GRID_RATE, METRICS, align, resample


class TorchScriptMOS:
    """MOS from a local TorchScript model: (1, T) float32 at 16 kHz -> a score."""

    def __init__(self, path: Path):
        import torch

        if not Path(path).is_file():
            raise ScoreError(f"MOS model {path} does not exist")
        try:
            self.model = torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as e:
            raise ScoreError(f"{path} is not a TorchScript model: {e}") from None

    def __call__(self, hyp: np.ndarray, fs: int, utt: str) -> float:
        import torch

        with torch.no_grad():
            wav = torch.from_numpy(resample(hyp, fs, 16000)).unsqueeze(0)
            return float(self.model(wav).reshape(-1)[0])


def normalise_words(text: str) -> List[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


class ESPnetWER:
    """Word error rate of an ESPnet ASR model's transcript of each hypothesis."""

    def __init__(self, asr_config: Path, asr_model: Path, texts: Dict[str, str]):
        for path in (asr_config, asr_model):
            if not Path(path).is_file():
                raise ScoreError(f"ASR model file {path} does not exist")
        from espnet2.bin.asr_inference import Speech2Text

        self.speech2text = Speech2Text(
            asr_train_config=str(asr_config), asr_model_file=str(asr_model), beam_size=1
        )
        self.fs = getattr(self.speech2text.asr_train_args, "frontend_conf", {}).get("fs", 16000)
        self.texts = texts

    def __call__(self, hyp: np.ndarray, fs: int, utt: str) -> float:
        import editdistance

        if utt not in self.texts:
            raise ScoreError(f"no reference transcript for {utt}")
        ref = normalise_words(self.texts[utt])
        if not ref:
            raise ScoreError(f"the reference transcript of {utt} is empty")
        result = self.speech2text(resample(hyp, fs, int(self.fs)))
        words = normalise_words(result[0][0] if result else "")
        return editdistance.eval(ref, words) / len(ref)

DEFAULT_METRICS = ["visqol", "pesq_wb", "stoi", "estoi", "lsd", "mel_distance", "dnsmos", "speaker_sim", *GRID_METRICS]


class ScoreError(P2PError):
    """A problem with the inputs, reported as one line."""


def read_audio(path: Path) -> Tuple[np.ndarray, int]:
    """Mono float32 audio; a clear error naming the file when it cannot be read."""
    try:
        wav, fs = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for bad files
        raise ScoreError(f"cannot read audio file {path}: {e}") from None
    if wav.shape[0] == 0:
        raise ScoreError(f"audio file {path} is empty")
    wav = wav.mean(axis=1)
    if not np.isfinite(wav).all():
        raise ScoreError(f"audio file {path} contains NaN or Inf samples")
    return wav, fs


def list_references(ref: Path) -> Dict[str, Path]:
    """Utterance id -> wav path, from a folder of wavs or a Kaldi wav.scp."""
    if ref.is_dir():
        found = {p.stem: p for p in sorted(ref.glob("*.wav"))}
    elif ref.is_file():
        from espnet2_p2p.utils.tables import TableError, read_kaldi_table

        try:
            found = {utt: Path(path) for utt, path in read_kaldi_table(ref, "wav.scp").items()}
        except TableError as e:
            raise ScoreError(str(e)) from None
    else:
        raise ScoreError(f"reference {ref} is neither a folder nor a wav.scp file")
    if not found:
        raise ScoreError(f"no reference wavs in {ref}")
    return found


# a bounded metric's worst value: what a stretch of hypothesis without reference counts as
WORST = {"pesq_wb": 1.0, "stoi": 0.0, "estoi": 0.0, "visqol": 1.0}


def score_pair(ref_path: Path, hyp_path: Path, metrics: List[str], max_shift_ms: float,
               extra_scorers=None, utt: str = "", fs: Optional[int] = None,
               grid_rate: float = GRID_RATE):  # fmt: skip
    """Scores of one hypothesis; both signals at ``fs`` (default: the reference's rate);
    the grid metrics look at ``grid_rate`` Hz (:func:`espnet2_p2p.evaluation.metrics.frame_grid`).

    Returns (scores, lag, (ref, hyp, fs), notes). Lengths that differ by more than the
    alignment window are scored both ways, with a note: a hypothesis that is too short is
    padded with silence, so the missing part counts against it; of one that is too long,
    the part past the reference's end is not speech the reference has, so it counts at
    each bounded metric's worst value (:data:`WORST`), weighted by its duration (the
    intrusive metrics would not see it: they leave out what is silent in the reference).
    A metric that cannot score the pair (e.g. PESQ on a silent signal) gives NaN and a
    note naming it.
    """
    ref, fs_ref = read_audio(ref_path)
    hyp, fs_hyp = read_audio(hyp_path)
    fs = fs or fs_ref
    ref, hyp = resample(ref, fs_ref, fs), resample(hyp, fs_hyp, fs)
    notes = []
    shift = int(max_shift_ms * fs / 1000)
    extra = 0
    if len(ref) - len(hyp) > shift:
        notes.append(f"{utt}: hypothesis {len(hyp) / fs:.2f} s, reference {len(ref) / fs:.2f} s;"
                     " the missing part is scored as silence")  # fmt: skip
        hyp = np.pad(hyp, (0, len(ref) - len(hyp)))
    elif len(hyp) - len(ref) > shift:
        extra = len(hyp) - len(ref) - shift
        notes.append(f"{utt}: hypothesis {len(hyp) / fs:.2f} s, reference {len(ref) / fs:.2f} s; the"
                     f" {extra / fs:.2f} s past the reference's end count at the worst value of"
                     f" {', '.join(sorted(WORST))}")  # fmt: skip
        hyp = hyp[: len(ref) + shift]
    ref, hyp, lag = align(ref, hyp, shift)
    if len(ref) < fs // 4:
        raise ScoreError(f"{hyp_path}: under 0.25 s overlaps its reference {ref_path}")
    scores = {}
    for name in metrics:
        try:
            options = {"grid_rate": grid_rate} if name in GRID_METRICS else {}
            scores[name] = float(METRICS[name](ref, hyp, fs, **options))
        except Exception as e:  # metric libraries raise their own types (pesq: NoUtterances)
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            scores[name] = float("nan")
            notes.append(f"{utt}: {name} not scored ({type(e).__name__}: {first[:120]})")
    for name in scores:
        if extra and name in WORST and np.isfinite(scores[name]):
            scores[name] = (scores[name] * len(ref) + WORST[name] * extra) / (len(ref) + extra)
    for name, scorer in (extra_scorers or {}).items():
        scores[name] = scorer(hyp, fs, utt)
    return scores, lag, (ref, hyp, fs), notes


def plot_spectrograms(examples, path: Path) -> None:
    """Reference and each system's log spectrogram of one utterance, stacked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(examples), 1, figsize=(10, 2.2 * len(examples)), squeeze=False)
    for ax, (title, wav, fs) in zip(axes[:, 0], examples):
        silent = np.abs(wav).max() < 1e-4  # the automatic top of the scale would be below vmin
        ax.specgram(wav + 1e-9, NFFT=512, Fs=fs, noverlap=384, cmap="magma", vmin=-120,
                    vmax=-20 if silent else None)  # fmt: skip
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("Hz")
    axes[-1, 0].set_xlabel("s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
