"""The shared machinery of ``SequentialRunner`` and ``ThreadRunner``."""

from __future__ import annotations

import logging
import weakref
from abc import abstractmethod
from collections.abc import Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

from kedro.pipeline import Pipeline
from kedro.runner import AbstractRunner

from pipelineml.runners._engine import (
    Hooks,
    Store,
    copiers_for,
    node_logger,
    run_plan_in_memory,
)
from pipelineml.runners._memory import RuntimeMemoryDataset
from pipelineml.runners._plan import Plan, PlanCache, require_inputs
from pipelineml.runners._progress import Progress, session_progress
from pipelineml.runners.copy_policy import CopyPolicy

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from kedro.pipeline.node import Node

logger = logging.getLogger("pipelineml.runners")


class _Routing:
    """Which datasets of a plan go through a given catalog (the rest stay in memory)."""

    __slots__ = ("catalog_ref", "catalog_size", "sinks", "via_catalog")

    def __init__(
        self,
        catalog: Any,
        via_catalog: frozenset[str],
        sinks: dict[str, RuntimeMemoryDataset],
    ) -> None:
        self.catalog_ref: weakref.ref[Any] = weakref.ref(catalog)
        self.catalog_size = len(catalog)
        self.via_catalog = via_catalog
        self.sinks = sinks

    def matches(self, catalog: Any) -> bool:
        # A catalog only gains datasets (never patterns) after it is built, so identity
        # plus size tells whether what was resolved is still right; the free-output
        # datasets this runner registered must still be the ones in the catalog.
        size: int = len(catalog)
        if self.catalog_ref() is not catalog or self.catalog_size != size:
            return False
        current: Any = catalog
        return all(current.get(name) is sink for name, sink in self.sinks.items())


class LeanRunner(AbstractRunner):
    """A Kedro runner that plans each pipeline once and keeps in-memory data out of the catalog.

    Subclasses choose how steps are executed (``_execute``).
    """

    def __init__(
        self,
        is_async: bool = False,
        *,
        copy_policy: str | Mapping[str, str] | CopyPolicy | None = None,
    ) -> None:
        """Create the runner.

        Args:
            is_async: Load node inputs and save outputs on threads.
            copy_policy: Copy modes for the in-memory datasets the runner creates (a mode,
                a dict of rules or a ``CopyPolicy``); ``None`` keeps Kedro's inference.
        """
        super().__init__(is_async=is_async)
        self._copy_policy = CopyPolicy.from_spec(copy_policy)
        self._init_caches()

    def _init_caches(self) -> None:
        self._plans = PlanCache()

    # A runner travels inside pickled models: caches and pools are rebuilt on first use.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_plans", "_pool"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_caches()

    @property
    def copy_policy(self) -> CopyPolicy:
        """The copy policy applied to the in-memory datasets this runner creates."""
        return self._copy_policy

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(is_async={self._is_async}, copy_policy={self._copy_policy!r})"
        )

    # ------------------------------------------------------------------ planning
    def plan(self, pipeline: Pipeline) -> Plan:
        """The cached plan of ``pipeline`` (computed on first use of this object)."""
        return self._plans(pipeline)

    def _route(self, plan: Plan, catalog: Any) -> _Routing:
        routing = plan.memo.get("routing")
        if isinstance(routing, _Routing) and routing.matches(catalog):
            return routing
        require_inputs(plan, catalog, catalog.__class__.__name__)
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
        routing = _Routing(catalog, frozenset(via), sinks)
        plan.memo["routing"] = routing
        return routing

    # ------------------------------------------------------------------ running
    def run(
        self,
        pipeline: Pipeline,
        catalog: Any,
        hook_manager: Any = None,
        run_id: str | None = None,
        only_missing_outputs: bool = False,
    ) -> dict[str, Any]:
        """Run ``pipeline`` with ``catalog``, as Kedro's runners do.

        Args:
            pipeline: The pipeline to run.
            catalog: The catalog to load inputs from and save outputs to.
            hook_manager: Kedro's hook manager; ``None`` makes no hook calls at all.
            run_id: The run id passed to node hooks.
            only_missing_outputs: Run only nodes whose persisted outputs are missing.

        Returns:
            ``{name: dataset}`` for every free output of the pipeline.

        Raises:
            ValueError: When a pipeline input is not in the catalog.
            Exception: The exception of a node that failed.
        """
        if only_missing_outputs:
            pipeline = self._filter_pipeline_for_missing_outputs(pipeline, catalog)
        plan = self.plan(pipeline)
        routing = self._route(plan, catalog)
        # Node.run's "Running node" INFO line costs its formatting even when nobody
        # listens; skip Node.run when that logger would drop the line anyway.
        quiet = not node_logger.isEnabledFor(logging.INFO)
        store = Store(
            catalog,
            routing.via_catalog,
            copiers_for(plan, self._copy_policy),
            quiet=quiet,
            sinks=routing.sinks,
        )
        hooks = Hooks.of(hook_manager, catalog, run_id)
        progress = session_progress(hook_manager, len(plan.steps))
        done: list[Node] = []
        start = perf_counter()
        try:
            self._execute(plan, store, hooks, done, progress)
        except Exception:
            self._suggest_resume_scenario(Pipeline(plan.nodes), done, catalog)
            raise
        if progress is not None:
            progress.finished(perf_counter() - start)
        else:
            logger.debug("Pipeline execution completed in %.4f s", perf_counter() - start)
        return {name: catalog[name] for name in plan.outputs}

    def run_in_memory(
        self,
        pipeline: Pipeline,
        data: Mapping[str, Any],
        *,
        copy_policy: str | Mapping[str, str] | CopyPolicy | None = None,
    ) -> dict[str, Any]:
        """Run ``pipeline`` with every dataset in memory, without a catalog or hooks.

        This is how ``KedroPipelineModel`` scores a request: ``data`` feeds the pipeline's
        free inputs and the free outputs' data come back.

        Args:
            pipeline: The pipeline to run.
            data: ``{name: value}`` for (at least) every free input of the pipeline.
            copy_policy: Overrides the runner's copy policy for this call (a mode, a dict
                of rules or a ``CopyPolicy``).

        Returns:
            ``{name: data}`` for every free output.

        Raises:
            ValueError: When ``data`` lacks a free input of the pipeline.
        """
        policy = self._copy_policy if copy_policy is None else CopyPolicy.from_spec(copy_policy)
        return run_plan_in_memory(self.plan(pipeline), data, policy, self._execute)

    def _run(
        self,
        pipeline: Pipeline,
        catalog: Any,
        hook_manager: Any = None,
        run_id: str | None = None,
    ) -> None:
        """Kedro's hook for subclasses: execute without the input checks of ``run``."""
        plan = self.plan(pipeline)
        routing = self._route(plan, catalog)
        store = Store(
            catalog,
            routing.via_catalog,
            copiers_for(plan, self._copy_policy),
            sinks=routing.sinks,
        )
        self._execute(plan, store, Hooks.of(hook_manager, catalog, run_id), [])

    @abstractmethod
    def _execute(
        self,
        plan: Plan,
        store: Store,
        hooks: Hooks | None,
        done: list[Node],
        progress: Progress | None = None,
    ) -> None:
        """Run every step of ``plan``, appending each finished node to ``done``.

        ``progress``, given for runs with hooks, is told of each finished node.
        """

    def _get_executor(self, max_workers: int) -> Executor | None:
        return None
