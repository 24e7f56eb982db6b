"""A generated Kedro project for the MlflowHook tests (written by ``make_kedro_project``).

Pipelines:

* ``training`` (also ``__default__``): a PipelineML. ``make_data`` -> ``raw_data`` (CSV),
  ``fit_scaler`` -> ``scaler``, ``fit_model`` -> ``model`` (raises when ``params:fail``),
  ``evaluate`` -> ``metrics`` (an ``MlflowMetricsDataset`` with prefix ``train.``).
  Inference: ``predict(instances, scaler, model, params:threshold)``.
* ``memory_training``: a PipelineML whose inference reads ``memory_model``, a
  ``MemoryDataset``: it can never be logged.
* ``other``: a plain pipeline reading ``parameters`` (every parameter).
* ``inference``: the inference nodes alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests._support.kedro_project import make_kedro_project
from tests._support.toy_model import FAST_LOG

NODES_PY = '''\
"""Nodes of the generated project."""

from __future__ import annotations

from typing import Any

import pandas as pd


def make_data(n_rows: int) -> pd.DataFrame:
    """Rows 0, 1, ... n_rows - 1 in column x."""
    return pd.DataFrame({"x": [float(i) for i in range(n_rows)]})


def fit_scaler(data: pd.DataFrame) -> float:
    """The mean of x."""
    return float(data["x"].mean())


def fit_model(data: pd.DataFrame, scaler: float, alpha: float, fail: bool) -> dict[str, float]:
    """An offset; fails on purpose when asked to."""
    if fail:
        raise RuntimeError("fit_model failed on purpose")
    return {"offset": float(alpha)}


def evaluate(data: pd.DataFrame, scaler: float, model: dict[str, float]) -> dict[str, float]:
    """Metrics of the training run."""
    return {"rows": float(len(data)), "offset": model["offset"]}


def predict(
    instances: pd.DataFrame, scaler: float, model: dict[str, float], threshold: float
) -> pd.DataFrame:
    """score = x - scaler + offset; positive above the threshold."""
    score = (instances["x"] - scaler + model["offset"]).astype(float)
    return pd.DataFrame({"score": score, "positive": score > threshold}, index=instances.index)


def summarise(parameters: dict[str, Any]) -> list[str]:
    """The names of every parameter."""
    return sorted(parameters)
'''

REGISTRY_PY = '''\
"""Pipelines of the generated project."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from pipelineml.core import pipeline_ml_factory

from .nodes import evaluate, fit_model, fit_scaler, make_data, predict, summarise

KPM_KWARGS = {kpm_kwargs!r}
LOG_MODEL_KWARGS = {log_model_kwargs!r}


def register_pipelines() -> dict[str, Pipeline]:
    """training (a PipelineML, also __default__), memory_training, inference and other."""
    make = node(make_data, "params:n_rows", "raw_data", name="make_data")
    scale = node(fit_scaler, "raw_data", "scaler", name="fit_scaler")
    inference = Pipeline(
        [
            node(
                predict,
                ["instances", "scaler", "model", "params:threshold"],
                "predictions",
                name="predict",
            )
        ]
    )
    training = pipeline_ml_factory(
        training=Pipeline(
            [
                make,
                scale,
                node(
                    fit_model,
                    ["raw_data", "scaler", "params:alpha", "params:fail"],
                    "model",
                    name="fit_model",
                ),
                node(evaluate, ["raw_data", "scaler", "model"], "metrics", name="evaluate"),
            ]
        ),
        inference=inference,
        input_name="instances",
        kpm_kwargs=KPM_KWARGS,
        log_model_kwargs=LOG_MODEL_KWARGS,
    )
    memory_training = pipeline_ml_factory(
        training=Pipeline(
            [
                make,
                scale,
                node(
                    fit_model,
                    ["raw_data", "scaler", "params:alpha", "params:fail"],
                    "memory_model",
                    name="fit_memory_model",
                ),
            ]
        ),
        inference=Pipeline(
            [
                node(
                    predict,
                    ["instances", "scaler", "memory_model", "params:threshold"],
                    "predictions",
                    name="predict_from_memory",
                )
            ]
        ),
        input_name="instances",
        log_model_kwargs=LOG_MODEL_KWARGS,
    )
    other = Pipeline([node(summarise, "parameters", "parameter_names", name="summarise")])
    return {{
        "__default__": training,
        "training": training,
        "memory_training": memory_training,
        "inference": inference,
        "other": other,
    }}
