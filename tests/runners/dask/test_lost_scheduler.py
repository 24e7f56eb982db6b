"""A Dask scheduler killed mid-run: one ClusterConnectionError, quickly, and no tracebacks."""

from __future__ import annotations

import functools
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed", reason="needs the [dask] extra of pipelineml-runners")

from kedro.framework.hooks.manager import _create_hook_manager
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node

from pipelineml.runners import DaskRunner
from pipelineml.runners.errors import ClusterConnectionError
from tests._support import dask_nodes
from tests._support.servers import DaskCluster, start_dask_cluster, stop_dask_cluster
from tests.runners.dask import _lost_nodes

pytestmark = [pytest.mark.slow, pytest.mark.dask]

REPO = Path(__file__).resolve().parents[3]

# The runner's timeout is also how long distributed's client tries to reconnect: short, so
# that a client left reconnecting would report its failure while the test still listens.
TIMEOUT = 3.0


def _named(func: Any, **kwargs: Any) -> Any:
    """functools.partial with the wrapped function's name (Kedro warns about bare partials)."""
    return functools.update_wrapper(functools.partial(func, **kwargs), func)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """`dask scheduler` + one `dask worker`, started afresh: each test kills the scheduler."""
    started = start_dask_cluster(tmp_path / "cluster", n_workers=1, env={"PYTHONPATH": str(REPO)})
    try:
        yield started
    finally:
        stop_dask_cluster(started)


def _kill_scheduler_when(marker: Path, cluster: DaskCluster, timeout: float = 60) -> float:
    """Wait until a node wrote ``marker``, kill -9 the scheduler; return when it died."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert time.monotonic() < deadline, "the slow node never started"
        time.sleep(0.05)
    os.kill(cluster.scheduler.pid, signal.SIGKILL)
    cluster.scheduler.wait(timeout=10)
    return time.monotonic()


def _run_and_kill(
    runner: DaskRunner, pipeline: Pipeline, cluster: DaskCluster, marker: Path
) -> tuple[ClusterConnectionError, float]:
    """Run ``pipeline``, killing the scheduler once ``marker`` exists; return the error and
    the seconds from the kill to the error."""
    import threading

    killed: list[float] = []
    killer = threading.Thread(
        target=lambda: killed.append(_kill_scheduler_when(marker, cluster)), daemon=True
    )
    killer.start()
    with pytest.raises(ClusterConnectionError) as caught:
        runner.run(
            pipeline, DataCatalog({"a": MemoryDataset(1)}), hook_manager=_create_hook_manager()
        )
    raised = time.monotonic()
    killer.join(timeout=30)
    assert killed, "the scheduler was not killed"
    return caught.value, raised - killed[0]


def _no_distributed_traceback(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert "Traceback" not in caplog.text
    assert [r for r in caplog.records if r.exc_info] == []
    assert "reconnect" not in caplog.text.lower()


def test_lost_scheduler_ends_the_run_with_one_error_naming_what_did_not_run(
    cluster: DaskCluster,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """kill -9 of the scheduler while the first node runs: one ClusterConnectionError with
    the address and every node in pipeline order, no node reported completed, no traceback
    from distributed, within 30 s, and nothing reported once the client's timeout passed."""
    caplog.set_level(logging.INFO)
    marker = tmp_path / "started"
    pipeline = Pipeline(
        [
            node(_named(_lost_nodes.start_then_sleep, marker=str(marker)), "a", "b", name="first"),
            node(dask_nodes.add_one, "b", "c", name="second"),
            node(dask_nodes.double, "c", "d", name="third"),
            node(dask_nodes.add_one, "b", "e", name="branch"),
            node(dask_nodes.total, ["d", "e"], "f", name="join"),
        ]
    )
    levels = {name: logging.getLogger(name).level for name in ("distributed", "distributed.client")}
    runner = DaskRunner(cluster.address, timeout=TIMEOUT)
    try:
        error, seconds = _run_and_kill(runner, pipeline, cluster, marker)
        assert not runner.connected  # its client was closed with the run
        # The quieting filter lasted for the close only; no level was touched.
        assert logging.getLogger("distributed.client").filters == []
        assert {name: logging.getLogger(name).level for name in levels} == levels
        time.sleep(TIMEOUT + 1)  # a client still reconnecting would have reported by now
    finally:
        runner.close()
    order = ", ".join(n.name for n in pipeline.nodes)
    assert str(error).startswith(
        f"DaskRunner lost the Dask scheduler at {cluster.address}: nodes not done (5): {order}."
    )
    assert error.__cause__ is None
    assert error.__suppress_context__  # distributed's CancelledError is not shown
    assert seconds < 30
    assert "Completed node" not in caplog.text
    _no_distributed_traceback(caplog, capfd)


