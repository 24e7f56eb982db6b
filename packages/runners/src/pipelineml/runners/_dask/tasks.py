"""What runs on a Dask worker: one Kedro node per task, or a fused chain of them.

Importable without ``distributed`` (it only needs Kedro and this package), because it is
what workers import when they unpickle a task.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from typing import Any

from kedro.io import DataCatalog

from pipelineml.runners._dask.hooks import HookSpec, hook_manager_for
from pipelineml.runners._node_hooks import Hooks
from pipelineml.runners._plan import Step
from pipelineml.runners._steps import node_logger, run_step
from pipelineml.runners._store import Copier, Store
from pipelineml.runners.errors import mark_failed_node


@dataclass(frozen=True)
class ChainTask:
    """Everything a worker needs to run one task: its nodes, in order (``_dask.fusion``)."""

    steps: tuple[Step, ...]
    persisted: dict[str, Any]
    copiers: dict[str, Copier]
    hooks: HookSpec | None
    run_id: str | None
    # Free in-memory inputs the nodes read, in the order their values are passed.
    source_names: tuple[str, ...]
    # The in-memory outputs read outside the task: its result.
    exported: tuple[str, ...]
    # Per step, the in-memory datasets to drop once it is done (nothing later reads them).
    release_after: tuple[tuple[str, ...], ...]


def execute(payload: bytes, *args: Any) -> dict[str, Any]:
    """Run a task's nodes on a worker, in order; return its ``exported`` outputs.

    Node hooks fire per node, as in a task per node. A node that raises stops the task:
    its exception names it (``failed_node``), and the nodes after it do not run.

    Args:
        payload: A pickled ``ChainTask``.
        args: The values of ``task.source_names`` (free in-memory inputs, each maybe
            wrapped in an ``InlineValue``), then the results of the tasks this one
            depends on.
    """
    try:
        task: ChainTask = pickle.loads(payload)
    except ModuleNotFoundError as exc:
        exc.add_note(
            f"A Dask worker could not import {exc.name!r} to run a DaskRunner task. "
            "DaskRunner sends the Kedro project's own package to external workers; every "
            "other module a node uses must be installed in the workers' environment."
        )
        raise
    count = len(task.source_names)
    # A fresh dict: the results of other tasks may be shared with tasks running beside
    # this one on the same worker, so they are read, never written.
    data: dict[str, Any] = {}
    for result in args[count:]:
        data.update(result)
    for name, value in zip(task.source_names, args[:count], strict=True):
        # A small input read by this task only travels inside its arguments.
        data[name] = value.value if isinstance(value, InlineValue) else value
    persisted = task.persisted
    catalog = DataCatalog(datasets=dict(persisted)) if persisted else None
    # As in the in-process runners: Node.run (and its "Running node" line) only where the
    # worker's logging would show that line.
    quiet = not node_logger.isEnabledFor(logging.INFO)
    store = Store(catalog, frozenset(persisted), task.copiers, data, quiet=quiet)
    hooks = None
    if task.hooks is not None:
        manager = hook_manager_for(task.hooks)
        hooks = Hooks.of(manager, catalog if catalog is not None else DataCatalog(), task.run_id)
    for step, release in zip(task.steps, task.release_after, strict=True):
        try:
            run_step(step, store, hooks)
        except Exception as exc:
            mark_failed_node(exc, step.node.name)
            # For the person reading the traceback, which a worker's frames make long.
            exc.add_note(f"Raised by Kedro node '{step.node.name}' in a DaskRunner task.")
            raise
        for name in release:
            data.pop(name, None)
    return {name: data[name] for name in task.exported}


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
