#!/usr/bin/env python3
"""The comparison table of a codec recipe: systems x metrics, with paired differences.

    python -m espnet2_p2p.bin.results_table --decode_dir exp/decode_test \\
        --scores_dir exp/scores_test --baselines single_vq,plain_only \\
        --students student_expected,student_ft --teacher teacher --output table.md

Reads ``summary.json`` of :mod:`espnet2_p2p.bin.decode` (bitrates, codebook use,
pseudo-token accuracy) and ``scores.tsv`` of :mod:`espnet2_p2p.bin.score` (one line per
system and utterance) and writes Markdown:

1. every system: nominal kbit/s, each metric's mean ± 95% CI, pseudo top-1 per level
   with the majority-token baseline in brackets;
2. each student minus each baseline (and any ``--pairs``), paired over the same
   utterances (mean ± 95% CI), and the share of the plain-only-to-teacher gap that each
   student recovers;
3. codebook use of every transmitted stream (codes used, token entropy).

``--extra_scores DIR --extra_systems NAME=KBPS,...`` adds systems scored elsewhere on the
same utterances (``DIR/scores.tsv``, e.g. the DSP baselines of a recipe's
``local/baselines.sh``), with their nominal bitrates; they can be ``--baselines`` or in
``--pairs`` like any other.
"""

import argparse
import json
import sys
from pathlib import Path

from espnet2_p2p.evaluation.results import NAMES, TableError, add_extra, build, read_scores  # noqa: F401


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decode_dir", type=Path, required=True, help="holds summary.json")
    parser.add_argument("--scores_dir", type=Path, required=True, help="holds scores.tsv")
    parser.add_argument(
        "--metrics", default="visqol,pesq_wb,stoi,mel_distance,dnsmos,speaker_sim,grid_share,grid_line_db"
    )
    parser.add_argument("--baselines", default="", help="comma-separated system labels")
    parser.add_argument("--students", default="", help="comma-separated system labels")
    parser.add_argument("--teacher", default=None)
    parser.add_argument("--pairs", default="", help="further differences: A-B,C-D (labels)")
    parser.add_argument("--extra_scores", type=Path, action="append", default=[], help="more scores dirs (scores.tsv)")
    parser.add_argument("--extra_systems", default="", help="NAME=KBPS,...: their systems to add")
    parser.add_argument("--title", default="")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    split = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    try:
        summary_file = args.decode_dir / "summary.json"
        if not summary_file.is_file():
            raise TableError(f"{summary_file} does not exist (run the decoding stage)")
        summary, scores = json.loads(summary_file.read_text()), read_scores(args.scores_dir / "scores.tsv")
        try:
            extra = {k: float(v) for k, _, v in (x.partition("=") for x in split(args.extra_systems))}
        except ValueError:
            raise TableError(f"--extra_systems {args.extra_systems!r}: expected NAME=KBPS,...") from None
        add_extra(summary, scores, args.extra_scores, extra)
        table = build(
            summary,
            scores,
            split(args.metrics),
            split(args.baselines),
            split(args.students),
            args.teacher,
            args.title,
            [p.split("-", 1) for p in split(args.pairs)],
        )
    except TableError as e:
        sys.exit(f"results_table: {e}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
