"""Fixtures and checks shared by the batch-scoring tests (import the fixtures by name)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelineml.hooks import MlflowModelDataset
from pipelineml.hooks.batch import _worker as batch_worker
from tests._support import batch_frames
from tests._support.trained_project import TrainedModel, tracking

__all__ = [
    "CHAMPION",
    "NAME",
    "ROWS",
    "assert_scores",
    "champion_fixture",
    "expected",
    "lazy_partitions",
    "loads_on",
    "model_fixture",
]

NAME = "batch_scoring_classifier"
CHAMPION = f"models:/{NAME}@champion"
ROWS = 500


@pytest.fixture(scope="module", name="champion")
def champion_fixture(trained_model: TrainedModel) -> TrainedModel:
    """The trained model registered as version 1 of NAME, with the alias ``champion``."""
    import mlflow
    from mlflow.tracking import MlflowClient

    # The registry finds the logged model through MLflow's current tracking store.
    with tracking(trained_model.tracking_uri):
        client = MlflowClient()
        if not client.search_registered_models(f"name='{NAME}'"):
            version = mlflow.register_model(trained_model.model_uri, NAME)
            client.set_registered_model_alias(NAME, "champion", version.version)
    return trained_model


@pytest.fixture(scope="module", name="model")
def model_fixture(champion: TrainedModel) -> Any:
    """The champion, loaded through MlflowModelDataset."""
    return MlflowModelDataset(CHAMPION, tracking_uri=champion.tracking_uri).load()


def expected(trained: TrainedModel, frame: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """The project's own predict node on the fitted objects (no MLflow involved)."""
    scaler, fitted = trained.fitted
    result: pd.DataFrame = trained.nodes.predict(frame, scaler, fitted, threshold)
    return result


def assert_scores(actual: pd.DataFrame, wanted: pd.DataFrame) -> None:
    """Same index, same columns, same decisions, scores equal within float rounding."""
    assert list(actual.columns) == ["score", "prediction"]
    assert actual.index.equals(wanted.index)
    assert np.allclose(actual["score"], wanted["score"], rtol=1e-9, atol=1e-12)
    assert actual["prediction"].tolist() == wanted["prediction"].tolist()


def loads_on(client: Any) -> dict[str, int]:
    """``{worker address: times it unpickled a model}`` over every model."""
    counts: dict[str, dict[str, int]] = client.run(batch_worker.load_counts)
    return {worker: sum(per_model.values()) for worker, per_model in counts.items()}


def lazy_partitions(numbers: int, rows: int = ROWS, **kwargs: Any) -> Any:
    """A Dask frame whose partitions are built on the workers by ``_batch``."""
    import dask.dataframe as dd

    meta = batch_frames.partition(0, 0)
    if kwargs:
        return dd.from_map(
            batch_frames.bad_partition if "kind" in kwargs else batch_frames.slow_partition,
            range(numbers),
            rows=rows,
            meta=meta,
            divisions=[i * rows for i in range(numbers)] + [numbers * rows - 1],
            **kwargs,
        )
    return dd.from_map(
        batch_frames.partition,
        range(numbers),
        rows=rows,
        meta=meta,
        divisions=[i * rows for i in range(numbers)] + [numbers * rows - 1],
    )
