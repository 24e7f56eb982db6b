"""batch_predict on `dask scheduler` + `dask worker` processes found through the environment.

No client is current here: batch_predict connects where DaskRunner would
(``DASK_SCHEDULER_ADDRESS``), and survives a worker killed in the middle of a job.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed", reason="needs the [dask] extra")
pytest.importorskip("dask.dataframe", reason="needs dask[dataframe]")

from pipelineml.hooks import batch_predict  # noqa: E402
from pipelineml.runners import close_clients, scheduler_client  # noqa: E402
from tests._support import batch_frames  # noqa: E402
from tests._support.batch_fixtures import (  # noqa: E402
    assert_scores,
    champion_fixture,  # noqa: F401
    expected,
    lazy_partitions,
    loads_on,
    model_fixture,  # noqa: F401
)
from tests._support.servers import (  # noqa: E402
    DaskCluster,
    kill_one_worker,
    start_dask_cluster,
    stop_dask_cluster,
    wait_for_workers,
)
from tests._support.trained_project import TrainedModel  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PARTITIONS = 16
ROWS = 200


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """`dask scheduler` + two `dask worker` processes that can import the tests."""
    cluster = start_dask_cluster(
        tmp_path_factory.mktemp("batch-cluster"), n_workers=2, env={"PYTHONPATH": str(REPO)}
    )
    try:
        yield cluster
    finally:
        close_clients()
        stop_dask_cluster(cluster)


def test_scheduler_from_the_environment_survives_a_killed_worker(
    champion: TrainedModel,
    external: DaskCluster,
    model: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DASK_SCHEDULER_ADDRESS is used; a worker killed mid-job loses and duplicates no row."""
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", external.address)
    data = lazy_partitions(PARTITIONS, rows=ROWS, delay=0.4)

    result = batch_predict(model, data, progress=False)
    client = scheduler_client()
    assert client.scheduler.address == external.address
    wait_for_workers(external, 2, client=client)
    job = client.compute(result)
    deadline = time.monotonic() + 60
    while not any(loads_on(client).values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    killed = kill_one_worker(external, client)
    scored = job.result(timeout=120)

    assert killed not in client.run(lambda: __import__("os").getpid()).values()
    assert scored.index.is_unique
    assert len(scored) == PARTITIONS * ROWS
    assert_scores(
        scored.sort_index(), expected(champion, batch_frames.frames(range(PARTITIONS), ROWS))
    )
