"""How node and dataset hooks reach Dask workers: pickled, or rebuilt from the project.

A plugin manager cannot be pickled. The client sends a ``HookSpec`` (its node and dataset
hook objects, pickled, or the project's package name when they cannot be); each worker
builds one manager per spec, once.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipelineml.core._kedro import package_name, project_hook_manager
from pipelineml.runners._node_hooks import NODE_HOOKS

if TYPE_CHECKING:
    from pluggy import PluginManager

logger = logging.getLogger("pipelineml.runners.dask")


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


def hook_spec(hook_manager: PluginManager | None) -> HookSpec | None:
    """How workers get the node and dataset hooks of ``hook_manager`` (``None``: none)."""
    if hook_manager is None or not hasattr(hook_manager, "get_plugins"):
        return None
    import cloudpickle

    package = package_name()

    plugins = [
        plugin
        for plugin in hook_manager.get_plugins()
        if any(caller.name in NODE_HOOKS for caller in hook_manager.get_hookcallers(plugin) or [])
    ]
    if not plugins:
        return None
    try:
        return HookSpec(package_name=package, plugins=cloudpickle.dumps(plugins))
    except Exception as exc:
        if package:
            logger.debug("Hooks cannot be pickled (%s): workers use the project's settings", exc)
            return HookSpec(package_name=package, plugins=None)
        logger.warning(
            "Node and dataset hooks %r cannot be pickled (%s) and no Kedro project is "
            "configured, so they will not run on the Dask workers.",
            plugins,
            exc,
        )
        return None


_managers: dict[str, PluginManager] = {}
_managers_lock = threading.Lock()


def hook_manager_for(spec: HookSpec) -> PluginManager:
    """The worker's hook manager for ``spec``, built once per worker process."""
    # A plugin manager cannot be pickled, so each worker process builds one per spec once.
    with _managers_lock:
        manager = _managers.get(spec.digest)
        if manager is not None:
            return manager
        plugins = pickle.loads(spec.plugins) if spec.plugins is not None else ()
        manager = project_hook_manager(spec.package_name, plugins)
        _managers[spec.digest] = manager
        return manager
