"""Errors and warnings raised by ``pipelineml.core``."""

from __future__ import annotations

__all__ = ["PipelineMLError", "PipelineMLWarning"]


class PipelineMLError(ValueError):
    """A ``PipelineML`` breaks one of the rules that let it be logged as one model.

    The message names the datasets, keys or values at fault and what would be accepted.
    """

    __module__ = "pipelineml.core"  # its public import path


class PipelineMLWarning(UserWarning):
    """An operation on a ``PipelineML`` returned a plain ``Pipeline`` instead.

    The plain pipeline runs the same nodes, but no longer carries the inference pipeline,
    so running it logs no model on its own.
    """

    __module__ = "pipelineml.core"  # its public import path