def test_nodes_done_before_the_loss_are_reported_and_not_listed(
    cluster: DaskCluster,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A node whose task succeeded before the kill is completed; only the rest are listed."""
    caplog.set_level(logging.INFO)
    marker = tmp_path / "started"
    pipeline = Pipeline(
        [
            node(dask_nodes.add_one, "a", "b", name="quick"),
            node(_named(_lost_nodes.start_then_sleep, marker=str(marker)), "b", "c", name="slow"),
            node(dask_nodes.double, "c", "d", name="after"),
        ]
    )
    runner = DaskRunner(cluster.address, timeout=TIMEOUT, fuse=False)
    try:
        error, seconds = _run_and_kill(runner, pipeline, cluster, marker)
    finally:
        runner.close()
    assert f"at {cluster.address}: nodes not done (2): slow, after." in str(error)
    assert seconds < 30
    completed = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("Completed node")
    ]
    assert completed == ["Completed node: quick"]
    _no_distributed_traceback(caplog, capfd)


def test_run_in_memory_ends_with_the_same_error(cluster: DaskCluster, tmp_path: Path) -> None:
    """The path a model scores through (no progress, results gathered) reports the loss
    the same way: every node of the run is listed, none having come back."""
    import threading

    marker = tmp_path / "started"
    pipeline = Pipeline(
        [
            node(_named(_lost_nodes.start_then_sleep, marker=str(marker)), "a", "b", name="score"),
            node(dask_nodes.double, "b", "c", name="scale"),
        ]
    )
    runner = DaskRunner(cluster.address, timeout=TIMEOUT)
    killer = threading.Thread(target=_kill_scheduler_when, args=(marker, cluster), daemon=True)
    killer.start()
    try:
        with pytest.raises(
            ClusterConnectionError,
            match=f"lost the Dask scheduler at {cluster.address}: nodes not done \\(2\\): "
            "score, scale",
        ):
            runner.run_in_memory(pipeline, {"a": 1})
    finally:
        killer.join(timeout=30)
        runner.close()


def test_a_nodes_own_connection_error_is_not_a_lost_scheduler(cluster: DaskCluster) -> None:
    """A node raising ConnectionRefusedError on a live cluster fails with that error."""
    pipeline = Pipeline([node(_lost_nodes.refuse_connection, "a", "b", name="call_service")])
    with DaskRunner(cluster.address, timeout=TIMEOUT) as runner:
        with pytest.raises(ConnectionRefusedError, match="the node's own service refused 1"):
            runner.run(pipeline, DataCatalog({"a": MemoryDataset(1)}))
        assert runner.connected  # the scheduler is still there: the client stays


def test_batch_scoring_client_that_lost_its_scheduler_closes_quietly(
    cluster: DaskCluster,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The client batch_predict computes on: after a kill -9 of its scheduler the work
    fails with distributed's cancellation, and the next call replaces the client, and
    close_clients() closes it, without distributed's reconnection traceback."""
    from distributed.client import FutureCancelledError

    from pipelineml.runners import close_clients, scheduler_client

    caplog.set_level(logging.INFO)
    marker = tmp_path / "started"
    client = scheduler_client(cluster.address, timeout=TIMEOUT)
    try:
        future = client.submit(_lost_nodes.start_then_sleep, 1, str(marker), pure=False)
        killed = _kill_scheduler_when(marker, cluster)
        with pytest.raises(FutureCancelledError, match="scheduler-connection-lost"):
            future.result(timeout=30)
        assert time.monotonic() - killed < 30
        del future
        # The next call finds the client lost: it closes it and tries to connect again.
        with pytest.raises(ClusterConnectionError, match=cluster.address):
            scheduler_client(cluster.address, timeout=1)
        assert client.status == "closed"
    finally:
        close_clients()
    _no_distributed_traceback(caplog, capfd)


SLOW_NODES_PY = """\
import time
from pathlib import Path


def first(marker: str):
    Path(marker).write_text("started")
    time.sleep(60)
    return [1, 2, 3]


def second(xs):
    return [x * 2 for x in xs]


def third(xs):
    return {"total": sum(xs)}
"""

SLOW_REGISTRY_PY = """\
from kedro.pipeline import Pipeline, node

from .nodes import first, second, third


def register_pipelines():
    pipeline = Pipeline(
        [
            node(first, "params:marker", "numbers", name="first"),
            node(second, "numbers", "doubled", name="second"),
            node(third, "doubled", "summary", name="third"),
        ]
    )
    return {"__default__": pipeline}
"""


def test_kedro_run_ends_with_the_one_error_when_the_scheduler_is_killed(
    cluster: DaskCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kedro run --runner=DaskRunner`, scheduler killed in the first node: the command fails
    within 30 s with the one message, no node completed, nothing of distributed's."""
    import threading

    from tests._support.kedro_project import (
        PIPELINEML_INFO_LOGGING,
        make_kedro_project,
        run_kedro_cli,
    )

    marker = tmp_path / "started"
    project = make_kedro_project(
        tmp_path / "project",
        nodes_py=SLOW_NODES_PY,
        pipeline_registry_py=SLOW_REGISTRY_PY,
        parameters={"marker": str(marker)},
        catalog={
            "summary": {"type": "json.JSONDataset", "filepath": "data/08_reporting/summary.json"}
        },
        extra_files={"conf/logging.yml": PIPELINEML_INFO_LOGGING},
    )
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.address)
    monkeypatch.setenv("COLUMNS", "200")  # Kedro's rich handler wraps to the terminal width
    killed: list[float] = []
    killer = threading.Thread(
        target=lambda: killed.append(_kill_scheduler_when(marker, cluster, timeout=120)),
        daemon=True,
    )
    killer.start()
    done = run_kedro_cli(project, "run", "--runner=pipelineml.runners.DaskRunner", timeout=180)
    ended = time.monotonic()
    killer.join(timeout=10)
    flat = " ".join((done.stdout + done.stderr).split())
    assert done.returncode != 0, flat
    assert killed, "the scheduler was not killed"
    assert ended - killed[0] < 30
    assert (
        f"DaskRunner lost the Dask scheduler at {cluster.address}: nodes not done (3): "
        "first, second, third." in flat
    )
    assert "Completed node" not in flat
    assert "CancelledError" not in flat
    assert "reconnect" not in flat.lower()
    assert "distributed/" not in flat  # no frame of distributed's in any traceback
