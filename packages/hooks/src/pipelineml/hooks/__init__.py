"""Log a PipelineML's inference pipeline as one MLflow model from a Kedro run.

The package shows its plan in four sub-packages, each with a short public face:

* ``tracking``: ``MlflowHook`` (registered for every Kedro project as ``mlflow_hook``
  through the ``kedro.hooks`` entry point), one MLflow run per ``kedro run``, ``mlflow.yml``,
  the pre-flight check, and the tracking datasets;
* ``model``: ``KedroPipelineModel`` and ``log_pipeline_model``;
* ``environment``: the requirements and code a model ships with (the one place that
  touches MLflow's internals);
* ``batch``: ``MlflowModelDataset`` and ``batch_predict``.

Every public name is importable from here (``pipelineml.hooks.X``), reports this package
as its ``__module__``, and is imported on first use, so loading a model (which imports
``KedroPipelineModel``) does not import the hook and logging machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelineml.core._lazy import lazy_attributes

if TYPE_CHECKING:
    from pipelineml.hooks.batch import MlflowModelDataset, batch_predict
    from pipelineml.hooks.errors import (
        BatchPredictError,
        InferenceNodeError,
        KedroPipelineModelError,
        MlflowConfigError,
        MlflowRunError,
    )
    from pipelineml.hooks.model import KedroPipelineModel, log_pipeline_model, pipeline_picture
    from pipelineml.hooks.tracking import (
        MlflowArtifactDataset,
        MlflowHook,
        MlflowMetricDataset,
        MlflowMetricHistoryDataset,
        MlflowMetricsDataset,
        mlflow_hook,
    )

_MODULES = {
    "BatchPredictError": "pipelineml.hooks.errors",
    "InferenceNodeError": "pipelineml.hooks.errors",
    "KedroPipelineModel": "pipelineml.hooks.model",
    "KedroPipelineModelError": "pipelineml.hooks.errors",
    "MlflowArtifactDataset": "pipelineml.hooks.tracking",
    "MlflowConfigError": "pipelineml.hooks.errors",
    "MlflowHook": "pipelineml.hooks.tracking",
    "MlflowMetricDataset": "pipelineml.hooks.tracking",
    "MlflowMetricHistoryDataset": "pipelineml.hooks.tracking",
    "MlflowMetricsDataset": "pipelineml.hooks.tracking",
    "MlflowModelDataset": "pipelineml.hooks.batch",
    "MlflowRunError": "pipelineml.hooks.errors",
    "batch_predict": "pipelineml.hooks.batch",
    "log_pipeline_model": "pipelineml.hooks.model",
    "pipeline_picture": "pipelineml.hooks.model",
    "mlflow_hook": "pipelineml.hooks.tracking",
}


__getattr__, __dir__ = lazy_attributes(__name__, _MODULES, distribution="pipelineml-hooks")

__all__ = [
    "BatchPredictError",
    "InferenceNodeError",
    "KedroPipelineModel",
    "KedroPipelineModelError",
    "MlflowArtifactDataset",
    "MlflowConfigError",
    "MlflowHook",
    "MlflowMetricDataset",
    "MlflowMetricHistoryDataset",
    "MlflowMetricsDataset",
    "MlflowModelDataset",
    "MlflowRunError",
    "batch_predict",
    "log_pipeline_model",
    "mlflow_hook",
    "pipeline_picture",
]
