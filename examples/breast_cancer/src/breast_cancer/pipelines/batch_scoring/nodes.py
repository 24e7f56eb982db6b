"""Node functions of batch scoring: a synthetic table to score, and the scoring itself."""

from typing import Any

import dask.dataframe as dd
import numpy as np
import pandas as pd

from pipelineml.hooks import batch_predict

TARGET = "malignant"


def _rows(number: int, rows: int, location: list[float], scale: list[float], columns: list[str]):
    # One partition, a pure function of its number: built where it is computed.
    generator = np.random.default_rng(number)
    values = np.abs(generator.normal(location, scale, size=(rows, len(columns))))
    start = number * rows
    index = pd.RangeIndex(start, start + rows, name="row_id")
    return pd.DataFrame(values, columns=columns, index=index)


def make_scoring_table(raw: pd.DataFrame, batch: dict[str, Any]) -> dd.DataFrame:
    """``batch["rows"]`` synthetic tumours shaped like the training data, as a Dask frame.

    Each feature is drawn from a normal distribution with the mean and spread it has in
    the real data, in ``batch["partitions"]`` partitions indexed by ``row_id``.
    """
    features = raw.drop(columns=TARGET)
    partitions = int(batch["partitions"])
    rows = -(-int(batch["rows"]) // partitions)
    columns = [str(column) for column in features.columns]
    return dd.from_map(
        _rows,
        range(partitions),
        rows=rows,
        location=features.mean().tolist(),
        scale=features.std().tolist(),
        columns=columns,
        meta=_rows(0, 0, [0.0] * len(columns), [1.0] * len(columns), columns),
        divisions=[*range(0, partitions * rows, rows), partitions * rows - 1],
    )


def score_table(model: Any, table: dd.DataFrame, batch: dict[str, Any]) -> dd.DataFrame:
    """Score every row on the Dask cluster; lazy, written partition by partition."""
    return batch_predict(model, table, params={"threshold": batch["threshold"]})
