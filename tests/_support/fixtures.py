"""Pytest fixtures for real servers and clusters; import them into a ``conftest.py``.

Example:
    ```python
    from tests._support.fixtures import dask_cluster, mlflow_server  # noqa: F401
    ```

Every fixture is module-scoped (servers are slow to start; one per test module), lives in a
directory from ``tmp_path_factory`` and is stopped in a ``finally`` block, so it is torn
down even when the tests using it fail. Fixtures needing an optional dependency skip (not
fail) where it is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests._support.servers import (
    DaskCluster,
    MlflowServer,
    start_dask_cluster,
    start_mlflow_server,
    stop_dask_cluster,
    stop_mlflow_server,
)

if TYPE_CHECKING:
    from distributed import LocalCluster

__all__ = ["dask_cluster", "local_cluster", "mlflow_server"]

DASK_REASON = "needs the [dask] extra of pipelineml-runners"
MLFLOW_REASON = "needs mlflow (a dependency of pipelineml-hooks)"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real ``mlflow server`` on 127.0.0.1 (SQLite store, proxied artifacts)."""
    pytest.importorskip("mlflow", reason=MLFLOW_REASON)
    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    try:
        yield server
    finally:
        stop_mlflow_server(server)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """A Dask scheduler and 2 nanny-managed workers, each a separate process tree."""
    pytest.importorskip("distributed", reason=DASK_REASON)
    cluster = start_dask_cluster(tmp_path_factory.mktemp("dask-cluster"), n_workers=2)
    try:
        yield cluster
    finally:
        stop_dask_cluster(cluster)


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A ``distributed.LocalCluster`` of 2 single-threaded worker processes on 127.0.0.1.

    The scheduler's HTTP server listens on a random port of 127.0.0.1, not on the default
    8787: ``dashboard_address=None`` still binds 8787 and, when another cluster holds it,
    warns "Port 8787 is already in use" (an error under this suite's warning filters).
    Scratch space of scheduler and workers is in the fixture's temporary directory rather
    than in ``/tmp/dask-scratch-space``.
    """
    distributed = pytest.importorskip("distributed", reason=DASK_REASON)
    scratch = tmp_path_factory.mktemp("local-cluster")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
        host="127.0.0.1",
        local_directory=scratch,
        scheduler_kwargs={"local_directory": scratch},
    )
    try:
        yield cluster
    finally:
        cluster.close()
