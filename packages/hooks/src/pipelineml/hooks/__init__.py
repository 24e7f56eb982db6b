"""Log a PipelineML's inference pipeline as one MLflow model from a Kedro run.

``MlflowHook`` (registered for every Kedro project as ``mlflow_hook`` through the
``kedro.hooks`` entry point) tracks each ``kedro run`` and logs a ``KedroPipelineModel``
after training; ``log_pipeline_model`` does the same by hand.
"""

from __future__ import annotations

from pipelineml.hooks.errors import KedroPipelineModelError, MlflowConfigError
from pipelineml.hooks.kedro_pipeline_model import KedroPipelineModel
from pipelineml.hooks.log_model import log_pipeline_model
from pipelineml.hooks.metrics_dataset import MlflowMetricsDataset
from pipelineml.hooks.mlflow_hook import MlflowHook, mlflow_hook

__all__ = [
    "KedroPipelineModel",
    "KedroPipelineModelError",
    "MlflowConfigError",
    "MlflowHook",
    "MlflowMetricsDataset",
    "log_pipeline_model",
    "mlflow_hook",
]
