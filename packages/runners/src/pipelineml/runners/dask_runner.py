"""``DaskRunner``: a pipeline as tasks on a dask.distributed cluster, each linear chain of
in-memory nodes fused into one task.

``distributed`` and ``cloudpickle`` (the ``[dask]`` extra) are imported on first use, so
this module imports, and the class can be named and pickled, without them. Connecting is
``_dask.connection``, the task graph ``_dask.graph``, which nodes share a task
``_dask.fusion``, what runs on a worker ``_dask.tasks`` and how hooks get there
``_dask.hooks``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pipelineml.core._kedro import is_ephemeral, package_name
from pipelineml.runners._base_runner import BaseRunner
from pipelineml.runners._dask.connection import connect, opened, target_address
from pipelineml.runners._dask.graph import submit_and_wait
from pipelineml.runners._dask.hooks import hook_spec
from pipelineml.runners._plan import Plan, require_inputs
from pipelineml.runners._runtime_dataset import RuntimeMemoryDataset
from pipelineml.runners.errors import ClusterConnectionError

if TYPE_CHECKING:
    from distributed import Client
    from pluggy import PluginManager

    from pipelineml.runners._base_runner import CatalogRun, CopyPolicySpec
    from pipelineml.runners._progress import Progress
    from pipelineml.runners.copy_policy import CopyPolicy

__all__ = ["DaskRunner"]

logger = logging.getLogger("pipelineml.runners.dask")

# Each runner's key in the registry of opened clients (closed at exit at the latest).
_OWNER = "DaskRunner"
_ids = itertools.count()


def _is_persisted(dataset: Any) -> bool:
    return dataset is not None and not is_ephemeral(dataset)


class DaskRunner(BaseRunner):
    """Runs a pipeline as tasks on a dask.distributed cluster: a task per node, or per
    linear chain of in-memory nodes.

    Where it runs, in order: ``client``; ``address``; dask's ``scheduler-address`` setting
    (the ``DASK_SCHEDULER_ADDRESS`` environment variable); otherwise a ``LocalCluster`` the
    runner starts on first use, reuses for later runs and closes on ``close()``, on leaving
    ``with DaskRunner() as runner:``, or at interpreter exit.

    The whole run is submitted as one task graph. Each maximal linear chain of nodes whose
    outputs stay in memory and feed exactly one node is one task, which runs its nodes in
    order on one worker (``fuse=False``: one task per node); branches, joins and persisted
    datasets end a chain, so independent work still runs in parallel. Datasets persisted in
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

    __module__ = "pipelineml.runners"  # its public import path

    def __init__(
        self,
        address: str | None = None,
        *,
        client: Client | None = None,
        cluster_kwargs: Mapping[str, Any] | None = None,
        retries: int = 0,
        timeout: float = 10.0,
        copy_policy: CopyPolicySpec = None,
        is_async: bool = False,
        fuse: bool = True,
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
            fuse: Run each linear chain of in-memory nodes as one task (the default: one
                scheduler round trip per chain instead of per node); ``False`` gives every
                node a task of its own, which is easier to follow on Dask's dashboard.

        Raises:
            ValueError: For a negative ``retries``, a non-positive ``timeout`` or a
                ``fuse`` that is not a bool.
        """
        super().__init__(is_async=is_async, copy_policy=copy_policy)
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, got {retries}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if not isinstance(fuse, bool):
            raise ValueError(f"fuse must be True or False, got {fuse!r}")
        self._address = address
        self._cluster_kwargs = dict(cluster_kwargs or {})
        self._retries = retries
        self._timeout = timeout
        self._fuse = fuse
        if client is not None:
            self._client = client

    # A runner pickled before fusion existed has no ``_fuse`` of its own: it fuses too.
    _fuse: bool = True
    _client: Client | None
    _cluster: Any
    _owns_client: bool
    _opened_id: int | None
    _transient: ClassVar[tuple[str, ...]] = (
        *BaseRunner._transient,
        "_client",
        "_cluster",
        "_owns_client",
        "_opened_id",
    )

    def _reset(self) -> None:
        super()._reset()
        self._client = None
        self._cluster = None
        self._owns_client = False
        self._opened_id = None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        if self._address is None and self._client is not None and not self._owns_client:
            # A copy of a runner given a client reconnects to the same scheduler.
            state["_address"] = self._client.scheduler.address
        return state

    def __repr__(self) -> str:
        where = self._address or ("client" if self._client is not None else "LocalCluster")
        return f"DaskRunner({where!r}, retries={self._retries}, fuse={self._fuse})"

    def settings(self) -> dict[str, Any]:
        """The constructor's arguments as plain data (see ``BaseRunner.settings``); a runner
        given a ``client`` gives its scheduler's address instead."""
        state = self.__getstate__()  # resolves a given client to its address
        return {
            "address": state.get("_address"),
            "cluster_kwargs": dict(self._cluster_kwargs),
            "retries": self._retries,
            "timeout": self._timeout,
            "fuse": self._fuse,
            **super().settings(),
        }

    # -------------------------------------------------------------- connection
    @property
    def connected(self) -> bool:
        """Whether the runner holds a live client."""
        return self._client is not None

    def _target_address(self) -> str | None:
        return target_address(self._address)

    @property
    def client(self) -> Client:
        """The ``distributed.Client`` in use, connecting (or starting a cluster) if needed.

        Raises:
            ClusterConnectionError: When the scheduler cannot be reached in ``timeout``.
        """
        if self._client is not None:
            return self._client
        client, cluster = connect(
            self._target_address(),
            timeout=self._timeout,
            cluster_kwargs=self._cluster_kwargs,
            set_as_default=False,
            who="DaskRunner",
        )
        self._client, self._cluster, self._owns_client = client, cluster, True
        self._opened_id = next(_ids)
        opened.add((_OWNER, self._opened_id), (client, cluster))
        return client

    def close(self) -> None:
        """Close the client and the LocalCluster this runner started (not a given client).

        Quiet and quick whatever the order: also when the scheduler went away first.
        """
        if self._opened_id is not None:
            opened.close((_OWNER, self._opened_id))
            self._opened_id = None
        if self._owns_client:
            self._client = None
            self._cluster = None
            self._owns_client = False

    # -------------------------------------------------------------- running
    def _run_plan(self, plan: Plan, run: CatalogRun) -> None:
        catalog = run.catalog
        self._ship_project(plan, catalog)
        persisted: dict[str, Any] = {}
        for name in plan.datasets:
            if name in catalog:
                dataset = catalog.get(name)
                if _is_persisted(dataset):
                    persisted[name] = dataset
        sources = {name: catalog.load(name) for name in plan.inputs if name not in persisted}
        outputs = self._submit(
            plan, persisted, sources, run.hook_manager, run.run_id, self._copy_policy, run.progress
        )
        for name, data in outputs.items():
            if name in catalog:
                catalog.save(name, data)
            else:
                # Free outputs are returned as catalog datasets, as Kedro's runners do.
                sink = RuntimeMemoryDataset.empty(self._copy_policy.mode_for(name))
                sink.put(data)
                catalog[name] = sink

    def _run_in_memory(
        self, plan: Plan, data: Mapping[str, Any], policy: CopyPolicy
    ) -> dict[str, Any]:
        require_inputs(plan, data, "data passed to run_in_memory")
        sources = {name: data[name] for name in plan.inputs}
        return self._submit(plan, {}, sources, None, None, policy)

    def _submit(
        self,
        plan: Plan,
        persisted: dict[str, Any],
        sources: dict[str, Any],
        hook_manager: PluginManager | None,
        run_id: str | None,
        policy: CopyPolicy,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        try:
            return submit_and_wait(
                self.client,
                plan,
                persisted=persisted,
                sources=sources,
                policy=policy,
                hooks=hook_spec(hook_manager),
                run_id=run_id,
                retries=self._retries,
                progress=progress,
                fused=self._fuse,
            )
        except ClusterConnectionError:
            # The scheduler is gone: close this runner's client now (quietly, in
            # ``connection.shutdown``) rather than let it retry for ``timeout`` and
            # report that; the next run connects afresh. A given client stays the user's.
            self.close()
            raise

    def _ship_project(self, plan: Plan, catalog: Any) -> None:
        # Workers of a LocalCluster this runner started share this environment; any other
        # cluster may not have the Kedro project installed.
        client = self.client
        if self._cluster is not None:
            return
        from pipelineml.runners._dask.shipping import prepare_cluster

        modules = [getattr(s.node.func, "__module__", None) for s in plan.steps]
        modules += [type(catalog.get(n)).__module__ for n in plan.datasets if n in catalog]
        prepare_cluster(client, package_name(), modules)
