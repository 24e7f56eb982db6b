"""Bind a Kedro training pipeline and its inference pipeline into one ``PipelineML``."""

from __future__ import annotations

from pipelineml.core._lazy import lazy_attributes
from pipelineml.core.errors import PipelineMLError, PipelineMLWarning
from pipelineml.core.factory import pipeline_ml_factory
from pipelineml.core.pipeline_ml import PipelineML

# Only __version__ is looked up on first use (from the installed distribution's metadata).
__getattr__, __dir__ = lazy_attributes(__name__, {}, distribution="pipelineml-core")

__all__ = ["PipelineML", "PipelineMLError", "PipelineMLWarning", "pipeline_ml_factory"]
