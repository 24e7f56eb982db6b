"""Which inference node raised an exception, for the error a model returns."""

from __future__ import annotations

import functools
import inspect
from types import CodeType
from typing import Any

from kedro.pipeline import Pipeline

from pipelineml.runners.errors import failed_node


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
