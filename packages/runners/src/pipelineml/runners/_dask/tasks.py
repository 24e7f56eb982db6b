"""What runs on a Dask worker: one Kedro node per task.

Importable without ``distributed`` (it only needs Kedro and this package), because it is
what workers import when they unpickle a task.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

from kedro.io import DataCatalog

from pipelineml.runners._dask.hooks import HookSpec, hook_manager_for
from pipelineml.runners._node_hooks import Hooks
from pipelineml.runners._plan import Step
from pipelineml.runners._steps import run_step
from pipelineml.runners._store import Copier, Store
from pipelineml.runners.errors import mark_failed_node


@dataclass(frozen=True)
class NodeTask:
    """Everything a worker needs to run one node."""

    step: Step
    persisted: dict[str, Any]
    copiers: dict[str, Copier]
    hooks: HookSpec | None
    run_id: str | None
    # Free in-memory inputs this node reads, in the order their values are passed.
    source_names: tuple[str, ...] = ()


def execute(payload: bytes, *args: Any) -> dict[str, Any]:
    """Run one node on a worker; return its outputs that are not persisted.

    Args:
        payload: A pickled ``NodeTask``.
        args: The values of ``task.source_names`` (free in-memory inputs), then the
            results of the tasks of the nodes this one depends on.
    """
    try:
        task: NodeTask = pickle.loads(payload)
    except ModuleNotFoundError as exc:
        exc.add_note(
            f"A Dask worker could not import {exc.name!r} to run a DaskRunner task. "
            "DaskRunner sends the Kedro project's own package to external workers; every "
            "other module a node uses must be installed in the workers' environment."
        )
        raise
    step = task.step
    count = len(task.source_names)
    data: dict[str, Any] = {}
    for result in args[count:]:
        data.update(result)
    data.update(zip(task.source_names, args[:count], strict=True))
    persisted = task.persisted
    catalog = DataCatalog(datasets=dict(persisted)) if persisted else None
    store = Store(catalog, frozenset(persisted), task.copiers, data)
    hooks = None
    if task.hooks is not None:
        manager = hook_manager_for(task.hooks)
        hooks = Hooks.of(manager, catalog if catalog is not None else DataCatalog(), task.run_id)
    try:
        run_step(step, store, hooks)
    except Exception as exc:
        mark_failed_node(exc, step.node.name)
        # For the person reading the traceback, which a worker's frames make long.
        exc.add_note(f"Raised by Kedro node '{step.node.name}' in a DaskRunner task.")
        raise
    return {name: data[name] for name in step.outputs if name not in persisted}


class InlineValue:
    """A value carried inside a task graph, wrapped so Dask never mistakes it for a task
    (a tuple whose first item is callable) or for a key (a string naming another task)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __getstate__(self) -> Any:
        return self.value

    def __setstate__(self, value: Any) -> None:
        self.value = value


def unwrap(inline: InlineValue) -> Any:
    """The value of an ``InlineValue`` (a graph task that can be recomputed anywhere)."""
    return inline.value


def pick(result: dict[str, Any], name: str) -> Any:
    """One output out of a node's results, so only that output travels to the client."""
    return result[name]
