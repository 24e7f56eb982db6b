"""``run_in_memory``: a pipeline run on in-memory data, with no runner object to build."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipelineml.runners._plan import PlanCache
from pipelineml.runners._steps import run_plan_in_memory
from pipelineml.runners.copy_policy import CopyPolicy

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline

__all__ = ["run_in_memory"]

# One plan per pipeline object, dropped with the pipeline. Two threads planning the same
# new pipeline at once both build an equal plan; either may be kept.
_plans = PlanCache()


def run_in_memory(
    pipeline: Pipeline,
    data: Mapping[str, Any],
    *,
    copy_policy: str | Mapping[str, str] | CopyPolicy | None = None,
) -> dict[str, Any]:
    """Run ``pipeline`` node by node on in-memory data and return its free outputs' data.

    The same execution as ``SequentialRunner().run_in_memory(...)``, without a runner:
    this module does not import ``kedro.runner`` (whose import loads Kedro's project
    settings and configures logging), so a process that only scores, such as a model
    server, stays light. ``KedroPipelineModel`` scores requests this way by default.

    Example:
        ```python
        run_in_memory(pipeline, {"features": df, "model": fitted})["predictions"]
        ```

    Args:
        pipeline: The pipeline to run (its plan is computed once per pipeline object).
        data: ``{name: value}`` for (at least) every free input of the pipeline.
        copy_policy: Copy modes for the data handed between nodes (a mode, a dict of
            rules or a ``CopyPolicy``); ``None`` keeps Kedro's inference.

    Returns:
        ``{name: data}`` for every free output.

    Raises:
        ValueError: When ``data`` lacks a free input of the pipeline.
        Exception: The exception of a node that failed.
    """
    return run_plan_in_memory(_plans(pipeline), data, CopyPolicy.from_spec(copy_policy))


# Their public import path (pickles and tracebacks name them by it).
run_in_memory.__module__ = "pipelineml.runners"
