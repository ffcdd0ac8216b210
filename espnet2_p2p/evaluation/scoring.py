"""Scoring decoded speech against its reference: reading and checking audio, references,
alignment and every metric of one pair (:func:`score_pair`), the optional model-based
scorers (a local TorchScript MOS model, an ESPnet ASR model's word error rate) and the
spectrogram figure. ``python -m espnet2_p2p.bin.score`` runs it over folders and writes
the tables."""

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import soundfile as sf

from espnet2_p2p.errors import P2PError
from espnet2_p2p.evaluation.listening import DEFAULT_UTTERANCES, PAGE, write_page
from espnet2_p2p.evaluation.metrics import GRID_METRICS, GRID_RATE, METRICS, align, resample
from espnet2_p2p.evaluation.metrics import LOWER_IS_BETTER as _METRICS_LOWER
from espnet2_p2p.utils.stats import mean_ci95


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

        self.speech2text = Speech2Text(asr_train_config=str(asr_config), asr_model_file=str(asr_model), beam_size=1)
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


def score_pair(
    ref_path: Path,
    hyp_path: Path,
    metrics: List[str],
    max_shift_ms: float,
    extra_scorers=None,
    utt: str = "",
    fs: Optional[int] = None,
    grid_rate: float = GRID_RATE,
):
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
        notes.append(
            f"{utt}: hypothesis {len(hyp) / fs:.2f} s, reference {len(ref) / fs:.2f} s;"
            " the missing part is scored as silence"
        )
        hyp = np.pad(hyp, (0, len(ref) - len(hyp)))
    elif len(hyp) - len(ref) > shift:
        extra = len(hyp) - len(ref) - shift
        notes.append(
            f"{utt}: hypothesis {len(hyp) / fs:.2f} s, reference {len(ref) / fs:.2f} s; the"
            f" {extra / fs:.2f} s past the reference's end count at the worst value of"
            f" {', '.join(sorted(WORST))}"
        )
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
        ax.specgram(wav + 1e-9, NFFT=512, Fs=fs, noverlap=384, cmap="magma", vmin=-120, vmax=-20 if silent else None)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("Hz")
    axes[-1, 0].set_xlabel("s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


LOWER_IS_BETTER = _METRICS_LOWER | {"wer"}


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _score_job(job):
    ref_path, hyp_path, metrics, max_shift_ms, utt, fs, grid_rate = job
    return score_pair(ref_path, hyp_path, metrics, max_shift_ms, None, utt, fs, grid_rate)


def format_results(results, metrics: List[str]) -> str:
    arrows = {m: "↓" if m in LOWER_IS_BETTER else "↑" for m in metrics}
    header = "| system | " + " | ".join(f"{m} {arrows[m]}" for m in metrics) + " | utterances |"
    rule = "|---" * (len(metrics) + 2) + "|"
    lines = ["## Summary (mean ± 95% CI)", "", header, rule]
    for label, per_utt in results.items():
        cells = []
        for m in metrics:
            mean, half = mean_ci95([s[m] for s in per_utt.values()])
            cells.append(f"{mean:.3f} ± {half:.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {len(per_utt)} |")
    labels = list(results)
    if len(labels) > 1:
        base = results[labels[0]]
        lines += [
            "",
            f"## Paired difference to {labels[0]} (mean ± 95% CI over the same utterances)",
            "",
            header.replace(" | utterances |", " |"),
            "|---" * (len(metrics) + 1) + "|",
        ]
        for label in labels[1:]:
            cells = []
            for m in metrics:
                mean, half = mean_ci95([s[m] - base[u][m] for u, s in results[label].items()])
                cells.append(f"{mean:+.3f} ± {half:.3f}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for label, per_utt in results.items():
        lines += [
            "",
            f"## {label}",
            "",
            "| utterance | " + " | ".join(metrics) + " |",
            "|---" * (len(metrics) + 1) + "|",
        ]
        for utt, s in per_utt.items():
            lines.append(f"| {utt} | " + " | ".join(f"{s[m]:.3f}" for m in metrics) + " |")
    return "\n".join(lines) + "\n"


def score_key(label: str, hyp_dir: Path, refs: Dict[str, Path], settings) -> str:
    """What a system's scores depend on: the bytes of every reference and hypothesis file
    and the settings (a decoding that rewrote the same audio changes nothing)."""
    from espnet2_p2p.utils.files import file_digest

    digests = [[file_digest(Path(ref_path)), file_digest(hyp_dir / f"{utt}.wav")] for utt, ref_path in refs.items()]
    return hashlib.sha256(json.dumps([label, settings, sorted(refs), digests]).encode()).hexdigest()


def previous_scores(output_dir: Path, metrics: List[str]):
    """(cache, per-system per-utterance scores) of an earlier run into output_dir."""
    try:
        cache = json.loads((output_dir / "score_cache.json").read_text())
        with open(output_dir / "scores.tsv") as f:
            header = f.readline().rstrip("\n").split("\t")
            if header[2:] != metrics:
                return {}, {}
            rows: Dict[str, Dict[str, Dict[str, float]]] = {}
            for line in f:
                label, utt, *values = line.rstrip("\n").split("\t")
                rows.setdefault(label, {})[utt] = dict(zip(metrics, map(float, values)))
    except (OSError, ValueError):
        return {}, {}
    return cache, rows


def run(
    ref: Path,
    hyps: List[Tuple[str, Path]],
    output_dir: Path,
    metrics: List[str],
    max_shift_ms: float = 50.0,
    extra=None,
    fs: Optional[int] = None,
    nj: int = 1,
    every: Optional[Dict[str, int]] = None,
    force: bool = False,
    page_utts: int = DEFAULT_UTTERANCES,
    grid_rate=GRID_RATE,
) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Score every system; write scores.tsv, RESULTS.md, spectrograms.png and the
    listening page (listening.html, with ``page_utts`` utterances).

    ``extra`` maps further metric names to callables (hyp, fs, utterance) -> float;
    ``fs`` is the rate both signals are scored at (default: each reference's own);
    ``nj`` > 1 scores utterances in that many processes (built-in metrics only);
    ``every`` maps slow metrics to K: they are scored on every K-th utterance only (the
    others get NaN, left out of means; RESULTS.md says on how many); ``force`` scores
    systems whose scores in output_dir are up to date again (so does any ``extra``);
    ``grid_rate`` is the frame rate (Hz) whose grid ``grid_share`` and ``grid_line_db``
    measure (default 50, P2PSynCodec's code rate): one rate for every system, or a dict of
    system label -> rate whose key "" (if present) is the rate of the others (each codec
    measured at its own code rate).
    """
    every = every or {}
    rates = dict(grid_rate) if isinstance(grid_rate, dict) else {"": grid_rate}
    rates.setdefault("", GRID_RATE)
    for label, rate in rates.items():
        if not (isinstance(rate, (int, float)) and 4 <= rate <= 1000):
            raise ScoreError(
                f"--grid_rate must be a frame rate from 4 to 1000 Hz, got {rate}" + (f" for {label}" if label else "")
            )
    if fs is not None and not (isinstance(fs, int) and 8000 <= fs <= 384000):
        raise ScoreError(f"--fs must be a sampling rate from 8000 to 384000 Hz, got {fs}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ScoreError(f"unknown metrics {unknown}; choose from {sorted(METRICS)}")
    extra = extra or {}
    metrics = list(metrics) + list(extra)
    refs = list_references(ref)
    first = next(iter(refs))  # the utterance shown in spectrograms.png
    results, examples, notes = {}, [], []
    labels = [label for label, _ in hyps]
    if len(set(labels)) != len(labels):
        raise ScoreError(f"a system label is given twice: {labels}")
    unknown = sorted(set(rates) - set(labels) - {""})
    if unknown:
        raise ScoreError(f"--grid_rate names systems that are not scored: {', '.join(unknown)}")
    settings = [metrics, sorted(every.items()), fs, max_shift_ms]
    cache, before = ({}, {}) if force or extra else previous_scores(output_dir, metrics)
    new_cache = {}
    for label, hyp_dir in hyps:
        missing = [u for u in refs if not (hyp_dir / f"{u}.wav").is_file()]
        if missing:
            raise ScoreError(
                f"{hyp_dir} lacks {len(missing)} of the {len(refs)} reference utterances, e.g. {missing[0]}.wav"
            )
        rate = rates.get(label, rates[""])
        key = score_key(label, hyp_dir, refs, settings + ([rate] if any(m in GRID_METRICS for m in metrics) else []))
        new_cache[label] = {"key": key, "notes": [], "dir": str(hyp_dir.resolve())}  # for the listening page
        old = before.get(label, {})
        if cache.get(label, {}).get("key") == key and set(old) == set(refs):
            print(f"score: {label}: scored before from the same files, kept")
            results[label] = old
            new_cache[label]["notes"] = cache[label].get("notes", [])
            notes += [f"{label}: {n}" for n in new_cache[label]["notes"]]
            _, _, (r, h, rate), _ = score_pair(refs[first], hyp_dir / f"{first}.wav", [], max_shift_ms, None, first, fs)
            if not examples:
                examples.append((f"reference: {first}", r, rate))
            examples.append((f"{label}: {first}", h, rate))
            continue
        base = metrics[: len(metrics) - len(extra)]
        jobs = [
            (
                ref_path,
                hyp_dir / f"{utt}.wav",
                [m for m in base if i % every.get(m, 1) == 0],
                max_shift_ms,
                utt,
                fs,
                rate,
            )
            for i, (utt, ref_path) in enumerate(refs.items())
        ]
        if nj > 1 and not extra:
            import multiprocessing

            from tqdm import tqdm

            with multiprocessing.get_context("fork").Pool(nj, initializer=_one_thread) as pool:
                outputs = list(tqdm(pool.imap(_score_job, jobs), total=len(jobs), desc=f"scoring {label} ({nj} jobs)"))
        else:
            from tqdm import tqdm

            outputs = [score_pair(*job[:4], extra, *job[4:]) for job in tqdm(jobs, desc=f"scoring {label}")]
        per_utt = {}
        for utt, (scores, _, (r, h, rate), utt_notes) in zip(refs, outputs):
            per_utt[utt] = {m: scores.get(m, float("nan")) for m in metrics}
            notes += [f"{label}: {n}" for n in utt_notes]
            new_cache[label]["notes"] += utt_notes
            if utt == first:
                if not examples:
                    examples.append((f"reference: {utt}", r, rate))
                examples.append((f"{label}: {utt}", h, rate))
        results[label] = per_utt
    for label, old in before.items():  # systems of earlier runs that this one does not name
        if label not in results and label in cache and set(old) == set(refs):
            print(f"score: {label}: not in this run, its earlier scores kept")
            results[label] = old
            new_cache[label] = cache[label]
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / "scores.tsv", "w") as f:
        f.write("system\tutterance\t" + "\t".join(metrics) + "\n")
        for label, per_utt in results.items():
            for utt, s in per_utt.items():
                f.write(f"{label}\t{utt}\t" + "\t".join(f"{s[m]:.6f}" for m in metrics) + "\n")
    (output_dir / "score_cache.json").write_text(json.dumps(new_cache, indent=1))
    text = format_results(results, metrics)
    if any(m in GRID_METRICS for m in metrics):
        own = ", ".join(f"{label} {rates[label]:g} Hz" for label in results if label in rates)
        text += (
            f"\nThe buzz (grid_share, grid_line_db) on the grid of {rates['']:g} Hz"
            + (f" ({own})" if own else "")
            + ".\n"
        )
    for m, k in every.items():
        if k > 1:
            text += f"\n{m}: scored on every {k}th utterance ({-(-len(refs) // k)} of {len(refs)}); the others are left out of its means.\n"
    if notes:
        text += "\n## Notes\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    (output_dir / "RESULTS.md").write_text(text)
    try:
        plot_spectrograms(examples, output_dir / "spectrograms.png")
    except Exception as e:  # the tables are written: a plot problem must not hide them
        print(f"score: spectrograms.png not drawn: {e}", file=sys.stderr)
    try:
        hyp_dirs = {label: new_cache[label].get("dir") for label in results}
        write_page(output_dir, text, results, metrics, refs, hyp_dirs, page_utts, fs, LOWER_IS_BETTER)
    except Exception as e:  # as for the plot
        print(f"score: {PAGE} not written: {type(e).__name__}: {e}", file=sys.stderr)
    return results
