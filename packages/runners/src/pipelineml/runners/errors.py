"""Errors raised by ``pipelineml.runners``."""

from __future__ import annotations

import contextlib

__all__ = [
    "ClusterConnectionError",
    "CopyModeError",
    "ProjectUploadError",
    "RunnerError",
    "UnknownRunnerError",
    "failed_node",
]

# The attribute naming the node on an exception a node raised (kept when it is pickled:
# BaseException pickles its __dict__, so it crosses from a Dask worker to the client).
_FAILED_NODE = "pipelineml_failed_node"


class RunnerError(ValueError):
    """A runner was configured or called with a value it cannot accept."""

    __module__ = "pipelineml.runners"  # its public import path


class CopyModeError(RunnerError):
    """A copy mode is not one of ``assign``, ``copy`` or ``deepcopy``."""

    __module__ = "pipelineml.runners"  # its public import path


class UnknownRunnerError(RunnerError):
    """A runner name is not registered with ``resolve_runner``."""

    __module__ = "pipelineml.runners"  # its public import path


class ClusterConnectionError(ConnectionError):
    """``DaskRunner`` could not reach its scheduler; the message names the address."""

    __module__ = "pipelineml.runners"  # its public import path


class ProjectUploadError(RuntimeError):
    """``DaskRunner`` could not make the Kedro project importable on the Dask workers."""

    __module__ = "pipelineml.runners"  # its public import path


def failed_node(exc: BaseException) -> str | None:
    """The name of the node that raised ``exc`` in a pipelineml runner, if one did.

    In-memory runs (a model scoring) and ``DaskRunner`` tasks record it on the exception.

    Example:
        ```python
        try:
            run_in_memory(pipeline, data)
        except Exception as exc:
            print(failed_node(exc))  # "divide"
        ```
    """
    name = getattr(exc, _FAILED_NODE, None)
    return name if isinstance(name, str) else None


def mark_failed_node(exc: BaseException, node_name: str) -> None:
    """Record on ``exc`` that node ``node_name`` raised it (the first record stays)."""
    if failed_node(exc) is None:
        # An exception type with __slots__ and no __dict__ cannot carry it.
        with contextlib.suppress(AttributeError, TypeError):
            setattr(exc, _FAILED_NODE, node_name)


failed_node.__module__ = "pipelineml.runners"
