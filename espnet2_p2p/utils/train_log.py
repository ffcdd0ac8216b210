"""The one reader of ESPnet's ``train.log`` (the trainer's log; a resumed training appends
to it): per epoch, the wall time of its training part (``[train] ... time=X seconds``) and
a validation statistic (:func:`read_curve`), the validation loss of an LM run
(:func:`valid_losses`) and the optimizer steps of an epoch (:func:`steps_per_epoch`, from
the batch counts; :func:`iters_per_epoch`, from the experiment's ``config.yaml``). An epoch
logged twice (a training resumed from an earlier checkpoint) counts once, its last entry.
The learning-curve, LM and ASR-probe reports read their logs here."""

import re
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

EPOCH = re.compile(r"(\d+)epoch results: \[train\](.*?)\[valid\](.*)$")
# ESPnet writes a duration as humanfriendly does: "47.71 seconds", "1 minute and 50.11
# seconds", "2 hours, 3 minutes and 4.5 seconds"
TRAIN_TIME = re.compile(r"\btime=([^,]*(?:, \d[^,]*)*?)(?:, [a-z_]+=|$)")
PART = re.compile(r"(\d+(?:\.\d+)?) (second|minute|hour|day)s?\b")
UNIT = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}


def seconds_of(text: str) -> float:
    """Seconds of a duration as ESPnet logs it (every "N unit" part added up)."""
    return sum(float(n) * UNIT[unit] for n, unit in PART.findall(text))


class Point(NamedTuple):
    epoch: int
    hours: float  # cumulative training wall time up to and including this epoch
    value: float


def read_curve(log: Path, stat: str = "mel_l1_loss") -> List[Point]:
    """The validation ``stat`` of every epoch of an ESPnet ``train.log``, with cumulative
    training hours; epochs without that statistic are left out."""
    per_epoch: Dict[int, tuple] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = EPOCH.search(line)
        if not match:
            continue
        epoch, train, valid = int(match.group(1)), match.group(2), match.group(3)
        times = [t for t in TRAIN_TIME.findall(train) if PART.search(t)]
        value = re.search(rf"\b{re.escape(stat)}=([-0-9.e+]+)", valid)
        seconds = seconds_of(times[-1]) if times else 0.0
        per_epoch[epoch] = (seconds, float(value.group(1)) if value else None)
    points, hours = [], 0.0
    for epoch in sorted(per_epoch):
        seconds, value = per_epoch[epoch]
        hours += seconds / 3600.0
        if value is not None:
            points.append(Point(epoch, hours, value))
    return points


def median_epoch_seconds(points: List[Point]) -> float:
    """The median wall time of an epoch (from the cumulative hours of consecutive points)."""
    import statistics

    if not points:
        return 0.0
    edges = [0.0] + [p.hours for p in points]
    epochs = [0] + [p.epoch for p in points]
    per_epoch = [3600.0 * (edges[i + 1] - edges[i]) / (epochs[i + 1] - epochs[i]) for i in range(len(points))]
    return statistics.median(per_epoch)


def iters_per_epoch(exp: Path) -> Optional[int]:
    config = exp / "config.yaml"
    if not config.is_file():
        return None
    found = re.search(r"^num_iters_per_epoch:\s*(\d+)", config.read_text(), re.MULTILINE)
    return int(found.group(1)) if found else None


def x_values(points: List[Point], per_epoch_steps: Optional[int]) -> List[float]:
    """Steps (epochs x steps per epoch) or hours (epochs x the median epoch time)."""
    if per_epoch_steps:
        return [float(p.epoch * per_epoch_steps) for p in points]
    median = median_epoch_seconds(points)
    return [p.epoch * median / 3600.0 for p in points]


def positions(
    curves: Dict[str, List[Point]], steps: Dict[str, Optional[int]] = None, after: Dict[str, str] = None
) -> Dict[str, List[float]]:
    """Each curve's x values; a curve named in ``after`` starts where the other one ends."""
    own = {label: x_values(points, (steps or {}).get(label)) for label, points in curves.items()}
    return {
        label: [(own[after[label]][-1] if label in (after or {}) else 0.0) + x for x in xs] for label, xs in own.items()
    }


BATCHES = re.compile(r"(\d+)epoch:train:\d+-(\d+)batch")


def steps_per_epoch(train_log: Path) -> Optional[int]:
    """The optimizer steps of one epoch, from the batch counts ESPnet's trainer logs (the
    largest batch index logged in an epoch; the log interval rounds it down)."""
    if not train_log.is_file():
        return None
    most: Dict[int, int] = {}
    for epoch, last in BATCHES.findall(train_log.read_text(errors="replace")):
        most[int(epoch)] = max(most.get(int(epoch), 0), int(last))
    done = [n for e, n in most.items() if e < max(most)] if len(most) > 1 else list(most.values())
    return max(done) if done else None


def valid_losses(log: Path) -> List[Tuple[int, float]]:
    """(epoch, validation loss) per epoch, in order (a resumed run's last report wins)."""
    return [(p.epoch, p.value) for p in read_curve(Path(log), "loss")]
