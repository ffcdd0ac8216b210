"""Summary statistics shared by the scorer and the results tables."""

import math
from typing import Sequence, Tuple

import numpy as np


def mean_ci95(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and 95% CI half-width (normal approximation) of the finite values; unscored
    values (NaN) are left out. (nan, nan) when none is finite."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    half = 1.96 * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else float("nan")
    return float(v.mean()), half
