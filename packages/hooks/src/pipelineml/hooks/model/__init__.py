"""The model: a Kedro inference pipeline as one MLflow pyfunc model, and how it is logged.

``KedroPipelineModel`` (``_kedro_pipeline_model``) loads its artifacts once
(``_artifact_loading``, checked by ``_integrity``) and scores requests, naming the node
that failed (``_node_errors``); ``log_pipeline_model`` (``_log_model``) builds it from a
PipelineML and a catalog (``_model_arguments``), infers its signature (``_signature``) and
logs it with the environment ``pipelineml.hooks.environment`` prepares;
``pipeline_picture`` (``_picture``) draws the inference pipeline as SVG.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelineml.core._lazy import lazy_attributes

if TYPE_CHECKING:
    from pipelineml.hooks.model._kedro_pipeline_model import KedroPipelineModel
    from pipelineml.hooks.model._log_model import log_pipeline_model
    from pipelineml.hooks.model._picture import pipeline_picture

# log_pipeline_model imports MLflow's logging machinery: a process that only loads a model
# never needs it.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "KedroPipelineModel": "pipelineml.hooks.model._kedro_pipeline_model",
        "log_pipeline_model": "pipelineml.hooks.model._log_model",
        "pipeline_picture": "pipelineml.hooks.model._picture",
    },
)

__all__ = ["KedroPipelineModel", "log_pipeline_model", "pipeline_picture"]
