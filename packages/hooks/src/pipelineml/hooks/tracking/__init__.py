"""Tracking: one MLflow run per ``kedro run``, and what it records.

``MlflowHook`` (``_hook``) owns the run's lifecycle; it reads ``mlflow.yml`` (``_config``,
``_conf_files``), checks before the first node that every requested model can be logged
(``_preflight``, ``_problems``), opens and ends the run on the stores (``_mlflow_run``,
``_run_state``, ``_run_tags``, ``_params``), ends it KILLED on a signal (``_interrupts``),
and picks the PipelineMLs whose model the run logs (``_model_selection``). The tracking
datasets write what nodes return into the run (``_metrics_dataset``, ``_metric_datasets``,
``_artifact_dataset``), bound to it by the hook (``_run_binding``). The ``kedro pipelineml``
commands (``_cli``) write ``mlflow.yml``, serve MLflow's UI on the project's stores and log a
model from artifacts on disk (``_modelify``).
"""

from __future__ import annotations

from pipelineml.hooks.tracking._artifact_dataset import MlflowArtifactDataset
from pipelineml.hooks.tracking._hook import MlflowHook, mlflow_hook
from pipelineml.hooks.tracking._metric_datasets import (
    MlflowMetricDataset,
    MlflowMetricHistoryDataset,
)
from pipelineml.hooks.tracking._metrics_dataset import MlflowMetricsDataset

__all__ = [
    "MlflowArtifactDataset",
    "MlflowHook",
    "MlflowMetricDataset",
    "MlflowMetricHistoryDataset",
    "MlflowMetricsDataset",
    "mlflow_hook",
]
