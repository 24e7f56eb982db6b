"""Kedro runners for pipelineml.

``SequentialRunner`` and ``ThreadRunner`` are drop-in replacements for Kedro's runners that
plan each pipeline once; ``DaskRunner`` runs each node as a task on a dask.distributed
cluster (install ``pipelineml-runners[dask]``), and ``scheduler_client`` gives work outside
a Kedro run (batch scoring) the client DaskRunner would use; ``CopyPolicy`` chooses copy
modes for in-memory data; ``resolve_runner`` turns registered names into runner instances;
``run_in_memory`` runs a pipeline on in-memory data without a runner; ``failed_node`` says
which node raised an exception.

The runner classes are imported on first use: importing ``kedro.runner`` loads Kedro's
project settings and configures logging, which a process that only scores (a model
server) does not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelineml.core._lazy import lazy_attributes
from pipelineml.runners.copy_policy import CopyPolicy
from pipelineml.runners.errors import (
    ClusterConnectionError,
    CopyModeError,
    ProjectUploadError,
    RunnerError,
    UnknownRunnerError,
    failed_node,
)
from pipelineml.runners.in_memory import run_in_memory
from pipelineml.runners.registry import known_runners, register_runner, resolve_runner

if TYPE_CHECKING:
    from kedro.runner import AbstractRunner

    from pipelineml.runners._dask.client import close_clients, scheduler_client
    from pipelineml.runners.dask_runner import DaskRunner
    from pipelineml.runners.sequential_runner import SequentialRunner
    from pipelineml.runners.thread_runner import ThreadRunner

_RUNNER_MODULES = {
    "DaskRunner": "pipelineml.runners.dask_runner",
    "SequentialRunner": "pipelineml.runners.sequential_runner",
    "ThreadRunner": "pipelineml.runners.thread_runner",
}


# The Dask client of work outside a Kedro run: imported on first use like the runners.
_DASK_CLIENT_MODULE = "pipelineml.runners._dask.client"

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        **_RUNNER_MODULES,
        "close_clients": _DASK_CLIENT_MODULE,
        "scheduler_client": _DASK_CLIENT_MODULE,
    },
    distribution="pipelineml-runners",
)


def _factory(name: str) -> Any:
    def build() -> AbstractRunner:
        runner: AbstractRunner = __getattr__(name)()
        return runner

    return build


for _name in _RUNNER_MODULES:
    register_runner(_name, _factory(_name))
    register_runner(f"pipelineml.runners.{_name}", _factory(_name))
del _name

__all__ = [
    "ClusterConnectionError",
    "CopyModeError",
    "CopyPolicy",
    "DaskRunner",
    "ProjectUploadError",
    "RunnerError",
    "SequentialRunner",
    "ThreadRunner",
    "UnknownRunnerError",
    "close_clients",
    "failed_node",
    "known_runners",
    "register_runner",
    "resolve_runner",
    "run_in_memory",
    "scheduler_client",
]
