"""Kedro runners for pipelineml.

``SequentialRunner`` and ``ThreadRunner`` are drop-in replacements for Kedro's runners that
plan each pipeline once; ``DaskRunner`` runs each node as a task on a dask.distributed
cluster (install ``pipelineml-runners[dask]``); ``CopyPolicy`` chooses copy modes for
in-memory data; ``resolve_runner`` turns registered names into runner instances.
"""

from __future__ import annotations

from pipelineml.runners.copy_policy import CopyPolicy
from pipelineml.runners.dask_runner import DaskRunner
from pipelineml.runners.errors import (
    ClusterConnectionError,
    CopyModeError,
    RunnerError,
    UnknownRunnerError,
)
from pipelineml.runners.registry import known_runners, register_runner, resolve_runner
from pipelineml.runners.sequential_runner import SequentialRunner
from pipelineml.runners.thread_runner import ThreadRunner

for _name, _factory in (
    ("SequentialRunner", SequentialRunner),
    ("ThreadRunner", ThreadRunner),
    ("DaskRunner", DaskRunner),
):
    register_runner(_name, _factory)
    register_runner(f"pipelineml.runners.{_name}", _factory)
del _name, _factory

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
]
