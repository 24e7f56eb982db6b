"""Every Kedro attribute pipelineml reads that is not Kedro's public API, in one place.

Kedro offers no public accessor for these; a Kedro release that renames one breaks only
the function here that reads it, and each degrades to a safe answer where it can.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from kedro.runner import AbstractRunner
    from pluggy import PluginManager

_MISSING: Any = object()
# A logging configuration that changes nothing (incremental, and names no logger).
_NO_LOGGING_CHANGE = Path(__file__).with_name("_no_logging_change.yml")
_import_lock = threading.Lock()


def import_kedro_runner_for_host() -> None:
    """Import ``kedro.runner`` in a host process without Kedro configuring its logging.

    ``kedro.runner`` imports ``kedro.framework.project``, whose first import applies a
    logging configuration to the whole process (the working directory's
    ``conf/logging.yml``, else Kedro's rich handler on the root logger). A model scoring
    inside someone else's process (a model server, a notebook, a batch job) must leave that
    process's logging as it was, so the first import reads Kedro's documented
    ``KEDRO_LOGGING_CONFIG`` pointing at a configuration that changes nothing. A process
    where Kedro is already imported (``kedro run``), or whose user set
    ``KEDRO_LOGGING_CONFIG``, keeps what Kedro does there.
    """
    with _import_lock:
        quiet = "kedro.framework.project" not in sys.modules and not os.environ.get(
            "KEDRO_LOGGING_CONFIG"
        )
        if quiet:
            os.environ["KEDRO_LOGGING_CONFIG"] = os.fspath(_NO_LOGGING_CHANGE)
        try:
            import kedro.runner  # noqa: F401
        finally:
            if quiet:
                del os.environ["KEDRO_LOGGING_CONFIG"]


def package_name() -> str | None:
    """The package of the Kedro project configured in this process, if any."""
    from kedro.framework import project

    # Set by configure_project(); Kedro documents it but exports no getter.
    name: str | None = getattr(project, "PACKAGE_NAME", None)
    return name


def catalog_names(catalog: CatalogProtocol[Any, Any]) -> list[str]:
    """The names a catalog declares (``keys()`` of Kedro's DataCatalog; empty otherwise)."""
    keys = getattr(catalog, "keys", None)
    return [str(name) for name in keys()] if callable(keys) else []


def catalog_config(catalog: CatalogProtocol[Any, Any]) -> dict[str, dict[str, Any]] | None:
    """``{name: dataset config}`` of a DataCatalog (``to_config``), ``None`` for a catalog
    that cannot say (``to_config`` is DataCatalog's, not ``CatalogProtocol``'s)."""
    to_config = getattr(catalog, "to_config", None)
    if not callable(to_config):
        return None
    config: dict[str, dict[str, Any]] = to_config()[0]
    return config


def dataset_config(catalog: CatalogProtocol[Any, Any], name: str) -> dict[str, Any]:
    """The configuration of dataset ``name`` (empty when the catalog cannot say)."""
    try:
        config = catalog_config(catalog)
    except Exception:  # a catalog whose datasets cannot all be described
        return {}
    return dict((config or {}).get(name) or {})


def dataset_filesystem(dataset: Any) -> Any:
    """The fsspec filesystem a kedro-datasets dataset built from its credentials and
    ``fs_args`` (its ``_fs``), or ``None`` for a dataset that keeps none."""
    fs = getattr(dataset, "_fs", None)
    return fs if callable(getattr(fs, "get_file", None)) else None


def is_ephemeral(dataset: Any) -> bool:
    """Whether a dataset only lives in memory (Kedro's runners read ``_EPHEMERAL`` too)."""
    return bool(getattr(dataset, "_EPHEMERAL", False))


def declared_inputs_outputs(node: Node) -> tuple[Any, Any] | None:
    """A node's inputs and outputs as declared (str, list, dict or None), if Kedro keeps them."""
    inputs = getattr(node, "_inputs", _MISSING)
    outputs = getattr(node, "_outputs", _MISSING)
    if inputs is _MISSING or outputs is _MISSING:
        return None
    return inputs, outputs


def declared_name(node: Node) -> str | None:
    """A node's name as given to it (``None`` when Kedro derives one), before its namespace."""
    name = getattr(node, "_name", None)
    return name if isinstance(name, str) else None


def outputs_to_dictionary(node: Node) -> Callable[[Any], dict[str, Any]]:
    """Kedro's own mapping of a node function's result to its outputs (and its errors)."""
    mapping: Callable[[Any], dict[str, Any]] = node._outputs_to_dictionary
    return mapping


def validate_max_workers(max_workers: int | None) -> int:
    """Kedro's rule for a pool size: the CPU count by default (capped on Windows), > 0."""
    from kedro.runner import AbstractRunner

    workers: int = AbstractRunner._validate_max_workers(max_workers)
    return workers


def filter_missing_outputs(
    runner: AbstractRunner, pipeline: Pipeline, catalog: CatalogProtocol[Any, Any]
) -> Pipeline:
    """Kedro's ``only_missing_outputs`` selection of the nodes still to run."""
    filtered: Pipeline = runner._filter_pipeline_for_missing_outputs(pipeline, catalog)
    return filtered


def suggest_resume(
    runner: AbstractRunner,
    pipeline: Pipeline,
    done: Iterable[Node],
    catalog: CatalogProtocol[Any, Any],
) -> None:
    """Log Kedro's "resume the run with --from-nodes ..." hint after a node failed."""
    runner._suggest_resume_scenario(pipeline, done, catalog)


def project_hook_manager(package: str | None, plugins: Iterable[object] = ()) -> PluginManager:
    """A hook manager with ``plugins``, or with the hooks of project ``package`` (its
    ``settings.HOOKS`` and plugin entry points), built the way Kedro's ParallelRunner builds
    the managers of its subprocesses."""
    from kedro.framework.hooks.manager import (
        _create_hook_manager,
        _register_hooks,
        _register_hooks_entry_points,
    )

    manager: PluginManager = _create_hook_manager()
    plugins = list(plugins)
    if plugins:
        for plugin in plugins:
            if not manager.is_registered(plugin):
                manager.register(plugin)
    elif package:
        from kedro.framework.project import configure_project, settings

        configure_project(package)
        _register_hooks(manager, settings.HOOKS)
        _register_hooks_entry_points(manager, settings.DISABLE_HOOKS_FOR_PLUGINS)
    return manager
