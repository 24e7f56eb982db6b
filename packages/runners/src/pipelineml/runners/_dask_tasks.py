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
    """How a worker builds its hook manager.

    With ``package_name`` set and importable on the worker, the project's own settings
    (``settings.HOOKS`` and plugin entry points) are used, as Kedro's ParallelRunner does in
    its subprocesses. Otherwise the client's node/dataset hook objects, pickled, are used.
    """

    package_name: str | None
    plugins: bytes
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256((self.package_name or "").encode() + self.plugins).hexdigest()
        object.__setattr__(self, "digest", digest)


@dataclass(frozen=True)
class NodeTask:
    """Everything a worker needs to run one node."""

    step: Step
    persisted: dict[str, Any]
    copiers: dict[str, Copier]
    hooks: HookSpec | None
    run_id: str | None


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
        configured = False
        if spec.package_name:
            try:
                from kedro.framework.project import configure_project, settings

                configure_project(spec.package_name)
                _register_hooks(manager, settings.HOOKS)
                _register_hooks_entry_points(manager, settings.DISABLE_HOOKS_FOR_PLUGINS)
                configured = True
            except ImportError:
                logger.debug(
                    "Project package %s is not importable on this worker; using the client's hooks",
                    spec.package_name,
                )
        if not configured:
            for plugin in pickle.loads(spec.plugins):
                if not manager.is_registered(plugin):
                    manager.register(plugin)
        _managers[spec.digest] = manager
        return manager


def execute(payload: bytes, sources: dict[str, Any], *parents: dict[str, Any]) -> dict[str, Any]:
    """Run one node on a worker; return its outputs that are not persisted.

    Args:
        payload: A pickled ``NodeTask``.
        sources: Free in-memory inputs of the pipeline this node reads.
        parents: The results of the tasks of the nodes this one depends on.
    """
    task: NodeTask = pickle.loads(payload)
    step = task.step
    data: dict[str, Any] = {}
    for result in parents:
        data.update(result)
    data.update(sources)
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


def pick(result: dict[str, Any], name: str) -> Any:
    """One output out of a node's results, so only that output travels to the client."""
    return result[name]
