"""Log a PipelineML's inference pipeline as one MLflow model from a Kedro run.

``MlflowHook`` (registered for every Kedro project as ``mlflow_hook`` through the
``kedro.hooks`` entry point) tracks each ``kedro run`` and logs a ``KedroPipelineModel``
after training; ``log_pipeline_model`` does the same by hand. ``MlflowModelDataset`` puts a
logged or registered model in a catalog and ``batch_predict`` scores large frames with it.

Each name is imported on first use, so loading a model (which imports
``KedroPipelineModel``) does not import the hook and logging machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelineml.core._lazy import lazy_attributes

if TYPE_CHECKING:
    from pipelineml.hooks.batch_scoring import batch_predict
    from pipelineml.hooks.errors import (
        BatchPredictError,
        KedroPipelineModelError,
        MlflowConfigError,
    )
    from pipelineml.hooks.hook import MlflowHook, mlflow_hook
    from pipelineml.hooks.kedro_pipeline_model import KedroPipelineModel
    from pipelineml.hooks.log_model import log_pipeline_model
    from pipelineml.hooks.metrics_dataset import MlflowMetricsDataset
    from pipelineml.hooks.model_dataset import MlflowModelDataset

_MODULES = {
    "BatchPredictError": "pipelineml.hooks.errors",
    "KedroPipelineModel": "pipelineml.hooks.kedro_pipeline_model",
    "KedroPipelineModelError": "pipelineml.hooks.errors",
    "MlflowConfigError": "pipelineml.hooks.errors",
    "MlflowHook": "pipelineml.hooks.hook",
    "MlflowMetricsDataset": "pipelineml.hooks.metrics_dataset",
    "MlflowModelDataset": "pipelineml.hooks.model_dataset",
    "batch_predict": "pipelineml.hooks.batch_scoring",
    "log_pipeline_model": "pipelineml.hooks.log_model",
    "mlflow_hook": "pipelineml.hooks.hook",
}


__getattr__, __dir__ = lazy_attributes(__name__, _MODULES, distribution="pipelineml-hooks")

__all__ = [
    "BatchPredictError",
    "KedroPipelineModel",
    "KedroPipelineModelError",
    "MlflowConfigError",
    "MlflowHook",
    "MlflowMetricsDataset",
    "MlflowModelDataset",
    "batch_predict",
    "log_pipeline_model",
    "mlflow_hook",
]
