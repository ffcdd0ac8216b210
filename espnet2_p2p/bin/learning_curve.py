#!/usr/bin/env python3
"""Learning curves of ESPnet trainings: a validation statistic against training hours.

    python -m espnet2_p2p.bin.learning_curve --exp teacher=~/exp/so762/teacher \
        --exp student=~/exp/so762/student --exp single_vq=~/exp/so762/teacher_single \
        --output learning_curve.png

Each ``--exp LABEL=DIR`` reads ``DIR/train.log`` (ESPnet's trainer log; a resumed training
appends to it): per epoch, the wall time of its training part (``[train] ... time=X
seconds``) and the validation statistic (``--stat``, default ``mel_l1_loss``). An epoch
logged twice (a training resumed from an earlier checkpoint) counts once, its last entry.
Wall time overstates training when the machine is shared or a training is paused (an
epoch that spans a SIGSTOP counts the pause), so the x axis is epochs times the training's
median epoch time, in hours (validation time excluded); with ``--steps`` it is optimizer
steps (epochs times ``num_iters_per_epoch`` of ``DIR/config.yaml``). ``--after
student=teacher`` starts a curve where another ends (a student trains from its finished
teacher), so the x axis reads as the training that went into each point. Writes the PNG
and, beside it, a Markdown table of each curve's last point (``.md``) with both hours.
"""

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

from espnet2_p2p.utils.train_log import (  # noqa: F401  (the log reader this command draws)
    Point,
    iters_per_epoch,
    median_epoch_seconds,
    positions,
    read_curve,
    x_values,
)


def plot(
    curves: Dict[str, List[Point]],
    output: Path,
    stat: str,
    steps: Dict[str, Optional[int]] = None,
    after: Dict[str, str] = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    placed = positions(curves, steps, after)
    for label, points in curves.items():
        first = (after or {}).get(label)
        ax.plot(
            placed[label],
            [p.value for p in points],
            marker=".",
            markersize=3,
            label=f"{label} (from the end of {first})" if first else label,
        )
    ax.set_xlabel("optimizer steps" if steps else "training hours (epochs x median epoch time, one thread)")
    ax.set_ylabel(f"validation {stat}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=120)
    plt.close(fig)


def table(curves: Dict[str, List[Point]], stat: str) -> str:
    rows = [
        f"| training | epochs | median epoch (s) | hours (epochs x median) | wall hours | last validation {stat} | best |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, points in curves.items():
        if points:
            last = points[-1]
            rows.append(
                f"| {label} | {last.epoch} | {median_epoch_seconds(points):.1f} | {x_values(points, None)[-1]:.2f} | {last.hours:.2f} |"
                f" {last.value:.4f} | {min(p.value for p in points):.4f} |"
            )
    return "\n".join(rows) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp", action="append", required=True, metavar="LABEL=DIR")
    parser.add_argument("--stat", default="mel_l1_loss", help="a validation statistic of the log")
    parser.add_argument("--steps", action="store_true", help="x axis: optimizer steps instead of hours")
    parser.add_argument(
        "--after",
        action="append",
        default=[],
        metavar="LABEL=OTHER",
        help="draw LABEL's curve from where OTHER's ends (a student after its teacher)",
    )
    parser.add_argument("--output", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    after = {}
    for spec in args.after:
        label, sep, other = spec.partition("=")
        if not sep or not label or not other or label == other:
            parser.error(f"--after wants LABEL=OTHER with two different --exp labels, got {spec!r}")
        after[label] = other
    curves, steps = {}, {}
    for spec in args.exp:
        label, sep, folder = spec.partition("=")
        exp = Path(folder).expanduser()
        if not sep or not label:
            parser.error(f"--exp wants LABEL=DIR, got {spec!r}")
        if not (exp / "train.log").is_file():
            print(f"learning_curve: error: {exp / 'train.log'} does not exist", file=sys.stderr)
            return 1
        curves[label] = read_curve(exp / "train.log", args.stat)
        steps[label] = iters_per_epoch(exp)
        if args.steps and steps[label] is None:
            print(f"learning_curve: error: --steps needs num_iters_per_epoch in {exp / 'config.yaml'}", file=sys.stderr)
            return 1
        if not curves[label]:
            print(
                f"learning_curve: error: {exp / 'train.log'} has no epoch with a validation {args.stat}",
                file=sys.stderr,
            )
            return 1
    unknown = sorted(({*after} | {*after.values()}) - {*curves})
    if unknown:
        print(f"learning_curve: error: --after names {', '.join(unknown)}, which no --exp labels", file=sys.stderr)
        return 1
    plot(curves, args.output, args.stat, steps if args.steps else None, after)
    text = table(curves, args.stat)
    args.output.with_suffix(".md").write_text(text)
    print(text + f"wrote {args.output} and {args.output.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
