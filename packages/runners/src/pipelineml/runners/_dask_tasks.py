"""What runs on a Dask worker: one Kedro node per task.

Importable without ``distributed`` (it only needs Kedro and this package), because it is
what workers import when they unpickle a task.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
from dataclasses import dataclass, field
from typing import Any

from kedro.io import DataCatalog

from pipelineml.runners._engine import Copier, Hooks, Store, run_step
from pipelineml.runners._plan import Step

logger = logging.getLogger("pipelineml.runners.dask")

NODE_HOOKS = frozenset(
    {
        "before_node_run",
        "after_node_run",
        "on_node_error",
        "before_dataset_loaded",
        "after_dataset_loaded",
        "before_dataset_saved",
        "after_dataset_saved",
    }
)


@dataclass(frozen=True)
class HookSpec:
    """How a worker builds its hook manager (a plugin manager itself cannot be pickled).

    ``plugins`` holds the client's node and dataset hook objects, pickled: the worker
    registers exactly those. When one of them cannot be pickled, ``plugins`` is ``None`` and
    the worker builds the manager from the project's settings (``settings.HOOKS`` and
    plugin entry points), as Kedro's ParallelRunner does in its subprocesses.
    """

    package_name: str | None
    plugins: bytes | None
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        material = (self.package_name or "").encode() + (self.plugins or b"")
        digest = hashlib.sha256(material).hexdigest()
        object.__setattr__(self, "digest", digest)


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


_managers: dict[str, Any] = {}
_managers_lock = threading.Lock()


def _hook_manager(spec: HookSpec) -> Any:
    # A plugin manager cannot be pickled, so each worker process builds one per spec once.
    with _managers_lock:
        manager = _managers.get(spec.digest)
        if manager is not None:
            return manager
        # Kedro's own ParallelRunner builds its subprocess hook managers with these helpers.
        from kedro.framework.hooks.manager import (
            _create_hook_manager,
            _register_hooks,
            _register_hooks_entry_points,
        )

        manager = _create_hook_manager()
        if spec.plugins is not None:
            for plugin in pickle.loads(spec.plugins):
                if not manager.is_registered(plugin):
                    manager.register(plugin)
        elif spec.package_name:
            from kedro.framework.project import configure_project, settings

            configure_project(spec.package_name)
            _register_hooks(manager, settings.HOOKS)
            _register_hooks_entry_points(manager, settings.DISABLE_HOOKS_FOR_PLUGINS)
        _managers[spec.digest] = manager
        return manager


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
        manager = _hook_manager(task.hooks)
        hooks = Hooks.of(manager, catalog if catalog is not None else DataCatalog(), task.run_id)
    try:
        run_step(step, store, hooks)
    except Exception as exc:
        exc.add_note(f"Raised by Kedro node '{step.node.name}' in a DaskRunner task.")
        raise
    return {name: data[name] for name in step.outputs if name not in persisted}


class Literal:
    """Holds a value inside a task graph so Dask never mistakes it for a task."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __getstate__(self) -> Any:
        return self.value

    def __setstate__(self, value: Any) -> None:
        self.value = value


def unwrap(literal: Literal) -> Any:
    """The value of a ``Literal`` (a graph task that can be recomputed anywhere)."""
    return literal.value


def pick(result: dict[str, Any], name: str) -> Any:
    """One output out of a node's results, so only that output travels to the client."""
    return result[name]
