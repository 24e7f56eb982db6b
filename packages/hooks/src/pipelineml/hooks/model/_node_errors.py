"""Running an inference pipeline for a request, and naming the node that failed."""

from __future__ import annotations

import functools
import inspect
import logging
from types import CodeType
from typing import Any

from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline

from pipelineml.hooks.errors import InferenceNodeError
from pipelineml.runners import CopyPolicy, run_in_memory
from pipelineml.runners.errors import failed_node

logger = logging.getLogger(__name__)


def _code_of(func: Any) -> CodeType | None:
    while isinstance(func, functools.partial):
        func = func.func
    func = inspect.unwrap(func)
    code = getattr(func, "__code__", None)
    return code if isinstance(code, CodeType) else None


def failed_node_name(exc: BaseException, pipeline: Pipeline) -> str | None:
    """The name of the node of ``pipeline`` that raised ``exc``, or ``None`` if unknown.

    Our runners record it on the exception; otherwise (a runner that is not ours) the
    deepest frame of the traceback that runs a node's function tells.
    """
    recorded = failed_node(exc)
    if recorded is not None:
        return recorded
    codes = {}
    for node in pipeline.nodes:
        code = _code_of(node.func)
        if code is not None:
            codes[code] = node.name
    found = None
    traceback = exc.__traceback__
    while traceback is not None:
        found = codes.get(traceback.tb_frame.f_code, found)
        traceback = traceback.tb_next
    return found


def run_inference(
    pipeline: Pipeline, feed: dict[str, Any], runner: Any, policy: CopyPolicy, output: str
) -> Any:
    """``output``'s data after running ``pipeline`` on ``feed``: in memory (``runner`` is
    ``None``, or one of ours), or through a catalog built for the call (any other runner)."""
    if runner is None:
        return run_in_memory(pipeline, feed, copy_policy=policy)[output]
    in_memory = getattr(runner, "run_in_memory", None)
    if in_memory is not None:
        return in_memory(pipeline, feed, copy_policy=policy)[output]
    # A runner that is not ours only knows catalogs: build one per call.
    catalog = DataCatalog(
        datasets={
            name: MemoryDataset(value, copy_mode=policy.mode_for(name))
            for name, value in feed.items()
        }
    )
    return runner.run(pipeline, catalog)[output].load()


def node_failure(exc: Exception, pipeline: Pipeline, log_failure: bool) -> InferenceNodeError:
    """The error a request gets when ``pipeline`` raised ``exc``: the node and its message.

    A served request must get the node and its message, not the trace (which may show
    cloudpickled code as "<dynamic-code>"): the trace goes to the log instead.
    """
    node_name = failed_node_name(exc, pipeline)
    where = f"Inference node '{node_name}'" if node_name else "The inference pipeline"
    message = f"{where} failed: {type(exc).__name__}: {exc}"
    if log_failure:
        logger.error("%s", message, exc_info=exc)
    return InferenceNodeError(message, node_name)
