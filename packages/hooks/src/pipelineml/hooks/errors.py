"""Errors raised by ``pipelineml.hooks``."""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from pipelineml.core import PipelineMLError

__all__ = ["KedroPipelineModelError", "MlflowConfigError"]


class KedroPipelineModelError(PipelineMLError, MlflowException):
    """A ``KedroPipelineModel`` was built, loaded or called with something it cannot accept.

    It is a ``PipelineMLError`` (so a ``ValueError``) and an ``MlflowException`` with MLflow's
    INVALID_PARAMETER_VALUE code, so a model server answers a bad request with HTTP 400 and
    this message.
    """

    def __init__(self, message: str) -> None:
        MlflowException.__init__(self, message, error_code=INVALID_PARAMETER_VALUE)

    def __reduce__(self) -> tuple[type[KedroPipelineModelError], tuple[str]]:
        return (type(self), (self.message,))


class MlflowConfigError(ValueError):
    """``mlflow.yml`` holds an unknown key or a value that is not accepted."""
