"""What every pipelineml runner shares: one plan per pipeline, a copy policy, one lifecycle.

The lifecycle has the shape of httpx's ``BaseTransport``: a runner opens what it needs
(a thread pool, a Dask client) on first use and keeps it for later runs; ``close()``
releases it, and a later run opens it again; ``with runner:`` closes on leaving. A runner
travels inside pickled models, so pickling keeps its settings only: the attributes named
in ``_transient`` are dropped and ``_reset()`` rebuilds them empty.

``run`` validates and ``_run`` executes, as in Kedro's ``AbstractRunner``; subclasses
implement ``_run_plan`` (a run with a catalog) and ``_run_in_memory`` (a run on data).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, ClassVar, Self

from kedro.runner import AbstractRunner

from pipelineml.core._kedro import filter_missing_outputs
from pipelineml.runners._plan import Plan, PlanCache, require_inputs
from pipelineml.runners._progress import Progress, session_progress
from pipelineml.runners.copy_policy import CopyPolicy

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from kedro.pipeline import Pipeline
    from pluggy import PluginManager

    from pipelineml.runners._typing import Catalog

logger = logging.getLogger("pipelineml.runners")

CopyPolicySpec = str | Mapping[str, str] | CopyPolicy | None


@dataclass(frozen=True, slots=True)
class CatalogRun:
    """What one ``run`` with a catalog was given, and who is told of its progress."""

    catalog: Catalog
    hook_manager: PluginManager | None
    run_id: str | None
    # Given for runs with hooks (a session's run): told of each finished node.
    progress: Progress | None


class BaseRunner(AbstractRunner):
    """A Kedro runner that plans each pipeline once and has a ``close()``."""

    # What ``_reset`` builds: never pickled, rebuilt empty after unpickling.
    _transient: ClassVar[tuple[str, ...]] = ("_plans",)

    def __init__(self, is_async: bool = False, *, copy_policy: CopyPolicySpec = None) -> None:
        """Create the runner; nothing is opened until the first run.

        Args:
            is_async: Load node inputs and save outputs on threads.
            copy_policy: Copy modes for the in-memory datasets the runner creates (a mode,
                a dict of rules or a ``CopyPolicy``); ``None`` keeps Kedro's inference.
        """
        super().__init__(is_async=is_async)
        self._async = is_async
        self._copy_policy = CopyPolicy.from_spec(copy_policy)
        self._reset()

    def _reset(self) -> None:
        """Set every attribute in ``_transient`` to its unopened state."""
        self._plans = PlanCache()

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release what this runner opened; a later run opens it again. Idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __str__(self) -> str:
        # What KedroSession records as the run's runner (str(runner)): the dotted path a
        # user passes to `kedro run --runner=...`; repr() keeps the settings.
        return f"{type(self).__module__}.{type(self).__qualname__}"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in self._transient:
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    # ------------------------------------------------------------------ settings
    @property
    def copy_policy(self) -> CopyPolicy:
        """The copy policy applied to the in-memory datasets this runner creates."""
        return self._copy_policy

    def settings(self) -> dict[str, Any]:
        """The runner's constructor arguments as plain data (lists, dicts, strings,
        numbers): ``type(runner)(**runner.settings())`` is an equal runner. This is how a
        model stores its runner without pickling it."""
        policy = self._copy_policy
        return {
            "is_async": self._async,
            "copy_policy": None
            if policy.is_empty
            else {"modes": dict(policy.rules) or None, "default": policy.default},
        }

    @staticmethod
    def policy_from_settings(data: Mapping[str, Any] | None) -> CopyPolicy:
        """The ``CopyPolicy`` of ``settings()["copy_policy"]``."""
        if not data:
            return CopyPolicy()
        return CopyPolicy(data.get("modes"), default=data.get("default"))

    def plan(self, pipeline: Pipeline) -> Plan:
        """The cached plan of ``pipeline`` (computed on first use of this object)."""
        return self._plans(pipeline)

    # ------------------------------------------------------------------ running
    def run(
        self,
        pipeline: Pipeline,
        catalog: Catalog,
        hook_manager: PluginManager | None = None,
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
            pipeline = filter_missing_outputs(self, pipeline, catalog)
        plan = self.plan(pipeline)
        self._validate(plan, catalog)
        self._run(pipeline, catalog, hook_manager, run_id)
        return {name: catalog[name] for name in plan.outputs}

    def _validate(self, plan: Plan, catalog: Catalog) -> None:
        """Refuse a run whose pipeline inputs are not in ``catalog``."""
        require_inputs(plan, catalog, type(catalog).__name__)

    def _run(
        self,
        pipeline: Pipeline,
        catalog: Catalog,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
    ) -> None:
        """Execute ``pipeline`` (Kedro's ``AbstractRunner`` contract; ``run`` validated)."""
        plan = self.plan(pipeline)
        progress = session_progress(hook_manager, len(plan.steps))
        start = perf_counter()
        self._run_plan(plan, CatalogRun(catalog, hook_manager, run_id, progress))
        if progress is not None:
            progress.finished(perf_counter() - start)
        else:
            logger.debug("Pipeline execution completed in %.4f s", perf_counter() - start)

    @abstractmethod
    def _run_plan(self, plan: Plan, run: CatalogRun) -> None:
        """Run every node of ``plan``, saving what it produces through ``run.catalog``."""

    def run_in_memory(
        self,
        pipeline: Pipeline,
        data: Mapping[str, Any],
        *,
        copy_policy: CopyPolicySpec = None,
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
        return self._run_in_memory(self.plan(pipeline), data, policy)

    @abstractmethod
    def _run_in_memory(
        self, plan: Plan, data: Mapping[str, Any], policy: CopyPolicy
    ) -> dict[str, Any]:
        """Run ``plan`` on ``data`` under ``policy``; return its free outputs' data."""

    def _get_executor(self, max_workers: int) -> Executor | None:
        # Kedro's AbstractRunner asks for one; pipelineml's runners schedule themselves.
        return None
