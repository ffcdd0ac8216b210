#!/usr/bin/env python3
"""Score decoded speech against references: any codec, any two folders of wavs.

    python -m espnet2_p2p.bin.score --ref REF_DIR_OR_WAV_SCP \\
        --hyp student=exp/decode/student --hyp teacher=exp/decode/teacher \\
        --output_dir exp/scores

Hypotheses are matched to references by file name (``<utt>.wav``; a ``wav.scp`` gives
the utterance ids of the references). Each hypothesis is downmixed to mono, resampled
to the reference's rate (or both to ``--fs``: a 16 kHz codec is scored at 16 kHz
against a 48 kHz reference, so the band it never codes does not dominate LSD) and aligned
to it (the cross-correlation lag within ``--max_shift_ms``), then scored with ViSQOL v3
in speech mode (visqol-python, its bundled model), PESQ-wb, STOI, eSTOI, log-spectral
distance, mel distance (silence masked), DNSMOS (speechmos' bundled ONNX models), speaker
similarity (the cosine of Resemblyzer's speaker embeddings, its bundled weights) and the
buzz at the code frame rate (``grid_share``: the share of the energy within 1.5 Hz of a
multiple of ``--grid_rate``, about 0.065 for natural speech; ``grid_line_db``: how far those
lines stand above their neighbours, about 0 dB; ``espnet2_p2p.evaluation.metrics.frame_grid``).
Nothing is downloaded.

Optional scorers run only on model files the user already has (nothing is fetched):
``--utmos_model FILE`` (a TorchScript MOS predictor: 16 kHz waveform (1, T) -> score,
e.g. an exported UTMOS) and ``--asr_config/--asr_model`` (an ESPnet ASR model, through
``espnet2.bin.asr_inference.Speech2Text``; word error rate against the ``text`` file
beside the reference ``wav.scp``, or ``--ref_text``).

Writes ``scores.tsv`` (one line per system and utterance), ``RESULTS.md`` (summary with
95% confidence intervals, paired differences to the first system, then per-utterance
tables), ``spectrograms.png`` (reference vs each system) and ``listening.html`` with its
folder ``listening/``: the summary, then ``--page_utts`` utterances chosen to span the
score range, the reference and each system with an audio player (FLAC), a spectrogram and
its scores (plain HTML, relative links: the output folder can be moved, zipped or served).

A system scored before into the same OUTPUT_DIR is not scored again when nothing it
depends on changed (``score_cache.json``: the bytes of the reference and hypothesis files,
the metrics, ``--fs``, ``--every``, ``--max_shift_ms``): adding a
system to a finished run scores that system only, and systems scored before that a run
does not name stay in its outputs (after the run's own). ``--force`` scores everything
and keeps nothing, and so does a run with an optional model-based scorer (--utmos_model,
ASR). Kept scores are read back from scores.tsv (6 decimals).
"""

import argparse
import math
import hashlib
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from tqdm import tqdm

from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.evaluation.listening import DEFAULT_UTTERANCES, PAGE, write_page
from espnet2_p2p.utils.stats import mean_ci95
from espnet2_p2p.evaluation.metrics import GRID_METRICS, GRID_RATE, LOWER_IS_BETTER, METRICS

LOWER_IS_BETTER = LOWER_IS_BETTER | {"wer"}


from espnet2_p2p.evaluation.scoring import (  # score_pair: looked up here, so a test can patch it
    DEFAULT_METRICS, ESPnetWER, ScoreError, TorchScriptMOS, list_references, plot_spectrograms, score_pair,
)


def parse_hyp(spec: str) -> Tuple[str, Path]:
    label, sep, path = spec.partition("=")
    if not sep:
        label, path = Path(spec).name, spec
    return label, Path(path)


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


