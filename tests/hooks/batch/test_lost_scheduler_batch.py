"""batch_predict's frame written while its scheduler is killed: one ClusterConnectionError."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed", reason="needs the [dask] extra of pipelineml-runners")

import dask.dataframe as dd

from pipelineml.hooks import batch_predict
from pipelineml.hooks.batch._lost_scheduler import partition_ranges, reported_lost
from pipelineml.runners import close_clients
from pipelineml.runners.errors import ClusterConnectionError
from tests._support.servers import DaskCluster, start_dask_cluster, stop_dask_cluster
from tests.hooks.batch._slow_model import SlowOnFlag

REPO = Path(__file__).resolve().parents[3]


def test_partitions_are_listed_as_ranges() -> None:
    """Consecutive partitions collapse into ranges, in order, each number once."""
    assert partition_ranges([7, 0, 1, 2, 5, 8, 2]) == ["0-2", "5", "7-8"]
    assert partition_ranges([]) == []


def test_a_partition_s_own_error_is_not_a_lost_scheduler() -> None:
    """Only distributed's scheduler-connection-lost cancellation is translated."""

    def refuse() -> None:
        raise ConnectionRefusedError("the model's own service refused")

    with pytest.raises(ConnectionRefusedError, match="own service"):
        reported_lost(refuse, "tcp://127.0.0.1:1", lambda: [0])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """`dask scheduler` + one `dask worker`: the test kills the scheduler."""
    started = start_dask_cluster(tmp_path / "cluster", n_workers=1, env={"PYTHONPATH": str(REPO)})
    try:
        yield started
    finally:
        close_clients()
        stop_dask_cluster(started)


@pytest.mark.slow
@pytest.mark.dask
@pytest.mark.parametrize("action", ["to_parquet", "compute"])
def test_write_with_the_scheduler_killed_names_the_partitions_not_done(
    action: str,
    cluster: DaskCluster,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """kill -9 of the scheduler while partition 3 is scored: to_parquet (or compute) raises one
    ClusterConnectionError naming the address and partition 3 among those not done, soon
    after the kill, with no traceback of distributed's and no _SUCCESS in the folder."""
    caplog.set_level(logging.INFO)
    marker = tmp_path / "started"
    table = pd.DataFrame({"x": range(12), "slow": [i in (6, 7) for i in range(12)]})
    frame = dd.from_pandas(table, npartitions=6)
    scored = batch_predict(
        SlowOnFlag(str(marker)),
        frame,
        meta=pd.DataFrame({"score": pd.Series(dtype="float64")}),
        address=cluster.address,
        timeout=3.0,
        progress=False,
    )
    killed: list[float] = []

    def kill_when_started() -> None:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(cluster.scheduler.pid, signal.SIGKILL)
        cluster.scheduler.wait(timeout=30)
        killed.append(time.monotonic())

    killer = threading.Thread(target=kill_when_started, daemon=True)
    killer.start()
    work = (
        (lambda: scored.to_parquet(tmp_path / "out")) if action == "to_parquet" else scored.compute
    )
    with pytest.raises(ClusterConnectionError) as caught:
        work()
    raised = time.monotonic()
    killer.join(timeout=30)

    assert killed, "the scheduler was not killed"
    message = str(caught.value)
    assert message.startswith(f"batch_predict lost the Dask scheduler at {cluster.address}: ")
    assert "partitions not done (" in message
    listed = message.split("): ", 1)[1].split(". ", 1)[0]
    assert "3" in {n for part in listed.split(", ") for n in _numbers(part)}
    # Not chained: distributed's cancellation is not printed under it.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert raised - killed[0] < 30
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err + caplog.text


def _numbers(part: str) -> list[str]:
    if "-" in part:
        low, high = part.split("-")
        return [str(n) for n in range(int(low), int(high) + 1)]
    return [part]
