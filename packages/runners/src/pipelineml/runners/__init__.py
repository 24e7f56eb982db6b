"""Kedro runners for pipelineml.

``SequentialRunner`` and ``ThreadRunner`` are drop-in replacements for Kedro's runners that
plan each pipeline once; ``DaskRunner`` runs each node as a task on a dask.distributed
cluster (install ``pipelineml-runners[dask]``); ``CopyPolicy`` chooses copy modes for
in-memory data; ``resolve_runner`` turns registered names into runner instances;
``run_in_memory`` runs a pipeline on in-memory data without a runner.

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
    RunnerError,
    UnknownRunnerError,
)
from pipelineml.runners.in_memory import run_in_memory
from pipelineml.runners.registry import known_runners, register_runner, resolve_runner

if TYPE_CHECKING:
    from kedro.runner import AbstractRunner

    from pipelineml.runners.dask_runner import DaskRunner
    from pipelineml.runners.sequential_runner import SequentialRunner
    from pipelineml.runners.thread_runner import ThreadRunner

_RUNNER_MODULES = {
    "DaskRunner": "pipelineml.runners.dask_runner",
    "SequentialRunner": "pipelineml.runners.sequential_runner",
    "ThreadRunner": "pipelineml.runners.thread_runner",
}


__getattr__, __dir__ = lazy_attributes(__name__, _RUNNER_MODULES, distribution="pipelineml-runners")


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
    "RunnerError",
    "SequentialRunner",
    "ThreadRunner",
    "UnknownRunnerError",
    "known_runners",
    "register_runner",
    "resolve_runner",
    "run_in_memory",
]
