"""Errors raised by ``pipelineml.runners``."""

from __future__ import annotations

__all__ = [
    "ClusterConnectionError",
    "CopyModeError",
    "ProjectUploadError",
    "RunnerError",
    "UnknownRunnerError",
]


class RunnerError(ValueError):
    """A runner was configured or called with a value it cannot accept."""


class CopyModeError(RunnerError):
    """A copy mode is not one of ``assign``, ``copy`` or ``deepcopy``."""


class UnknownRunnerError(RunnerError):
    """A runner name is not registered with ``resolve_runner``."""


class ClusterConnectionError(ConnectionError):
    """``DaskRunner`` could not reach its scheduler; the message names the address."""


class ProjectUploadError(RuntimeError):
    """``DaskRunner`` could not make the Kedro project importable on the Dask workers."""
