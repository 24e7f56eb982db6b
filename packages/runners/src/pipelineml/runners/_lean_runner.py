"""The shared machinery of ``SequentialRunner`` and ``ThreadRunner``: a plan's steps run in
this process, with data the catalog does not declare kept in a dict instead of datasets."""

from __future__ import annotations

import logging
import threading
import weakref
from abc import abstractmethod
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

from kedro.pipeline import Pipeline

from pipelineml.core._kedro import suggest_resume
from pipelineml.runners._base_runner import BaseRunner, CatalogRun
from pipelineml.runners._node_hooks import Hooks
from pipelineml.runners._plan import Plan, require_inputs
from pipelineml.runners._runtime_dataset import RuntimeMemoryDataset
from pipelineml.runners._steps import Execution, node_logger, run_plan_in_memory
from pipelineml.runners._store import Store, copiers_for

if TYPE_CHECKING:
    from pipelineml.runners._typing import Catalog
    from pipelineml.runners.copy_policy import CopyPolicy


class _CatalogBinding:
    """Which datasets of a plan go through a given catalog (the rest stay in memory)."""

    __slots__ = ("catalog_ref", "catalog_size", "sinks", "via_catalog")

    def __init__(
        self,
        catalog: Catalog,
        via_catalog: frozenset[str],
        sinks: dict[str, RuntimeMemoryDataset],
    ) -> None:
        self.catalog_ref: weakref.ref[Catalog] = weakref.ref(catalog)
        self.catalog_size = len(catalog)  # type: ignore[arg-type]  # Kedro's catalogs have len
        self.via_catalog = via_catalog
        self.sinks = sinks

    def matches(self, catalog: Catalog) -> bool:
        # A catalog only gains datasets (never patterns) after it is built, so identity
        # plus size tells whether what was resolved is still right; the free-output
        # datasets this runner registered must still be the ones in the catalog.
        size: int = len(catalog)  # type: ignore[arg-type]
        if self.catalog_ref() is not catalog or self.catalog_size != size:
            return False
        return all(catalog.get(name) is sink for name, sink in self.sinks.items())


class LeanRunner(BaseRunner):
    """A runner that executes a plan in this process, on an optional thread pool.

    Subclasses choose how the steps run (``_run_steps``) and how big their pool is.
    """

    _transient: ClassVar[tuple[str, ...]] = (*BaseRunner._transient, "_pool", "_pool_lock")
    # The thread pool's name prefix (thread names show up in profilers and tracebacks).
    _pool_prefix: ClassVar[str] = "pipelineml"

    def _reset(self) -> None:
        super()._reset()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _pool_size(self) -> int | None:
        """Threads in the pool (``None``: ThreadPoolExecutor's default)."""
        return None

    def _thread_pool(self) -> ThreadPoolExecutor:
        """The runner's thread pool, created on first use and kept until ``close()``."""
        pool = self._pool
        if pool is None:
            with self._pool_lock:
                pool = self._pool
                if pool is None:
                    pool = self._pool = ThreadPoolExecutor(
                        max_workers=self._pool_size(), thread_name_prefix=self._pool_prefix
                    )
        return pool

    def close(self) -> None:
        """Shut the runner's thread pool down, waiting for its threads (a later run starts
        a new one)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(is_async={self._async}, copy_policy={self._copy_policy!r})"

    # ------------------------------------------------------------------ running
    def _bind(self, plan: Plan, catalog: Catalog) -> _CatalogBinding:
        binding = plan.memo.get("binding")
        if isinstance(binding, _CatalogBinding) and binding.matches(catalog):
            return binding
        require_inputs(plan, catalog, type(catalog).__name__)
        via: set[str] = set()
        sinks: dict[str, RuntimeMemoryDataset] = {}
        for name in plan.datasets:
            if name in catalog:
                # Materialise lazy and pattern datasets now, not from several threads later.
                catalog.get(name)
                via.add(name)
            elif name in plan.output_set:
                # Free outputs are returned as catalog datasets, as Kedro's runners do.
                sink = RuntimeMemoryDataset.empty(self._copy_policy.mode_for(name))
                catalog[name] = sink
                sinks[name] = sink
                via.add(name)
        binding = _CatalogBinding(catalog, frozenset(via), sinks)
        plan.memo["binding"] = binding
        return binding

    def _validate(self, plan: Plan, catalog: Catalog) -> None:
        # Binding checks the inputs, and is remembered for the run that follows.
        self._bind(plan, catalog)

    def _run_plan(self, plan: Plan, run: CatalogRun) -> None:
        catalog = run.catalog
        binding = self._bind(plan, catalog)
        # Node.run's "Running node" INFO line costs its formatting even when nobody
        # listens; skip Node.run when that logger would drop the line anyway.
        quiet = not node_logger.isEnabledFor(logging.INFO)
        store = Store(
            catalog,
            binding.via_catalog,
            copiers_for(plan, self._copy_policy),
            quiet=quiet,
            sinks=binding.sinks,
        )
        hooks = Hooks.of(run.hook_manager, catalog, run.run_id)
        execution = Execution(store, hooks, progress=run.progress)
        try:
            self._run_steps(plan, execution)
        except Exception:
            suggest_resume(self, Pipeline(plan.nodes), execution.done, catalog)
            raise

    def _run_in_memory(
        self, plan: Plan, data: Mapping[str, Any], policy: CopyPolicy
    ) -> dict[str, Any]:
        return run_plan_in_memory(plan, data, policy, self._run_steps)

    @abstractmethod
    def _run_steps(self, plan: Plan, run: Execution) -> None:
        """Run every step of ``plan``, appending each finished node to ``run.done``."""
