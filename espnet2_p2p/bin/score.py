#!/usr/bin/env python3
"""Score decoded speech against references: any codec, any two folders of wavs.

    python -m espnet2_p2p.bin.score --ref REF_DIR_OR_WAV_SCP \\
        --hyp student=exp/decode/student --hyp teacher=exp/decode/teacher \\
        --output_dir exp/scores

Hypotheses are matched to references by file name (``<utt>.wav``; a ``wav.scp`` gives
the utterance ids of the references). Each hypothesis is downmixed to mono, resampled
to the reference's rate and aligned to it (the cross-correlation lag within
``--max_shift_ms``), then scored with PESQ-wb, STOI, eSTOI, log-spectral distance,
mel distance (silence masked) and DNSMOS (speechmos' bundled ONNX models). Nothing is
downloaded.

Writes ``scores.tsv`` (one line per system and utterance), ``RESULTS.md`` (summary with
95% confidence intervals, paired differences to the first system, then per-utterance
tables) and ``spectrograms.png`` (reference vs each system).
"""

import argparse
import math
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import soundfile as sf
from tqdm import tqdm

from espnet2_p2p.metrics import LOWER_IS_BETTER, METRICS, align, resample

DEFAULT_METRICS = ["pesq_wb", "stoi", "estoi", "lsd", "mel_distance", "dnsmos"]


class ScoreError(Exception):
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
        found = {}
        for number, line in enumerate(ref.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                raise ScoreError(f"{ref}:{number}: expected '<utt> <path>', got {line!r}")
            found[parts[0]] = Path(parts[1])
    else:
        raise ScoreError(f"reference {ref} is neither a folder nor a wav.scp file")
    if not found:
        raise ScoreError(f"no reference wavs in {ref}")
    return found


def parse_hyp(spec: str) -> Tuple[str, Path]:
    label, sep, path = spec.partition("=")
    if not sep:
        label, path = Path(spec).name, spec
    return label, Path(path)


def mean_ci95(values: List[float]) -> Tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    half = 1.96 * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else float("nan")
    return float(v.mean()), half


def score_pair(ref_path: Path, hyp_path: Path, metrics: List[str], max_shift_ms: float):
    ref, fs = read_audio(ref_path)
    hyp, fs_hyp = read_audio(hyp_path)
    hyp = resample(hyp, fs_hyp, fs)
    ref, hyp, lag = align(ref, hyp, int(max_shift_ms * fs / 1000))
    if len(ref) < fs // 4:
        raise ScoreError(f"{hyp_path}: under 0.25 s overlaps its reference {ref_path}")
    scores = {name: METRICS[name](ref, hyp, fs) for name in metrics}
    return scores, lag, (ref, hyp, fs)


def plot_spectrograms(examples, path: Path) -> None:
    """Reference and each system's log spectrogram of one utterance, stacked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(examples), 1, figsize=(10, 2.2 * len(examples)), squeeze=False)
    for ax, (title, wav, fs) in zip(axes[:, 0], examples):
        ax.specgram(wav + 1e-9, NFFT=512, Fs=fs, noverlap=384, cmap="magma", vmin=-120)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("Hz")
    axes[-1, 0].set_xlabel("s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


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
        lines += ["", f"## Paired difference to {labels[0]} (mean ± 95% CI over the same utterances)",
                  "", header.replace(" | utterances |", " |"), "|---" * (len(metrics) + 1) + "|"]  # fmt: skip
        for label in labels[1:]:
            cells = []
            for m in metrics:
                mean, half = mean_ci95([s[m] - base[u][m] for u, s in results[label].items()])
                cells.append(f"{mean:+.3f} ± {half:.3f}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for label, per_utt in results.items():
        lines += ["", f"## {label}", "", "| utterance | " + " | ".join(metrics) + " |",
                  "|---" * (len(metrics) + 1) + "|"]  # fmt: skip
        for utt, s in per_utt.items():
            lines.append(f"| {utt} | " + " | ".join(f"{s[m]:.3f}" for m in metrics) + " |")
    return "\n".join(lines) + "\n"


def run(ref: Path, hyps: List[Tuple[str, Path]], output_dir: Path, metrics: List[str],
        max_shift_ms: float = 50.0) -> Dict[str, Dict[str, Dict[str, float]]]:  # fmt: skip
    """Score every system; write scores.tsv, RESULTS.md and spectrograms.png."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ScoreError(f"unknown metrics {unknown}; choose from {sorted(METRICS)}")
    refs = list_references(ref)
    first = next(iter(refs))  # the utterance shown in spectrograms.png
    results, examples = {}, []
    for label, hyp_dir in hyps:
        missing = [u for u in refs if not (hyp_dir / f"{u}.wav").is_file()]
        if missing:
            raise ScoreError(
                f"{hyp_dir} lacks {len(missing)} of the {len(refs)} reference utterances,"
                f" e.g. {missing[0]}.wav"
            )
        per_utt = {}
        for utt, ref_path in tqdm(refs.items(), desc=f"scoring {label}"):
            per_utt[utt], _, (r, h, fs) = score_pair(
                ref_path, hyp_dir / f"{utt}.wav", metrics, max_shift_ms
            )
            if utt == first:
                if not examples:
                    examples.append((f"reference: {utt}", r, fs))
                examples.append((f"{label}: {utt}", h, fs))
        results[label] = per_utt
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / "scores.tsv", "w") as f:
        f.write("system\tutterance\t" + "\t".join(metrics) + "\n")
        for label, per_utt in results.items():
            for utt, s in per_utt.items():
                f.write(f"{label}\t{utt}\t" + "\t".join(f"{s[m]:.6f}" for m in metrics) + "\n")
    (output_dir / "RESULTS.md").write_text(format_results(results, metrics))
    plot_spectrograms(examples, output_dir / "spectrograms.png")
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ref", type=Path, required=True, help="folder of wavs or a wav.scp")
    parser.add_argument("--hyp", type=parse_hyp, action="append", required=True,
                        help="[LABEL=]FOLDER of <utt>.wav; repeat for several systems")  # fmt: skip
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                        help=f"comma-separated subset of {','.join(METRICS)}")  # fmt: skip
    parser.add_argument("--max_shift_ms", type=float, default=50.0)
    args = parser.parse_args(argv)
    try:
        run(args.ref, args.hyp, args.output_dir, args.metrics.split(","), args.max_shift_ms)
    except ScoreError as e:
        sys.exit(f"score: {e}")
    print("\n## ".join((args.output_dir / "RESULTS.md").read_text().split("\n## ")[:2]))
    print(f"wrote {args.output_dir}/RESULTS.md, scores.tsv, spectrograms.png")


if __name__ == "__main__":
    main()
