"""Facts about installed distributions that a model's requirements are made of."""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
from collections.abc import Iterable
from typing import Any

# pipelineml's own distributions: never a requirement, their code travels in the model.
PIPELINEML_DISTRIBUTIONS = frozenset({"pipelineml-core", "pipelineml-runners", "pipelineml-hooks"})
# Distributions the model needs whatever the capture saw: KedroPipelineModel imports kedro,
# and MLflow unpickles the model with cloudpickle.
ALWAYS_PINNED = ("kedro", "cloudpickle")
DASK_PINNED = ("distributed",)
# Never pinned: setuptools is everywhere (MLflow drops it too), mlflow is pinned by MLflow.
NEVER_PINNED = frozenset({"setuptools", "mlflow", "mlflow-skinny", "mlflow-tracing"})


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Scikit_Learn`` -> ``scikit-learn``)."""
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


def direct_source(distribution: str) -> str | None:
    """Where a distribution was installed from when no index was involved (PEP 610)."""
    try:
        text = importlib.metadata.distribution(distribution).read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return "an unreadable direct_url.json"
    url = str(record.get("url", "?"))
    if "vcs_info" in record:
        return f"{record['vcs_info'].get('vcs', 'vcs')}+{url}"
    if record.get("dir_info", {}).get("editable"):
        return f"{url} (editable)"
    return url


def package_folder(module: str) -> str | None:
    with contextlib.suppress(Exception):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations:
            return str(next(iter(spec.submodule_search_locations)))
        if spec is not None and spec.origin:
            return spec.origin
    return None


def distributions_of(modules: Iterable[str]) -> set[str]:
    wanted = set(modules)
    if not wanted:
        return set()
    mapping = importlib.metadata.packages_distributions()
    return {normalise(dist) for module in wanted for dist in mapping.get(module, [])}


def _requirements(distribution: str) -> list[Any]:
    """The parsed ``Requires-Dist`` of an installed distribution (none if not installed)."""
    from packaging.requirements import Requirement

    try:
        lines = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    return [Requirement(line) for line in lines]


def _declared_requirements(distribution: str) -> list[tuple[str, str | None]]:
    """(name, extra) of a distribution's requirements, ``extra`` set for optional ones."""
    declared = []
    for requirement in _requirements(distribution):
        marker = str(requirement.marker or "")
        extra = (
            marker.split("extra ==", 1)[1].strip().strip("'\"") if "extra ==" in marker else None
        )
        declared.append((normalise(requirement.name), extra))
    return declared


def pipelineml_dependencies(dask: bool) -> set[str]:
    """What pipelineml's packages need at load and predict time (not each other, not mlflow)."""
    needed = set(ALWAYS_PINNED)
    if dask:
        needed.update(DASK_PINNED)
    for distribution in PIPELINEML_DISTRIBUTIONS:
        for name, extra in _declared_requirements(distribution):
            if extra is None or (dask and extra == "dask"):
                needed.add(name)
    return needed - PIPELINEML_DISTRIBUTIONS - NEVER_PINNED


def installed_dependencies(distribution: str) -> list[tuple[str, str]]:
    """(name, marker) of what ``distribution`` requires and is installed here.

    Optional requirements (extras) are left out; a requirement under an environment marker
    is followed only where the marker holds here, and keeps the marker in the pin, so a
    model trained on one platform still installs on another.
    """
    found = []
    for requirement in _requirements(distribution):
        marker = requirement.marker
        if marker is not None and not marker.evaluate({"extra": ""}):
            continue
        name = normalise(requirement.name)
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append((name, str(marker) if marker is not None else ""))
    return found


def pin(distribution: str) -> str | None:
    """``name==version`` as installed here, without a local version label (``+cpu``),
    which no index has (MLflow writes its own pins the same way)."""
    from packaging.version import InvalidVersion, Version

    try:
        installed = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    try:
        public = Version(installed).public
    except InvalidVersion:
        public = installed
    return f"{distribution}=={public}"
