"""Small helpers the speed benchmarks share: percentiles, display rounding, machine load."""

import os

import numpy as np


def percentile(values, q: float) -> float | None:
    """The q-th percentile (linear interpolation), or None without values."""
    return float(np.percentile(np.asarray(values, np.float64), q)) if len(values) else None


def shown(v: float | None):
    """Round a figure for the tables: whole numbers from 100 up, one decimal below."""
    if v is None:
        return None
    return int(round(v)) if abs(v) >= 100 else round(v, 1)


def load_average() -> float:
    """The 1-minute load average: how busy the machine was while measuring."""
    return os.getloadavg()[0]
