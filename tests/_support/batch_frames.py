"""Partitions for the batch-scoring tests, built on the workers (importable there).

Rows look like the end-to-end project's training data (its four features and ``target``)
and are a pure function of the partition number, so any process can rebuild the frame a
worker scored and compute the expected answer independently.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

FEATURES = ("mean_radius", "mean_texture", "mean_smoothness", "mean_compactness")
# Means and spreads of scikit-learn's breast-cancer data for those features.
_LOCATION = np.array([14.1, 19.3, 0.096, 0.104])
_SCALE = np.array([3.5, 4.3, 0.014, 0.053])


def partition(number: int, rows: int) -> pd.DataFrame:
    """Partition ``number``: ``rows`` rows, indexed ``number * rows`` onwards."""
    generator = np.random.default_rng(number)
    values = np.abs(generator.normal(_LOCATION, _SCALE, size=(rows, len(FEATURES))))
    frame = pd.DataFrame(values, columns=list(FEATURES))
    frame["target"] = generator.integers(0, 2, size=rows)
    frame.index = pd.RangeIndex(number * rows, (number + 1) * rows, name="row")
    return frame


def slow_partition(number: int, rows: int, delay: float) -> pd.DataFrame:
    """``partition`` after sleeping ``delay`` seconds, so a job lasts long enough to be hit."""
    time.sleep(delay)
    return partition(number, rows)


def bad_partition(number: int, rows: int, bad: int, kind: str) -> pd.DataFrame:
    """``partition``, except partition ``bad``: text in ``mean_radius`` or a missing value."""
    frame = partition(number, rows)
    if number == bad:
        if kind == "text":
            frame["mean_radius"] = frame["mean_radius"].astype(object)
            frame.loc[frame.index[0], "mean_radius"] = "not a number"
        else:
            frame.loc[frame.index[0], "mean_texture"] = np.nan
    return frame


def frames(numbers: Any, rows: int) -> pd.DataFrame:
    """The partitions ``numbers`` concatenated, as one pandas frame."""
    return pd.concat([partition(number, rows) for number in numbers])
