"""``DaskRunner``: every node a task on a dask.distributed cluster.

``distributed`` and ``cloudpickle`` (the ``[dask]`` extra) are imported on first use, so
this module imports, and the class can be named and pickled, without them.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import threading
import uuid
from collections.abc import Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

from kedro.pipeline import Pipeline
from kedro.runner import AbstractRunner

from pipelineml.runners._dask_tasks import (
    NODE_HOOKS,
    HookSpec,
    Literal,
    NodeTask,
    execute,
    pick,
    unwrap,
)
from pipelineml.runners._engine import copiers_for
from pipelineml.runners._memory import RuntimeMemoryDataset
from pipelineml.runners._plan import Plan, PlanCache, require_inputs
from pipelineml.runners._progress import Progress, session_progress
from pipelineml.runners.copy_policy import CopyPolicy
from pipelineml.runners.errors import ClusterConnectionError

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from distributed import Client, Future

__all__ = ["DaskRunner"]

logger = logging.getLogger("pipelineml.runners.dask")

# Free in-memory inputs up to this pickled size travel inside the task graph.
INLINE_LIMIT = 1 << 20

_DEFAULT_CLUSTER = {
    "processes": True,
    "threads_per_worker": 1,
    "host": "127.0.0.1",
    # The scheduler always serves HTTP (health, metrics); keep it on loopback.
    "dashboard_address": "127.0.0.1:0",
}


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - exercised in the isolation session
        raise ImportError(
            "DaskRunner needs dask.distributed: pip install 'pipelineml-runners[dask]'"
        ) from exc
    return distributed


def _shutdown(client: Any, cluster: Any) -> None:
    # Runs from close(), from __exit__ or at interpreter exit; never raises. A cluster
    # closing logs a page of INFO lines, and tracebacks of the comms it closes on purpose
    # ("Batched Comm Closed"): nothing the user can act on, so distributed's loggers only
    # speak up for errors while it closes.
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(max(level, logging.ERROR))
    try:
        for closable in (client, cluster):
            if closable is None:
                continue
            try:
                closable.close()
            except Exception:
                logger.debug("Error while closing %r", closable, exc_info=True)
    finally:
        quiet.setLevel(level)


# Clients and clusters runners started, closed by close() or at interpreter exit. Closing
# them when a runner is garbage-collected would run on whatever thread triggers the
# collection, Dask's event-loop thread included, where a synchronous close deadlocks.
_opened: dict[int, tuple[Any, Any]] = {}
_opened_lock = threading.Lock()
_opened_ids = itertools.count()


def _close_opened() -> None:
    with _opened_lock:
        pairs = list(_opened.values())
        _opened.clear()
    for client, cluster in pairs:
        _shutdown(client, cluster)


atexit.register(_close_opened)


def _is_persisted(dataset: Any) -> bool:
    # Kedro marks in-memory datasets with _EPHEMERAL (its runners read it the same way).
    return dataset is not None and not getattr(dataset, "_EPHEMERAL", False)


class DaskRunner(AbstractRunner):
    """Runs every node of a pipeline as one task on a dask.distributed cluster.

    Where it runs, in order: ``client``; ``address``; dask's ``scheduler-address`` setting
    (the ``DASK_SCHEDULER_ADDRESS`` environment variable); otherwise a ``LocalCluster`` the
    runner starts on first use, reuses for later runs and closes on ``close()``, on leaving
    ``with DaskRunner() as runner:``, or at interpreter exit.

    The whole run is submitted as one task graph, one task per node. Datasets persisted in
    the catalog are loaded and saved on the workers; every other dataset travels as a task
    result from worker to worker, and only the pipeline's free outputs come back to the
    client. The scheduler frees intermediate results once their readers are done and can
    recompute them if a worker dies. Node and dataset hooks fire on the workers: the
    client's node/dataset hook objects are pickled to them, or, when one cannot be pickled,
    the workers build them from the project's settings (the project must then be
    importable there); pipeline hooks stay with the caller.

    The runner holds connection settings, not a live connection, so it pickles (MLflow
    stores a model's runner that way); a copy connects on first use.

    Example:
        ```python
        if __name__ == "__main__":  # LocalCluster workers re-import the main module
            with DaskRunner(cluster_kwargs={"n_workers": 2}) as runner:
                runner.run(pipeline, catalog)
        ```
        or ``DASK_SCHEDULER_ADDRESS=tcp://127.0.0.1:8786 kedro run
        --runner=pipelineml.runners.DaskRunner``.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        client: Client | None = None,
        cluster_kwargs: Mapping[str, Any] | None = None,
        retries: int = 0,
        timeout: float = 10.0,
        copy_policy: str | Mapping[str, str] | CopyPolicy | None = None,
        is_async: bool = False,
    ) -> None:
        """Create the runner; nothing connects until the first run.

        Args:
            address: A scheduler address such as ``tcp://127.0.0.1:8786``.
            client: An existing ``distributed.Client`` to use (not closed by the runner).
            cluster_kwargs: Arguments for the ``LocalCluster`` started when no scheduler is
                configured (defaults: one single-threaded worker process per CPU on
                127.0.0.1, HTTP endpoints on a random loopback port).
            retries: How many times a task that raised is re-run. Tasks lost with a dying
                worker are rescheduled by Dask (``distributed.scheduler.allowed-failures``).
            timeout: Seconds to wait for a scheduler before failing.
            copy_policy: Copy modes applied when a node reads in-memory data.
            is_async: Accepted for ``kedro run --async``; loads and saves already happen on
                the workers, concurrently across nodes.

        Raises:
            ValueError: For a negative ``retries`` or a non-positive ``timeout``.
        """
        super().__init__(is_async=is_async)
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, got {retries}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self._address = address
        self._cluster_kwargs = dict(cluster_kwargs or {})
        self._retries = retries
        self._timeout = timeout
        self._copy_policy = CopyPolicy.from_spec(copy_policy)
        self._client: Client | None = client
        self._owns_client = False
        self._cluster: Any = None
        self._opened_id: int | None = None
        self._plans = PlanCache()

    # -------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        address = self._address
        if address is None and self._client is not None and not self._owns_client:
            # A copy of a runner given a client reconnects to the same scheduler.
            address = self._client.scheduler.address
        return {
            "address": address,
            "cluster_kwargs": self._cluster_kwargs,
            "retries": self._retries,
            "timeout": self._timeout,
            "copy_policy": self._copy_policy,
            "is_async": self._is_async,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["address"],
            cluster_kwargs=state["cluster_kwargs"],
            retries=state["retries"],
            timeout=state["timeout"],
            copy_policy=state["copy_policy"],
            is_async=state["is_async"],
        )

    def __repr__(self) -> str:
        where = self._address or ("client" if self._client is not None else "LocalCluster")
        return f"DaskRunner({where!r}, retries={self._retries})"

    # -------------------------------------------------------------- connection
    @property
    def connected(self) -> bool:
        """Whether the runner holds a live client."""
        return self._client is not None

    def _target_address(self) -> str | None:
        if self._address:
            return self._address
        import dask

        configured = dask.config.get("scheduler-address", None) or os.environ.get(
            "DASK_SCHEDULER_ADDRESS"
        )
        return str(configured) if configured else None

    @property
    def client(self) -> Client:
        """The ``distributed.Client`` in use, connecting (or starting a cluster) if needed.

        Raises:
            ClusterConnectionError: When the scheduler cannot be reached in ``timeout``.
        """
        if self._client is not None:
            return self._client
        distributed = _import_distributed()
        address = self._target_address()
        if address:
            try:
                client = distributed.Client(
                    address, timeout=f"{self._timeout}s", set_as_default=False
                )
            except (OSError, TimeoutError) as exc:
                raise ClusterConnectionError(
                    f"DaskRunner could not reach the Dask scheduler at {address!r} within "
                    f"{self._timeout:g} s ({exc}). Start it with `dask scheduler`, or fix the "
                    "address / DASK_SCHEDULER_ADDRESS."
                ) from exc
            cluster = None
        else:
            kwargs = {**_DEFAULT_CLUSTER, **self._cluster_kwargs}
            kwargs.setdefault("n_workers", os.cpu_count() or 1)
            cluster = distributed.LocalCluster(**kwargs)
            client = distributed.Client(cluster, set_as_default=False)
        self._client, self._cluster, self._owns_client = client, cluster, True
        with _opened_lock:
            self._opened_id = next(_opened_ids)
            _opened[self._opened_id] = (client, cluster)
        return client

    def close(self) -> None:
        """Close the client and the LocalCluster this runner started (not a given client)."""
        if self._opened_id is not None:
            with _opened_lock:
                pair = _opened.pop(self._opened_id, None)
            self._opened_id = None
            if pair is not None:
                _shutdown(*pair)
        if self._owns_client:
            self._client = None
            self._cluster = None
            self._owns_client = False

    def __enter__(self) -> DaskRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -------------------------------------------------------------- running
    def plan(self, pipeline: Pipeline) -> Plan:
        """The cached plan of ``pipeline``."""
        return self._plans(pipeline)

    def _get_executor(self, max_workers: int) -> Executor | None:
        return None

    def _run(
        self,
        pipeline: Pipeline,
        catalog: Any,
        hook_manager: Any = None,
        run_id: str | None = None,
    ) -> None:
        self.run(pipeline, catalog, hook_manager, run_id)

    def run(
        self,
        pipeline: Pipeline,
        catalog: Any,
        hook_manager: Any = None,
        run_id: str | None = None,
        only_missing_outputs: bool = False,
    ) -> dict[str, Any]:
        """Run ``pipeline`` on the cluster with ``catalog``, as Kedro's runners do.

        Returns:
            ``{name: dataset}`` for every free output, like Kedro's runners.

        Raises:
            ValueError: When a pipeline input is not in the catalog.
            ClusterConnectionError: When the scheduler cannot be reached.
            Exception: The exception of the node that failed (with a note naming it).
        """
        if only_missing_outputs:
            pipeline = self._filter_pipeline_for_missing_outputs(pipeline, catalog)
        plan = self.plan(pipeline)
        require_inputs(plan, catalog, catalog.__class__.__name__)
        progress = session_progress(hook_manager, len(plan.steps))
        start = perf_counter()
        self._ship_project(progress)
        persisted: dict[str, Any] = {}
        for name in plan.datasets:
            if name in catalog:
                dataset = catalog.get(name)
                if _is_persisted(dataset):
                    persisted[name] = dataset
        sources = {name: catalog.load(name) for name in plan.inputs if name not in persisted}
        outputs = self._submit_and_wait(
            plan, persisted, sources, hook_manager, run_id, progress=progress
        )
        for name, data in outputs.items():
            if name not in catalog:
                catalog[name] = RuntimeMemoryDataset.empty(self._copy_policy.mode_for(name))
            catalog.save(name, data)
        if progress is not None:
            progress.finished(perf_counter() - start)
        return {name: catalog[name] for name in plan.outputs}

    def run_in_memory(
        self,
        pipeline: Pipeline,
        data: Mapping[str, Any],
        *,
        copy_policy: str | Mapping[str, str] | CopyPolicy | None = None,
    ) -> dict[str, Any]:
        """Run ``pipeline`` on the cluster with in-memory inputs; return the free outputs.

        Raises:
            ValueError: When ``data`` lacks a free input of the pipeline.
        """
        plan = self.plan(pipeline)
        require_inputs(plan, data, "data passed to run_in_memory")
        sources = {name: data[name] for name in plan.inputs}
        policy = None if copy_policy is None else CopyPolicy.from_spec(copy_policy)
        return self._submit_and_wait(plan, {}, sources, None, None, policy)

    def _ship_project(self, progress: Progress | None) -> None:
        # Workers of a LocalCluster this runner started share this environment; any other
        # cluster may not have the Kedro project installed.
        client = self.client
        if self._cluster is not None:
            return
        from kedro.framework import project

        from pipelineml.runners._dask_upload import ship_project_package

        ship_project_package(client, getattr(project, "PACKAGE_NAME", None), progress)

    def _hook_spec(self, hook_manager: Any) -> HookSpec | None:
        if hook_manager is None or not hasattr(hook_manager, "get_plugins"):
            return None
        import cloudpickle
        from kedro.framework import project

        package: str | None = getattr(project, "PACKAGE_NAME", None)

        plugins = [
            plugin
            for plugin in hook_manager.get_plugins()
            if any(
                caller.name in NODE_HOOKS for caller in hook_manager.get_hookcallers(plugin) or []
            )
        ]
        if not plugins:
            return None
        try:
            return HookSpec(package_name=package, plugins=cloudpickle.dumps(plugins))
        except Exception as exc:
            if package:
                logger.debug(
                    "Hooks cannot be pickled (%s): workers use the project's settings", exc
                )
                return HookSpec(package_name=package, plugins=None)
            logger.warning(
                "Node and dataset hooks %r cannot be pickled (%s) and no Kedro project is "
                "configured, so they will not run on the Dask workers.",
                plugins,
                exc,
            )
            return None

    def _submit_and_wait(
        self,
        plan: Plan,
        persisted: dict[str, Any],
        sources: dict[str, Any],
        hook_manager: Any,
        run_id: str | None,
        copy_policy: CopyPolicy | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        import cloudpickle

        distributed = _import_distributed()
        client = self.client
        policy = self._copy_policy if copy_policy is None else copy_policy
        copiers = copiers_for(plan, policy)
        hooks = self._hook_spec(hook_manager)
        token = uuid.uuid4().hex[:12]
        keys = [f"pipelineml-{step.node.name}-{token}" for step in plan.steps]
        graph: dict[str, Any] = {}
        # Free in-memory inputs: small ones go into the graph itself, where the scheduler
        # can recompute them after a worker is lost; large ones are scattered to every
        # worker (scattered data cannot be recomputed, so one copy would die with its
        # worker). Scattering a list, not a dict, gives keys no other run shares.
        refs: dict[str, Any] = {}
        large: list[str] = []
        for name, value in sources.items():
            if len(cloudpickle.dumps(value)) <= INLINE_LIMIT:
                refs[name] = f"pipelineml-input-{name}-{token}"
                graph[refs[name]] = (unwrap, Literal(value))
            else:
                large.append(name)
        scattered: list[Future] = []
        if large:
            scattered = client.scatter([sources[n] for n in large], hash=False, broadcast=True)
            refs.update(zip(large, scattered, strict=True))

        # One graph for the whole run: only the leaves and the selected free outputs are
        # wanted, so the scheduler frees every other result as soon as its readers are done,
        # and still knows how to recompute it if a worker dies.
        producers: dict[str, int] = {}
        for step in plan.steps:
            task = NodeTask(
                step=step,
                persisted={
                    n: persisted[n] for n in (*step.inputs, *step.outputs) if n in persisted
                },
                copiers={n: copiers[n] for n in step.inputs if n not in persisted},
                hooks=hooks,
                run_id=run_id,
                source_names=tuple(n for n in dict.fromkeys(step.inputs) if n in refs),
            )
            graph[keys[step.index]] = (
                execute,
                cloudpickle.dumps(task),
                *(refs[n] for n in task.source_names),
                *(keys[parent] for parent in plan.parents[step.index]),
            )
            for name in step.outputs:
                producers[name] = step.index
        selections = {
            name: f"pipelineml-output-{name}-{token}"
            for name in plan.outputs
            if name not in persisted
        }
        for name, key in selections.items():
            graph[key] = (pick, keys[producers[name]], name)
        leaves = [keys[s.index] for s in plan.steps if not plan.children[s.index]]
        kept = [*leaves, *selections.values()]
        # To report each node as it finishes, every node's key is wanted too; those futures
        # live only inside as_completed, which drops each once it is yielded, so the
        # scheduler still frees intermediate results as soon as their readers are done.
        names = {keys[s.index]: s.node.name for s in plan.steps} if progress else {}
        extra = [key for key in names if key not in kept]
        got = client.get(graph, [*kept, *extra], sync=False, retries=self._retries)
        futures = dict(zip(kept, got[: len(kept)], strict=True))
        completed = distributed.as_completed(got, loop=client.loop)
        del got
        try:
            for future in completed:
                if future.status == "error":
                    future.result()  # raises the node's exception with its traceback
                if progress is not None and future.key in names:
                    progress.node_done(names[future.key])
            values = client.gather([futures[key] for key in selections.values()])
            return dict(zip(selections, values, strict=True))
        except BaseException:
            # Cancelling what the run wants releases, on the scheduler, everything that was
            # only computed for it.
            completed.clear()
            client.cancel(list(futures.values()), force=True)
            raise
        finally:
            futures.clear()
            scattered.clear()
