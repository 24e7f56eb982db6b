"""A generated Kedro project whose nodes write the tracking datasets (artifact, metric,
metric history), for the tests of those datasets and of ``kedro pipelineml``.

``__default__`` (also ``tracking``), a plain pipeline:

* ``make_report(params:n_rows)`` -> ``report`` (an ``MlflowArtifactDataset`` of a
  ``json.JSONDataset``, logged under ``reports/``) and ``versioned_report`` (the same, of a
  versioned JSON file, logged at the run's root);
* ``score(params:n_rows)`` -> ``accuracy`` (an ``MlflowMetricDataset``, key = its name)
  and ``loss`` (an ``MlflowMetricHistoryDataset``: a list, steps 0..n-1);
* ``checkpoints(params:n_rows)`` -> ``checkpoint_scores`` (an ``MlflowMetricHistoryDataset``
  with key ``val_score``: a ``{step: value}`` dict);
* ``check(report, accuracy, params:fail)`` -> ``checked``: reads the report back from its
  file and the accuracy back from the run, and raises when ``params:fail`` is true, after
  the three nodes above saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests._support.kedro_project import make_kedro_project

NODES_PY = '''\
"""Nodes of the generated project."""

from __future__ import annotations

from typing import Any


def make_report(n_rows: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A small report, twice (plain and versioned)."""
    report = {"rows": n_rows, "labels": ["no", "yes"], "matrix": [[n_rows, 1], [2, n_rows]]}
    return report, {"rows": n_rows}


def score(n_rows: int) -> tuple[float, list[float]]:
    """An accuracy and a loss per epoch."""
    return n_rows / (n_rows + 1), [1.0 / (epoch + 1) for epoch in range(n_rows)]


def checkpoints(n_rows: int) -> dict[int, float]:
    """A validation score at steps 0, 10, 20."""
    return {10 * i: float(i) for i in range(3)}


def check(report: dict[str, Any], accuracy: float, fail: bool) -> dict[str, Any]:
    """What was read back; fails on purpose when asked to."""
    if fail:
        raise RuntimeError("check failed on purpose")
    return {"rows": report["rows"], "accuracy": accuracy}
'''

REGISTRY_PY = '''\
"""Pipelines of the generated project."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from .nodes import check, checkpoints, make_report, score


def register_pipelines() -> dict[str, Pipeline]:
    """tracking (also __default__)."""
    tracking = Pipeline(
        [
            node(make_report, "params:n_rows", ["report", "versioned_report"], name="make_report"),
            node(score, "params:n_rows", ["accuracy", "loss"], name="score"),
            node(checkpoints, "params:n_rows", "checkpoint_scores", name="checkpoints"),
            node(check, ["report", "accuracy", "params:fail"], "checked", name="check"),
        ]
    )
    return {"__default__": tracking, "tracking": tracking}
'''

CATALOG: dict[str, dict[str, Any]] = {
    "report": {
        "type": "pipelineml.hooks.MlflowArtifactDataset",
        "artifact_path": "reports",
        "dataset": {"type": "json.JSONDataset", "filepath": "data/08_reporting/report.json"},
    },
    "versioned_report": {
        "type": "pipelineml.hooks.MlflowArtifactDataset",
        "dataset": {
            "type": "json.JSONDataset",
            "filepath": "data/08_reporting/versioned.json",
            "versioned": True,
        },
    },
    "accuracy": {"type": "pipelineml.hooks.MlflowMetricDataset"},
    "loss": {"type": "pipelineml.hooks.MlflowMetricHistoryDataset"},
    "checkpoint_scores": {
        "type": "pipelineml.hooks.MlflowMetricHistoryDataset",
        "key": "val_score",
    },
}

PARAMETERS: dict[str, Any] = {"n_rows": 4, "fail": False}


def make_tracking_project(
    root: Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    catalog: Mapping[str, Any] | None = None,
    mlflow_yml: Mapping[str, Any] | None = None,
) -> Path:
    """Write the project under ``root``; return ``root``.

    Args:
        root: The project root.
        parameters: Replace entries of ``PARAMETERS``.
        catalog: Replace or add catalog entries.
        mlflow_yml: Content of ``conf/base/mlflow.yml``; no file when omitted.
    """
    return make_kedro_project(
        root,
        nodes_py=NODES_PY,
        pipeline_registry_py=REGISTRY_PY,
        catalog={**CATALOG, **(catalog or {})},
        parameters={**PARAMETERS, **(parameters or {})},
        extra_conf={"mlflow.yml": mlflow_yml} if mlflow_yml is not None else None,
    )
