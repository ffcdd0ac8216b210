#!/usr/bin/env python3
"""Quality against training steps: the learning curve of a campaign scored at snapshots.

    python -m espnet2_p2p.bin.quality_curve --curve_dir ~/exp/speechocean762/curve \\
        --output quality_curve.png

Reads every ``CURVE_DIR/scores_e<EPOCH>_<set>/scores.tsv`` (``espnet2_p2p.bin.score``'s
output for systems labelled ``<system>_e<EPOCH>``, as
``egs2/speechocean762/codec1/local/decoder_campaign.sh`` writes them) and draws, per
system, the mean of each ``--metrics`` against training steps (epochs times
``--steps_per_epoch``, or the optimizer steps counted in ``--exp SYSTEM=DIR``'s
``train.log``); writes the PNG and a Markdown table beside it (``.md``: every point,
mean ± 95% CI).
"""

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

from espnet2_p2p.errors import P2PError
from espnet2_p2p.evaluation.metrics import LOWER_IS_BETTER
from espnet2_p2p.evaluation.results import NAMES, read_curve_points
from espnet2_p2p.utils.train_log import steps_per_epoch


def table(points, metrics: List[str], steps: Dict[str, Optional[int]]) -> str:
    head = " | ".join(f"{NAMES.get(m, m)} {'↓' if m in LOWER_IS_BETTER else '↑'}" for m in metrics)
    lines = [f"| system | epoch | steps | {head} |", "|---" * (len(metrics) + 3) + "|"]
    for system, by_epoch in points.items():
        for epoch in sorted(by_epoch):
            n = f"{epoch * steps[system]:,}" if steps.get(system) else "?"
            cells = [("{:.3f} ± {:.3f}".format(*by_epoch[epoch][m]) if m in by_epoch[epoch] else "–") for m in metrics]
            lines.append(f"| {system} | {epoch} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(points, metrics: List[str], steps: Dict[str, Optional[int]], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        for system, by_epoch in points.items():
            epochs = [e for e in sorted(by_epoch) if m in by_epoch[e]]
            x = [e * (steps.get(system) or 1) for e in epochs]
            mean = [by_epoch[e][m][0] for e in epochs]
            half = [by_epoch[e][m][1] for e in epochs]
            ax.errorbar(x, mean, yerr=half, marker="o", capsize=3, label=system)
        ax.set_title(NAMES.get(m, m))
        ax.set_xlabel("training steps" if all(steps.values()) else "epochs")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=100)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--curve_dir", type=Path, required=True)
    parser.add_argument("--set", default="dev", help="the scored set (scores_e<EPOCH>_<set>)")
    parser.add_argument("--metrics", default="dnsmos,visqol,grid_line_db,grid_share")
    parser.add_argument(
        "--exp",
        action="append",
        default=[],
        metavar="SYSTEM=DIR",
        help="a system's training dir, whose train.log gives its steps per epoch"
        " (default: CURVE_DIR/../SYSTEM or ../student_SYSTEM)",
    )
    parser.add_argument("--steps_per_epoch", type=int, help="instead of counting them in train.log")
    parser.add_argument("--output", type=Path, required=True, help="the PNG (the table goes beside it)")
    args = parser.parse_args(argv)
    metrics = [m for m in args.metrics.split(",") if m]
    try:
        points = read_curve_points(args.curve_dir, metrics, args.set)
        dirs = {s: Path(d) for s, _, d in (e.partition("=") for e in args.exp)}
        steps = {}
        for system in points:
            if args.steps_per_epoch:
                steps[system] = args.steps_per_epoch
                continue
            candidates = (
                [dirs[system]]
                if system in dirs
                else [
                    args.curve_dir.parent / system,
                    args.curve_dir.parent / f"student_{system.removeprefix('student_')}",
                ]
            )
            steps[system] = next((n for n in (steps_per_epoch(d / "train.log") for d in candidates) if n), None)
    except P2PError as e:
        sys.exit(f"quality_curve: {e}")
    text = table(points, metrics, steps)
    plot(points, metrics, steps, args.output)
    args.output.with_suffix(".md").write_text(text)
    print(text)
    print(f"wrote {args.output} and {args.output.with_suffix('.md')}")


if __name__ == "__main__":
    main()
