"""The project's own code inside the model: which modules travel, pickled by value.

A model logged from a Kedro project must load where that project is not installed, so the
project's package and any node module outside an installed distribution are pickled by
value (cloudpickle), and no requirement names them.
"""

from __future__ import annotations

import contextlib
import site
import sys
import sysconfig
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelineml.core._kedro import package_name
from pipelineml.hooks.environment._code_bundle import code_path_modules

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline


def _site_directories() -> tuple[Path, ...]:
    paths = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    paths.update(site.getsitepackages())
    return tuple(Path(p).resolve() for p in paths)


def _is_installed(module: Any) -> bool:
    """Whether a top-level module lives in site-packages (a dependency, not project code).

    Decided from where its files are: importlib.metadata.packages_distributions() would
    tell too, but scanning every installed distribution costs about half a second.
    """
    locations = [getattr(module, "__file__", None), *list(getattr(module, "__path__", []))]
    sites = _site_directories()
    for location in filter(None, locations):
        path = Path(location).resolve()
        if any(path.is_relative_to(site_dir) for site_dir in sites):
            return True
    return False


def _node_modules(pipeline: Pipeline) -> set[str]:
    tops = set()
    for node in pipeline.nodes:
        func = node.func
        while hasattr(func, "func"):  # functools.partial
            func = func.func
        module = getattr(func, "__module__", None)
        if module:
            tops.add(module.split(".", 1)[0])
    return tops


def by_value_modules(pipeline: Pipeline) -> list[str]:
    """The top-level modules ``code_by_value`` pickles by value for ``pipeline``.

    The Kedro project's package, and any node module that is not part of an installed
    distribution.
    """
    project_package = package_name()
    chosen = []
    for top in sorted(_node_modules(pipeline) | ({project_package} if project_package else set())):
        if top in sys.stdlib_module_names or top in {"__main__", "builtins"}:
            continue
        module = sys.modules.get(top)
        if module is None:
            continue
        if top != project_package and _is_installed(module):
            continue
        chosen.append(top)
    return chosen


def bundled_modules(pipeline: Pipeline, log_model_kwargs: Mapping[str, Any]) -> set[str]:
    """Top-level modules whose code the model of ``pipeline`` carries: by value, or in the
    ``code_paths`` of ``log_model_kwargs``."""
    code_paths = log_model_kwargs.get("code_paths") or []
    return {*by_value_modules(pipeline), *code_path_modules(code_paths)}


@contextlib.contextmanager
def code_by_value(modules: Iterable[str]) -> Iterator[list[str]]:
    """While in this block, cloudpickle pickles these top-level modules' code by value.

    Used to pickle the project's own code into a model (the pickled format), or into a
    loaded model sent to Dask workers that cannot import it. Modules a caller registered
    already stay registered; modules not imported here are skipped.
    """
    import cloudpickle

    already = set(cloudpickle.list_registry_pickle_by_value())
    chosen = [top for top in modules if top not in already and top in sys.modules]
    for top in chosen:
        cloudpickle.register_pickle_by_value(sys.modules[top])
    try:
        yield chosen
    finally:
        for top in chosen:
            cloudpickle.unregister_pickle_by_value(sys.modules[top])
