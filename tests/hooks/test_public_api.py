"""pipelineml.hooks exports exactly what DESIGN.md and docs/reference/hooks.md document."""

from __future__ import annotations

import pipelineml.hooks
from tests._support.public_api import documented_exports, namespace_exports

# The names DESIGN.md fixes for this package ("Public API" table).
DESIGN_NAMES = {
    "KedroPipelineModel",
    "KedroPipelineModelError",
    "MlflowHook",
    "MlflowMetricsDataset",
    "MlflowModelDataset",
    "batch_predict",
    "log_pipeline_model",
    "mlflow_hook",
}


def test_all_is_the_documented_surface_in_alphabetical_order() -> None:
    """__all__ lists, sorted, exactly the names docs/reference/hooks.md documents."""
    assert pipelineml.hooks.__all__ == sorted(documented_exports("pipelineml.hooks"))


def test_design_names_are_exported() -> None:
    """Every name DESIGN.md fixes for pipelineml.hooks is in __all__."""
    assert set(pipelineml.hooks.__all__) >= DESIGN_NAMES


def test_namespace_has_no_public_name_outside_all() -> None:
    """Nothing public is reachable on pipelineml.hooks without being in __all__."""
    assert namespace_exports("pipelineml.hooks") == set(pipelineml.hooks.__all__)


def test_public_objects_report_the_package_as_their_module() -> None:
    """Classes and functions of __all__ say pipelineml.hooks is where they live (their
    public import path: what pickles, tracebacks and the reference name)."""
    objects = {name: getattr(pipelineml.hooks, name) for name in pipelineml.hooks.__all__}
    modules = {
        name: obj.__module__
        for name, obj in objects.items()
        if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__"))
    }
    assert modules
    assert set(modules.values()) == {"pipelineml.hooks"}, modules
