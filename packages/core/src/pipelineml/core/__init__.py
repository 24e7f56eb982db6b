"""Bind a Kedro training pipeline and its inference pipeline into one ``PipelineML``."""

from __future__ import annotations

from pipelineml.core.errors import PipelineMLError, PipelineMLWarning
from pipelineml.core.factory import pipeline_ml_factory
from pipelineml.core.pipeline_ml import PipelineML

__all__ = ["PipelineML", "PipelineMLError", "PipelineMLWarning", "pipeline_ml_factory"]
