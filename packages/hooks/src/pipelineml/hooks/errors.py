"""Errors raised by ``pipelineml.hooks``."""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from pipelineml.core import PipelineMLError

__all__ = ["BatchPredictError", "KedroPipelineModelError", "MlflowConfigError"]


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


class BatchPredictError(PipelineMLError):
    """``batch_predict`` could not score its data: a model, a chunk or a partition at fault.

    Attributes:
        partition: The index of the partition (or chunk) that failed, when one did.
    """

    def __init__(self, message: str, partition: int | None = None) -> None:
        super().__init__(message)
        self.partition = partition

    def __reduce__(self) -> tuple[type[BatchPredictError], tuple[str, int | None]]:
        # Raised on a Dask worker and unpickled on the client.
        return (type(self), (str(self), self.partition))
