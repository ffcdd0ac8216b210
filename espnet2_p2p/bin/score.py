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
import sys
from pathlib import Path
from typing import Tuple

from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.evaluation.listening import DEFAULT_UTTERANCES, PAGE
from espnet2_p2p.evaluation.metrics import GRID_RATE, METRICS
from espnet2_p2p.evaluation.scoring import (  # noqa: F401  (run and its names: this command's library)
    DEFAULT_METRICS,
    LOWER_IS_BETTER,
    ESPnetWER,
    ScoreError,
    TorchScriptMOS,
    list_references,
    run,
    score_pair,
)


def parse_hyp(spec: str) -> Tuple[str, Path]:
    label, sep, path = spec.partition("=")
    if not sep:
        label, path = Path(spec).name, spec
    return label, Path(path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", type=Path, required=True, help="folder of wavs or a wav.scp")
    parser.add_argument(
        "--hyp",
        type=parse_hyp,
        action="append",
        required=True,
        help="[LABEL=]FOLDER of <utt>.wav; repeat for several systems",
    )
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument(
        "--metrics", default=",".join(DEFAULT_METRICS), help=f"comma-separated subset of {','.join(METRICS)}"
    )
    parser.add_argument("--max_shift_ms", type=float, default=50.0)
    parser.add_argument(
        "--fs",
        type=int,
        default=None,
        help="score at this rate (e.g. the codec's 16000 against 48 kHz references); default: each reference's rate",
    )
    parser.add_argument(
        "--grid_rate",
        action="append",
        default=[],
        metavar="[LABEL=]RATE",
        help="the frame rate (Hz) whose grid grid_share and grid_line_db measure: the codec's"
        f" code rate (default: {GRID_RATE}); LABEL=RATE for one system (repeat: each codec at"
        " its own rate)",
    )
    parser.add_argument("--nj", type=int, default=1, help="processes scoring utterances in parallel")
    parser.add_argument(
        "--every",
        action="append",
        default=[],
        metavar="METRIC:K",
        help="score a slow metric on every K-th utterance only (e.g. dnsmos:10)",
    )
    parser.add_argument("--force", action="store_true", help="score systems scored before again")
    parser.add_argument(
        "--page_utts",
        type=int,
        default=DEFAULT_UTTERANCES,
        help=f"utterances on {PAGE}, chosen to span the score range (0: the tables only)",
    )
    parser.add_argument("--utmos_model", type=Path, help="local TorchScript MOS model")
    parser.add_argument("--asr_config", type=Path, help="ESPnet ASR config.yaml (for WER)")
    parser.add_argument("--asr_model", type=Path, help="ESPnet ASR model .pth (for WER)")
    parser.add_argument(
        "--ref_text", type=Path, help="transcripts '<utt> <text>' (default: the text file beside the reference wav.scp)"
    )
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
        run(
            args.ref,
            args.hyp,
            args.output_dir,
            args.metrics.split(","),
            args.max_shift_ms,
            extra,
            args.fs,
            args.nj,
            every,
            args.force,
            args.page_utts,
            grid_rates(args.grid_rate),
        )
    except ScoreError as e:
        sys.exit(f"score: {e}")
    print("\n## ".join((args.output_dir / "RESULTS.md").read_text().split("\n## ")[:2]))
    print(f"wrote {args.output_dir}/RESULTS.md, scores.tsv, spectrograms.png, {PAGE}")


def grid_rates(specs) -> dict:
    """--grid_rate's values as scoring.run takes them: label -> rate, "" for the others."""
    rates = {}
    for spec in specs:
        label, _, value = spec.rpartition("=")
        try:
            rates[label] = float(value)
        except ValueError:
            raise ScoreError(f"--grid_rate wants [LABEL=]RATE in Hz, got {spec!r}") from None
    return rates


if __name__ == "__main__":
    main()
