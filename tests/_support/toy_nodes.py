"""Node functions of the in-process test pipelines.

They live in an importable module (not in a test function) so that MLflow can pickle them,
and Dask worker processes, which inherit ``sys.path``, can import them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def fit_scaler(data: pd.DataFrame) -> float:
    """The 'scaler' is the mean of column ``x``."""
    return float(data["x"].mean())


def fit_model(data: pd.DataFrame, scaler: float, alpha: float) -> dict[str, float]:
    """The 'model' is an offset (``alpha``) and the spread of the training data."""
    return {"offset": float(alpha), "spread": float(data["x"].max()) - scaler}


def predict(
    instances: pd.DataFrame, scaler: float, model: dict[str, float], threshold: float
) -> pd.DataFrame:
    """``score = x - scaler + offset``; ``positive`` when the score exceeds ``threshold``."""
    score = (instances["x"] - scaler + model["offset"]).astype(float)
    return pd.DataFrame({"score": score, "positive": score > threshold}, index=instances.index)


def expected_predictions(
    x: list[float], scaler: float, offset: float, threshold: float
) -> pd.DataFrame:
    """What ``predict`` returns for ``x``, computed independently of the pipeline."""
    score = [value - scaler + offset for value in x]
    return pd.DataFrame({"score": score, "positive": [s > threshold for s in score]})


def echo_artifacts(
    instances: pd.DataFrame, options: dict[str, Any], model: dict[str, float]
) -> dict[str, Any]:
    """Return the objects the node received, so a test can check their identity."""
    return {"rows": len(instances), "options": options, "model": model}


def mutate_instances(instances: pd.DataFrame) -> pd.DataFrame:
    """Modify the input in place (a node a copy policy must protect the caller from)."""
    instances["x"] = instances["x"] * 0
    return instances


def lookup(instances: pd.DataFrame, vocabulary: dict[str, str]) -> pd.DataFrame:
    """Translate column ``word`` with a vocabulary loaded from a folder artifact."""
    return pd.DataFrame({"translation": [vocabulary[word] for word in instances["word"]]})


def fit_vocabulary(data: pd.DataFrame) -> dict[str, str]:
    """A 'vocabulary': every word of the training data, upper-cased."""
    return {word: word.upper() for word in data["word"]}


def split_scores(scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two outputs (an inference pipeline with two outputs cannot be one model)."""
    return scores[["score"]], scores[["positive"]]


def fail_on_scoring(instances: pd.DataFrame, model: dict[str, float]) -> pd.DataFrame:
    """An inference node that always fails."""
    raise RuntimeError("the scoring node failed on purpose")
