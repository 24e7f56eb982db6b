"""pipelineml.core exports exactly what DESIGN.md and docs/reference/core.md document."""

from __future__ import annotations

import pipelineml.core
from tests._support.public_api import documented_exports, namespace_exports

# The names DESIGN.md fixes for this package ("Public API" table).
DESIGN_NAMES = {"PipelineML", "PipelineMLError", "pipeline_ml_factory"}


def test_all_is_the_documented_surface_in_alphabetical_order() -> None:
    """__all__ lists, sorted, exactly the names docs/reference/core.md documents."""
    assert pipelineml.core.__all__ == sorted(documented_exports("pipelineml.core"))


def test_design_names_are_exported() -> None:
    """Every name DESIGN.md fixes for pipelineml.core is in __all__."""
    assert set(pipelineml.core.__all__) >= DESIGN_NAMES


def test_namespace_has_no_public_name_outside_all() -> None:
    """Nothing public is reachable on pipelineml.core without being in __all__."""
    assert namespace_exports("pipelineml.core") == set(pipelineml.core.__all__)


def test_public_objects_report_the_package_as_their_module() -> None:
    """Classes and functions of __all__ say pipelineml.core is where they live (their
    public import path: what pickles, tracebacks and the reference name)."""
    objects = {name: getattr(pipelineml.core, name) for name in pipelineml.core.__all__}
    modules = {
        name: obj.__module__
        for name, obj in objects.items()
        if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__"))
    }
    assert modules
    assert set(modules.values()) == {"pipelineml.core"}, modules
