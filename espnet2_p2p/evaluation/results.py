"""The comparison tables of a codec recipe (``python -m espnet2_p2p.bin.results_table``):
reading ``scores.tsv`` (:func:`read_scores`), systems scored elsewhere (:func:`add_extra`)
and the Markdown of systems x metrics with paired differences and codebook use
(:func:`build`)."""

import csv
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from espnet2_p2p.errors import P2PError
from espnet2_p2p.evaluation.metrics import LOWER_IS_BETTER
from espnet2_p2p.utils.stats import mean_ci95 as ci95

NAMES = {
    "visqol": "ViSQOL",
    "pesq_wb": "PESQ-wb",
    "stoi": "STOI",
    "estoi": "eSTOI",
    "lsd": "LSD",
    "mel_distance": "mel distance",
    "dnsmos": "DNSMOS",
    "grid_share": "grid share",
    "grid_line_db": "grid lines (dB)",
    "speaker_sim": "speaker sim.",
}


class TableError(P2PError):
    """Missing or inconsistent inputs, reported as one line."""


def read_scores(path: Path) -> Dict[str, Dict[str, Dict[str, float]]]:
    """scores.tsv -> system -> utterance -> metric -> value."""
    if not path.is_file():
        raise TableError(f"{path} does not exist (run the scoring stage)")
    out: Dict[str, Dict[str, Dict[str, float]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            system, utt = row.pop("system"), row.pop("utterance")
            out.setdefault(system, {})[utt] = {k: float(v) for k, v in row.items()}
    return out


SCORES_DIR = re.compile(r"scores_e(\d+)_(\w+)$")
LABEL = re.compile(r"(.+)_e(\d+)$")


def read_curve_points(
    curve_dir: Path, metrics: List[str], split: str = "dev"
) -> Dict[str, Dict[int, Dict[str, tuple]]]:
    """The learning curve of a campaign scored at snapshots: system -> epoch -> metric ->
    (mean, half CI) of every ``curve_dir/scores_e<EPOCH>_<split>/scores.tsv`` of systems
    labelled ``<system>_e<EPOCH>``."""
    points: Dict[str, Dict[int, Dict[str, tuple]]] = {}
    for folder in sorted(curve_dir.glob(f"scores_e*_{split}")):
        match = SCORES_DIR.search(folder.name)
        if not match or not (folder / "scores.tsv").is_file():
            continue
        for label, per_utt in read_scores(folder / "scores.tsv").items():
            name = LABEL.match(label)
            if not name:
                continue
            system, epoch = name.group(1), int(name.group(2))
            points.setdefault(system, {})[epoch] = {
                m: ci95([s[m] for s in per_utt.values()]) for m in metrics if m in next(iter(per_utt.values()))
            }
    if not points:
        raise P2PError(f"no scores_e<EPOCH>_{split}/scores.tsv of systems <name>_e<EPOCH> in {curve_dir}")
    return points


def paired(scores, a: str, b: str, metric: str):
    """Mean ± CI of a - b over the utterances both systems have."""
    utts = [u for u in scores[a] if u in scores[b]]
    return ci95([scores[a][u][metric] - scores[b][u][metric] for u in utts])


def fewer(scores, metrics) -> str:
    """'; DNSMOS over 50' for metrics scored on fewer utterances than the others."""
    first = next(iter(scores.values()))
    n_all = len(first)
    parts = []
    for m in metrics:
        n = sum(1 for v in first.values() if np.isfinite(v[m]))
        if n < n_all:
            parts.append(f"{NAMES.get(m, m)} over {n}")
    return "; " + ", ".join(parts) if parts else ""


def add_extra(summary: dict, scores, extra_dirs: Sequence[Path], systems: Dict[str, float]) -> None:
    """Systems of other ``scores.tsv`` files, on exactly the utterances scored here."""
    if not systems:
        return
    utts = set(next(iter(scores.values())))
    found = {}
    for d in extra_dirs:
        for name, per_utt in read_scores(Path(d) / "scores.tsv").items():
            if name in systems:
                found[name] = per_utt
    for name, kbps in systems.items():
        if name not in found:
            raise TableError(
                f"extra system {name!r} is in none of {', '.join(map(str, extra_dirs)) or 'no --extra_scores'}"
            )
        if set(found[name]) != utts:
            raise TableError(
                f"extra system {name!r} was scored on {len(found[name])} utterances, not the {len(utts)} of this table"
            )
        scores[name] = found[name]
        summary[name] = {"nominal_bps": 1000 * kbps}


def build(
    summary: dict,
    scores,
    metrics: List[str],
    baselines: List[str],
    students: List[str],
    teacher: Optional[str],
    title: str = "",
    pairs: Sequence[Sequence[str]] = (),
) -> str:
    for name in baselines + students + ([teacher] if teacher else []) + [x for p in pairs for x in p]:
        if name not in scores:
            raise TableError(f"system {name!r} has no scores (scored: {', '.join(scores)})")
    metrics = [m for m in metrics if all(m in next(iter(s.values())) for s in scores.values())]
    arrow = {m: "↓" if m in LOWER_IS_BETTER else "↑" for m in metrics}
    head = " | ".join(f"{NAMES.get(m, m)} {arrow[m]}" for m in metrics)
    n_utts = min(len(s) for s in scores.values())
    lines = [
        f"## {title}" if title else "",
        "",
        f"Means ± 95% CI over {n_utts} utterances{fewer(scores, metrics)}.",
        "",
        f"| system | kbit/s | {head} | pseudo top-1 (majority) |",
        "|---" * (len(metrics) + 3) + "|",
    ]
    for system, per_utt in scores.items():
        info = summary.get(system, {})
        rate = f"{info['nominal_bps'] / 1000:g}" if "nominal_bps" in info else "?"
        cells = []
        for m in metrics:
            mean, half = ci95([s[m] for s in per_utt.values()])
            cells.append(f"{mean:.3f} ± {half:.3f}")
        top1 = info.get("pseudo_top1")
        acc = "<br>".join(f"{a:.3f} ({b:.3f})" for a, b in top1) if top1 else "–"
        lines.append(f"| {system} | {rate} | " + " | ".join(cells) + f" | {acc} |")
    differences = [(s, b) for s in students for b in baselines] + [tuple(p) for p in pairs]
    if differences:
        lower = ", ".join(NAMES.get(m, m) for m in metrics if m in LOWER_IS_BETTER) or "none"
        lines += [
            "",
            "Paired differences (mean ± 95% CI over the same utterances; positive is"
            f" better for every column but {lower}):",
            "",
            f"| system - baseline | {head} |",
            "|---" * (len(metrics) + 1) + "|",
        ]
        for s, b in differences:
            cells = ["{:+.3f} ± {:.3f}".format(*paired(scores, s, b, m)) for m in metrics]
            lines.append(f"| {s} - {b} | " + " | ".join(cells) + " |")
    plain = "plain_only" if "plain_only" in scores else None
    if teacher and plain and students:
        lines += [
            "",
            f"Share of the {plain}-to-{teacher} gap that each student recovers"
            f" ((student - {plain}) / ({teacher} - {plain}) of the means):",
            "",
            f"| student | {head} |",
            "|---" * (len(metrics) + 1) + "|",
        ]
        for s in students:
            cells = []
            for m in metrics:
                gap = (
                    ci95([v[m] for v in scores[teacher].values()])[0] - ci95([v[m] for v in scores[plain].values()])[0]
                )
                got = ci95([v[m] for v in scores[s].values()])[0] - ci95([v[m] for v in scores[plain].values()])[0]
                cells.append(f"{100 * got / gap:+.0f}%" if abs(gap) > 1e-9 else "–")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
    use = [
        (name, i, u)
        for name, info in summary.items()
        if name in scores
        for i, u in enumerate(info.get("codebook_use", []))
    ]
    if use:
        lines += [
            "",
            "Codebook use of the transmitted streams on these utterances:",
            "",
            "| system | stream | codes used | share | token entropy (bits) |",
            "|---|---|---|---|---|",
        ]
        for name, i, u in use:
            lines.append(
                f"| {name} | {i} | {u['used']} / {u['size']} | {100 * u['share']:.1f}% | {u['entropy_bits']:.2f} |"
            )
    return "\n".join(lines).lstrip("\n") + "\n"
