"""Where one run's data lives: the catalog for registered datasets, a dict for the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kedro.io.core import DatasetError

from pipelineml.runners._copying import COPIERS, copy_inferred

if TYPE_CHECKING:
    from pipelineml.runners._plan import Plan
    from pipelineml.runners._runtime_dataset import RuntimeMemoryDataset
    from pipelineml.runners._typing import Catalog
    from pipelineml.runners.copy_policy import CopyPolicy

Copier = Callable[[Any], Any]


def copiers_for(plan: Plan, policy: CopyPolicy) -> dict[str, Copier]:
    """The copy function of every dataset of ``plan`` under ``policy`` (memoised on the plan)."""
    key = ("copiers", policy)
    cached = plan.memo.get(key)
    if isinstance(cached, dict):
        return cached
    copiers: dict[str, Copier] = {}
    for name in plan.datasets:
        mode = policy.mode_for(name)
        copiers[name] = copy_inferred if mode is None else COPIERS[mode]
    plan.memo[key] = copiers
    return copiers


class Store:
    """Where one run's data lives.

    Datasets registered in the catalog are loaded and saved through it; every other
    dataset (Kedro would create a MemoryDataset for it) lives in a plain dict, copied on
    save and load with the mode its copy policy (or Kedro's inference) gives.
    """

    __slots__ = ("catalog", "copiers", "data", "log_errors", "quiet", "sinks", "via_catalog")

    def __init__(
        self,
        catalog: Catalog | None,
        via_catalog: frozenset[str],
        copiers: dict[str, Copier],
        data: dict[str, Any] | None = None,
        quiet: bool = False,
        log_errors: bool = True,
        sinks: dict[str, RuntimeMemoryDataset] | None = None,
    ) -> None:
        # None only for runs with no catalog, whose via_catalog is empty.
        self.catalog: Any = catalog
        self.via_catalog = via_catalog
        self.copiers = copiers
        self.data: dict[str, Any] = {} if data is None else data
        # Quiet runs call node functions directly, without Node.run's INFO logging
        # ("Running node: ..."), logging only failures (log_errors), as Node.run does.
        self.quiet = quiet
        self.log_errors = log_errors
        # Free outputs the runner registered in the catalog: written directly.
        self.sinks = sinks or {}

    def load(self, name: str) -> Any:
        if name in self.via_catalog:
            return self.catalog.load(name)
        try:
            value = self.data[name]
        except KeyError:
            raise DatasetError(f"{name}: Data for MemoryDataset has not been saved yet.") from None
        return self.copiers.get(name, copy_inferred)(value)

    def save(self, name: str, data: Any) -> None:
        sink = self.sinks.get(name)
        if sink is not None:
            sink.put(data)
        elif name in self.via_catalog:
            self.catalog.save(name, data)
        else:
            self.data[name] = self.copiers.get(name, copy_inferred)(data)

    def release(self, name: str) -> None:
        if name in self.via_catalog:
            self.catalog.release(name)
        else:
            self.data.pop(name, None)

    def confirm(self, name: str) -> None:
        if self.catalog is not None:
            self.catalog.confirm(name)