def run(ref: Path, hyps: List[Tuple[str, Path]], output_dir: Path, metrics: List[str],
        max_shift_ms: float = 50.0, extra=None, fs: Optional[int] = None,
        nj: int = 1, every: Optional[Dict[str, int]] = None,
        force: bool = False, page_utts: int = DEFAULT_UTTERANCES,
        grid_rate: float = GRID_RATE) -> Dict[str, Dict[str, Dict[str, float]]]:  # fmt: skip
    """Score every system; write scores.tsv, RESULTS.md, spectrograms.png and the
    listening page (listening.html, with ``page_utts`` utterances).

    ``extra`` maps further metric names to callables (hyp, fs, utterance) -> float;
    ``fs`` is the rate both signals are scored at (default: each reference's own);
    ``nj`` > 1 scores utterances in that many processes (built-in metrics only);
    ``every`` maps slow metrics to K: they are scored on every K-th utterance only (the
    others get NaN, left out of means; RESULTS.md says on how many); ``force`` scores
    systems whose scores in output_dir are up to date again (so does any ``extra``);
    ``grid_rate`` is the frame rate (Hz) whose grid ``grid_share`` and ``grid_line_db``
    measure (default 50, P2PSynCodec's code rate).
    """
    every = every or {}
    if not (isinstance(grid_rate, (int, float)) and 4 <= grid_rate <= 1000):
        raise ScoreError(f"--grid_rate must be a frame rate from 4 to 1000 Hz, got {grid_rate}")
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
    settings = [metrics, sorted(every.items()), fs, max_shift_ms]
    if any(m in GRID_METRICS for m in metrics):
        settings.append(grid_rate)
    cache, before = ({}, {}) if force or extra else previous_scores(output_dir, metrics)
    new_cache = {}
    for label, hyp_dir in hyps:
        missing = [u for u in refs if not (hyp_dir / f"{u}.wav").is_file()]
        if missing:
            raise ScoreError(
                f"{hyp_dir} lacks {len(missing)} of the {len(refs)} reference utterances,"
                f" e.g. {missing[0]}.wav"
            )
        key = score_key(label, hyp_dir, refs, settings)
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
            (ref_path, hyp_dir / f"{utt}.wav", [m for m in base if i % every.get(m, 1) == 0], max_shift_ms, utt, fs,
             grid_rate)
            for i, (utt, ref_path) in enumerate(refs.items())
        ]  # fmt: skip
        if nj > 1 and not extra:
            import multiprocessing

            with multiprocessing.get_context("fork").Pool(nj, initializer=_one_thread) as pool:
                outputs = list(tqdm(pool.imap(_score_job, jobs), total=len(jobs), desc=f"scoring {label} ({nj} jobs)"))
        else:
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
    parser.add_argument("--fs", type=int, default=None,
                        help="score at this rate (e.g. the codec's 16000 against 48 kHz"
                        " references); default: each reference's rate")  # fmt: skip
    parser.add_argument("--grid_rate", type=float, default=GRID_RATE,
                        help="the frame rate (Hz) whose grid grid_share and grid_line_db measure:"
                        " the codec's code rate (default: %(default)s)")  # fmt: skip
    parser.add_argument("--nj", type=int, default=1, help="processes scoring utterances in parallel")
    parser.add_argument("--every", action="append", default=[], metavar="METRIC:K",
                        help="score a slow metric on every K-th utterance only (e.g. dnsmos:10)")
    parser.add_argument("--force", action="store_true", help="score systems scored before again")
    parser.add_argument("--page_utts", type=int, default=DEFAULT_UTTERANCES,
                        help=f"utterances on {PAGE}, chosen to span the score range (0: the tables only)")
    parser.add_argument("--utmos_model", type=Path, help="local TorchScript MOS model")
    parser.add_argument("--asr_config", type=Path, help="ESPnet ASR config.yaml (for WER)")
    parser.add_argument("--asr_model", type=Path, help="ESPnet ASR model .pth (for WER)")
    parser.add_argument("--ref_text", type=Path, help="transcripts '<utt> <text>' (default:"
                        " the text file beside the reference wav.scp)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        extra = {}
        if args.utmos_model:
            extra["utmos"] = TorchScriptMOS(args.utmos_model)
        if args.asr_config or args.asr_model:
            if not (args.asr_config and args.asr_model):
                raise ScoreError("WER needs both --asr_config and --asr_model")
            text_file = args.ref_text or args.ref.with_name("text")
            if not text_file.is_file():
                raise ScoreError(f"WER needs reference transcripts: {text_file} does not exist")
            extra["wer"] = ESPnetWER(args.asr_config, args.asr_model, read_table(text_file))
        if args.nj < 1:
            raise ScoreError(f"--nj must be at least 1, got {args.nj}")
        if args.page_utts < 0:
            raise ScoreError(f"--page_utts must be at least 0, got {args.page_utts}")
        if not math.isfinite(args.max_shift_ms) or args.max_shift_ms < 0:
            raise ScoreError(f"--max_shift_ms must be a finite number >= 0, got {args.max_shift_ms}")
        every = {}
        for spec in args.every:
            name, _, k = spec.partition(":")
            if not k.isdigit() or int(k) < 1:
                raise ScoreError(f"--every wants METRIC:K with K >= 1, got {spec!r}")
            every[name] = int(k)
        run(args.ref, args.hyp, args.output_dir, args.metrics.split(","), args.max_shift_ms, extra,
            args.fs, args.nj, every, args.force, args.page_utts, args.grid_rate)
    except ScoreError as e:
        sys.exit(f"score: {e}")
    print("\n## ".join((args.output_dir / "RESULTS.md").read_text().split("\n## ")[:2]))
    print(f"wrote {args.output_dir}/RESULTS.md, scores.tsv, spectrograms.png, {PAGE}")


if __name__ == "__main__":
    main()
