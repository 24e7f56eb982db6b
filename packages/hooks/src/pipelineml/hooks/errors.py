"""Errors raised by ``pipelineml.hooks``."""

from __future__ import annotations

from click import ClickException
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from pipelineml.core import PipelineMLError

__all__ = [
    "BatchPredictError",
    "InferenceNodeError",
    "KedroPipelineModelError",
    "MlflowConfigError",
    "MlflowRunError",
]


class KedroPipelineModelError(PipelineMLError, MlflowException):
    """A ``KedroPipelineModel`` was built, loaded or called with something it cannot accept.

    It is a ``PipelineMLError`` (so a ``ValueError``) and an ``MlflowException`` with MLflow's
    INVALID_PARAMETER_VALUE code, so a model server answers a bad request with HTTP 400 and
    this message.
    """

    __module__ = "pipelineml.hooks"  # its public import path

    def __init__(self, message: str) -> None:
        MlflowException.__init__(self, message, error_code=INVALID_PARAMETER_VALUE)

    def __reduce__(self) -> tuple[type[KedroPipelineModelError], tuple[str | None, ...]]:
        return (type(self), (self.message,))


class InferenceNodeError(KedroPipelineModelError):
    """An inference node raised while ``predict`` ran; the message names the node.

    The node's own exception is the ``__cause__``. A model server answers it with HTTP 400
    and this message, without a stack trace; the trace goes to the server's log.
    """

    __module__ = "pipelineml.hooks"  # its public import path

    def __init__(self, message: str, node_name: str | None = None) -> None:
        super().__init__(message)
        self.node_name = node_name

    def __reduce__(self) -> tuple[type[InferenceNodeError], tuple[str | None, ...]]:
        return (type(self), (self.message, self.node_name))


class MlflowConfigError(ValueError):
    """``mlflow.yml`` holds an unknown key or a value that is not accepted."""

    __module__ = "pipelineml.hooks"  # its public import path


class MlflowRunError(PipelineMLError, ClickException):
    """A tracked Kedro run stopped for a reason the user must fix; its MLflow run is FAILED.

    Raised before the first node when the pre-flight check finds problems (or the tracking
    store cannot be opened), and after training when a requested model was not logged. It
    is a ``click.ClickException``, so ``kedro run`` prints its message alone (no
    traceback) and exits with status 1.
    """

    __module__ = "pipelineml.hooks"  # its public import path

    def __init__(self, message: str) -> None:
        ClickException.__init__(self, message)

    def __reduce__(self) -> tuple[type[MlflowRunError], tuple[str]]:
        return (type(self), (self.message,))


class BatchPredictError(PipelineMLError):
    """``batch_predict`` could not score its data: a model, a chunk or a partition at fault.

    Attributes:
        partition: The index of the partition (or chunk) that failed, when one did.
    """

    __module__ = "pipelineml.hooks"  # its public import path

    def __init__(self, message: str, partition: int | None = None) -> None:
        super().__init__(message)
        self.partition = partition

    def __reduce__(self) -> tuple[type[BatchPredictError], tuple[str, int | None]]:
        # Raised on a Dask worker and unpickled on the client.
        return (type(self), (str(self), self.partition))