'''

CATALOG: dict[str, dict[str, Any]] = {
    "raw_data": {"type": "pandas.CSVDataset", "filepath": "data/01_raw/raw_data.csv"},
    "instances": {"type": "pandas.CSVDataset", "filepath": "data/01_raw/raw_data.csv"},
    "scaler": {"type": "pickle.PickleDataset", "filepath": "data/06_models/scaler.pkl"},
    "model": {"type": "pickle.PickleDataset", "filepath": "data/06_models/model.pkl"},
    "memory_model": {"type": "MemoryDataset"},
    "metrics": {
        "type": "pipelineml.hooks.MlflowMetricsDataset",
        "filepath": "data/08_reporting/metrics.json",
        "prefix": "train.",
    },
}

PARAMETERS: dict[str, Any] = {
    "n_rows": 20,
    "alpha": 1.0,
    "fail": False,
    "threshold": 0.5,
    "model_options": {"C": 1.0, "solver": {"name": "lbfgs", "tol": 0.001}},
    "note": "short",
}

#: The scaler learnt from PARAMETERS["n_rows"] rows 0..19.
SCALER = (PARAMETERS["n_rows"] - 1) / 2


def make_project(
    root: Path,
    *,
    kpm_kwargs: Mapping[str, Any] | None = None,
    log_model_kwargs: Mapping[str, Any] | None = None,
    mlflow_yml: Mapping[str, Any] | None = None,
    settings_py: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> Path:
    """Write the project under ``root``.

    Args:
        root: The project root.
        kpm_kwargs: ``kpm_kwargs`` of the ``training`` PipelineML.
        log_model_kwargs: Its ``log_model_kwargs``; ``FAST_LOG`` when omitted.
        mlflow_yml: Content of ``conf/base/mlflow.yml``; no file when omitted.
        settings_py: ``settings.py``; Kedro's defaults (plugin hooks on) when omitted.
        parameters: Replace entries of ``PARAMETERS``.

    Returns:
        ``root``.
    """
    return make_kedro_project(
        root,
        nodes_py=NODES_PY,
        pipeline_registry_py=REGISTRY_PY.format(
            kpm_kwargs=dict(kpm_kwargs or {}),
            log_model_kwargs=dict(FAST_LOG if log_model_kwargs is None else log_model_kwargs),
        ),
        catalog=CATALOG,
        parameters={**PARAMETERS, **(parameters or {})},
        settings_py=settings_py,
        extra_conf={"mlflow.yml": mlflow_yml} if mlflow_yml is not None else None,
    )


def expected_scores(x: list[float], threshold: float = 0.5, alpha: float = 1.0) -> list[float]:
    """The trained model's scores for ``x``."""
    return [value - SCALER + alpha for value in x]


def run_filtered(root: Path, pipeline_names: list[str], **filters: Any) -> dict[str, Any]:
    """``run_in_session`` with Kedro's run filters (``node_names``, ``from_nodes``...).

    ``tests._support.kedro_project.run_in_session`` takes no filters; this mirrors it with
    the same process-state helpers (sys.path, module cache, working directory, logging).
    """
    from tests._support.kedro_project import _keep_interpreter_hooks, _project_process_state

    root = root.resolve()
    with _project_process_state(root):
        with _keep_interpreter_hooks():
            from kedro.framework.session import KedroSession
            from kedro.framework.startup import bootstrap_project

            bootstrap_project(root)
        session = KedroSession.create(project_path=root)
        with session:
            result: dict[str, Any] = session.run(pipeline_names=pipeline_names, **filters)
    return result


def package_of(root: Path) -> str:
    """The package name of a generated project."""
    (package,) = (p.name for p in (root / "src").iterdir() if p.is_dir())
    return package
