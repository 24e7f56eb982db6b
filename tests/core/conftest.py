"""Small real pipelines shared by the core tests."""

from __future__ import annotations

from typing import Any

import pytest
from kedro.pipeline import Pipeline, node


def fit_scaler(data: list[float]) -> float:
    """The 'scaler' is the mean of the training data."""
    return sum(data) / len(data)


def fit_model(data: list[float], scaler: float, alpha: float) -> dict[str, float]:
    """A 'model' that remembers an offset."""
    return {"offset": max(data) - scaler + alpha}


def predict(instances: list[float], scaler: float, model: dict[str, float]) -> list[float]:
    """Score instances with the scaler and the model."""
    return [x - scaler + model["offset"] for x in instances]


def postprocess(predictions: list[float], threshold: float) -> list[bool]:
    """Turn scores into decisions."""
    return [p > threshold for p in predictions]


def identity(x: Any) -> Any:
    """Pass data through."""
    return x


@pytest.fixture
def ds_pipeline() -> Pipeline:
    """The seed's pattern: one modular pipeline with training and inference tags."""
    return Pipeline(
        [
            node(fit_scaler, "data", "scaler", name="fit_scaler", tags="training"),
            node(
                fit_model,
                ["data", "scaler", "params:alpha"],
                "model",
                name="fit_model",
                tags="training",
            ),
            node(
                predict,
                ["instances", "scaler", "model"],
                "scores",
                name="predict",
                tags="inference",
            ),
            node(
                postprocess,
                ["scores", "params:threshold"],
                "decisions",
                name="postprocess",
                tags="inference",
            ),
        ]
    )


@pytest.fixture
def training(ds_pipeline: Pipeline) -> Pipeline:
    """The training half of ds_pipeline."""
    return ds_pipeline.only_nodes_with_tags("training")


@pytest.fixture
def inference(ds_pipeline: Pipeline) -> Pipeline:
    """The inference half of ds_pipeline."""
    return ds_pipeline.only_nodes_with_tags("inference")
