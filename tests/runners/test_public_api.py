"""pipelineml.runners exports exactly what DESIGN.md and docs/reference/runners.md document."""

from __future__ import annotations

import pipelineml.runners
from tests._support.public_api import documented_exports, namespace_exports

# The names DESIGN.md fixes for this package ("Public API" table, and run_in_memory below it).
DESIGN_NAMES = {
    "CopyPolicy",
    "DaskRunner",
    "SequentialRunner",
    "ThreadRunner",
    "resolve_runner",
    "run_in_memory",
}


def test_all_is_the_documented_surface_in_alphabetical_order() -> None:
    """__all__ lists, sorted, exactly the names docs/reference/runners.md documents."""
    assert pipelineml.runners.__all__ == sorted(documented_exports("pipelineml.runners"))


def test_design_names_are_exported() -> None:
    """Every name DESIGN.md fixes for pipelineml.runners is in __all__."""
    assert set(pipelineml.runners.__all__) >= DESIGN_NAMES


def test_namespace_has_no_public_name_outside_all() -> None:
    """Nothing public is reachable on pipelineml.runners without being in __all__."""
    assert namespace_exports("pipelineml.runners") == set(pipelineml.runners.__all__)


def test_public_objects_report_the_package_as_their_module() -> None:
    """Classes and functions of __all__ say pipelineml.runners is where they live (their
    public import path: what pickles, tracebacks and the reference name)."""
    objects = {name: getattr(pipelineml.runners, name) for name in pipelineml.runners.__all__}
    modules = {
        name: obj.__module__
        for name, obj in objects.items()
        if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__"))
    }
    assert modules
    assert set(modules.values()) == {"pipelineml.runners"}, modules
