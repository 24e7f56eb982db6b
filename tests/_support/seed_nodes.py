"""The node functions of the core tests' pipelines (the seed's ds_pipeline pattern).

Plain Python on lists, so the core tests run where only ``pipelineml-core`` is installed.
"""

from __future__ import annotations

from typing import Any


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
