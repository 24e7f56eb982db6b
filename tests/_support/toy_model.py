"""A small real training/inference pair, trained in-process on a catalog in a temp folder.

Training: ``data`` (CSV) -> ``scaler`` (the mean of ``x``) -> ``model`` (an offset,
``params:alpha``). Inference: ``predict(instances, scaler, model, params:threshold)``.
With ``TRAIN_X`` the scaler is 4.5 and the offset ``ALPHA``; ``expected_predictions``
computes any answer independently of the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node

from pipelineml.core import PipelineML, pipeline_ml_factory
from pipelineml.runners import SequentialRunner
from tests._support import toy_nodes

TRAIN_X = [float(i) for i in range(10)]
SCALER = sum(TRAIN_X) / len(TRAIN_X)
ALPHA = 1.0
THRESHOLD = 2.0
# Logging a model makes MLflow infer its pip requirements by loading it in a subprocess
# (seconds per model); tests that do not look at requirements name them instead.
FAST_LOG: dict[str, Any] = {"pip_requirements": ["pandas"]}


def training_pipeline() -> Pipeline:
    """fit_scaler, then fit_model."""
    return Pipeline(
        [
            node(toy_nodes.fit_scaler, "data", "scaler", name="fit_scaler"),
            node(
                toy_nodes.fit_model, ["data", "scaler", "params:alpha"], "model", name="fit_model"
            ),
        ]
    )


def inference_pipeline() -> Pipeline:
    """predict(instances, scaler, model, params:threshold) -> predictions."""
    return Pipeline(
        [
            node(
                toy_nodes.predict,
                ["instances", "scaler", "model", "params:threshold"],
                "predictions",
                name="predict",
            )
        ]
    )


def toy_pipeline_ml(**kwargs: Any) -> PipelineML:
    """The toy PipelineML (input_name ``instances``); kwargs go to pipeline_ml_factory."""
    return pipeline_ml_factory(
        training=training_pipeline(),
        inference=inference_pipeline(),
        input_name="instances",
        **kwargs,
    )


def catalog_config(folder: Path) -> dict[str, dict[str, Any]]:
    """The catalog entries of the toy project, with files under ``folder``."""
    return {
        "data": {"type": "pandas.CSVDataset", "filepath": (folder / "train.csv").as_posix()},
        "instances": {
            "type": "pandas.CSVDataset",
            "filepath": (folder / "train.csv").as_posix(),
        },
        "scaler": {"type": "pickle.PickleDataset", "filepath": (folder / "scaler.pkl").as_posix()},
        "model": {"type": "pickle.PickleDataset", "filepath": (folder / "model.pkl").as_posix()},
    }


def make_catalog(
    folder: Path,
    entries: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> DataCatalog:
    """A catalog of the toy project; ``entries`` replace or add catalog entries
    (``None`` removes one); ``params`` replace parameters."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "train.csv").exists():
        pd.DataFrame({"x": TRAIN_X}).to_csv(folder / "train.csv", index=False)
    config: dict[str, Any] = catalog_config(folder)
    for name, entry in (entries or {}).items():
        if entry is None:
            config.pop(name, None)
        else:
            config[name] = entry
    catalog = DataCatalog.from_config(config)
    for name, value in {"alpha": ALPHA, "threshold": THRESHOLD, **(params or {})}.items():
        catalog[f"params:{name}"] = value
    return catalog


def trained_catalog(
    folder: Path,
    entries: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    training: Pipeline | None = None,
) -> DataCatalog:
    """``make_catalog``, then the training pipeline run on it (artifacts saved to files)."""
    catalog = make_catalog(folder, entries, params)
    SequentialRunner().run(training or training_pipeline(), catalog)
    return catalog


def expected(x: list[float], threshold: float = THRESHOLD, alpha: float = ALPHA) -> pd.DataFrame:
    """The toy model's answer for ``x``."""
    return toy_nodes.expected_predictions(x, SCALER, alpha, threshold)


def frame(x: list[float]) -> pd.DataFrame:
    """A request: a DataFrame with column ``x``."""
    return pd.DataFrame({"x": [float(value) for value in x]})
