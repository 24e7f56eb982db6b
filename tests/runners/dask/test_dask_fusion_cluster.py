"""Fused chains on real clusters: a LocalCluster, and `dask scheduler` + `dask worker` processes.

Which nodes shared a task is read from the workers themselves: a node hook records the key
of the Dask task it runs in (``distributed.get_worker().get_current_task()``), and nodes
that append that key to their data show the same on the hook-less path models score with.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip(
    "distributed", reason="needs the [dask] extra of pipelineml-runners"
)

from kedro.io import DataCatalog, MemoryDataset  # noqa: E402
from kedro.pipeline import Pipeline, node  # noqa: E402
from kedro_datasets.pickle import PickleDataset  # noqa: E402

from pipelineml.runners import DaskRunner, failed_node  # noqa: E402
from pipelineml.runners.errors import ClusterConnectionError  # noqa: E402
from tests._support import dask_nodes  # noqa: E402
from tests._support.dask_nodes import TaskRecordingHook, read_task_records  # noqa: E402
from tests._support.fixtures import local_cluster  # noqa: E402, F401
from tests._support.runners import make_hook_manager  # noqa: E402
from tests._support.servers import (  # noqa: E402
    DaskCluster,
    start_dask_cluster,
    stop_dask_cluster,
    wait_for_workers,
)

pytestmark = [pytest.mark.slow, pytest.mark.dask]

REPO = Path(__file__).resolve().parents[3]
KINDS = ["LocalCluster", "dask-scheduler+workers"]


def _named(func: Any, **kwargs: Any) -> Any:
    """functools.partial with the wrapped function's name (Kedro warns about bare partials)."""
    return functools.update_wrapper(functools.partial(func, **kwargs), func)


def chain(length: int, first: str = "a", prefix: str = "n") -> list[Any]:
    """``first -> n0 -> x1 -> n1 -> ... -> x<length>`` through ``add_one`` nodes."""
    names = [first, *(f"x{i + 1}" for i in range(length))]
    return [
        node(dask_nodes.add_one, names[i], names[i + 1], name=f"{prefix}{i}") for i in range(length)
    ]


@pytest.fixture(scope="module")
def external_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """`dask scheduler` + two `dask worker` processes that can import the tests."""
    cluster = start_dask_cluster(
        tmp_path_factory.mktemp("fusion-cluster"), n_workers=2, env={"PYTHONPATH": str(REPO)}
    )
    try:
        yield cluster
    finally:
        stop_dask_cluster(cluster)


class Where:
    """A cluster of two single-threaded workers, its client, and how to wait for both."""

    def __init__(self, kind: str, client: Any, external: DaskCluster | None) -> None:
        self.kind = kind
        self.client = client
        self.external = external

    def wait_for_both_workers(self) -> None:
        """Block until both workers are up (after one was killed)."""
        if self.external is not None:
            wait_for_workers(self.external, 2, client=self.client)
        else:
            self.client.wait_for_workers(2, timeout=60)


@pytest.fixture(scope="module", params=KINDS)
def where(request: pytest.FixtureRequest) -> Iterator[Where]:
    """Each test once on a LocalCluster and once on scheduler + worker processes."""
    external = None
    if request.param == "LocalCluster":
        address = request.getfixturevalue("local_cluster").scheduler_address
    else:
        external = request.getfixturevalue("external_cluster")
        address = external.address
    client = distributed.Client(address, set_as_default=False, timeout="30s")
    try:
        yield Where(request.param, client, external)
    finally:
        client.close()


def _hooks(tmp_path: Path) -> tuple[Any, Path]:
    events = tmp_path / "events.tsv"
    return make_hook_manager(TaskRecordingHook(str(events))), events


def _tasks(records: list[tuple[str, str, str, int]]) -> list[list[str]]:
    """The nodes that ran in each task (by the before_node_run records), in run order."""
    groups: dict[str, list[str]] = {}
    for hook, name, key, _ in records:
        if hook == "before_node_run":
            groups.setdefault(key, []).append(name)
    return list(groups.values())


def test_a_chain_is_one_task_with_every_node_hook_in_order(
    where: Where, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Four in-memory nodes in a line: one task, one worker; hooks and progress per node."""
    caplog.set_level(logging.INFO, logger="pipelineml.runners")
    hook_manager, events = _hooks(tmp_path)
    runner = DaskRunner(client=where.client)
    result = runner.run(Pipeline(chain(4)), DataCatalog({"a": MemoryDataset(1)}), hook_manager)

    assert result["x4"].load() == 5
    records = read_task_records(events)
    assert [(hook, name) for hook, name, _, _ in records] == [
        (hook, f"n{i}") for i in range(4) for hook in ("before_node_run", "after_node_run")
    ]
    (key,) = {key for _, _, key, _ in records}
    assert "n0..n3[4]" in key
    assert len({pid for *_, pid in records}) == 1
    assert all(pid != os.getpid() for *_, pid in records)
    lines = [r.getMessage() for r in caplog.records if r.name == "pipelineml.runners"]
    assert [line for line in lines if line.startswith("Completed")] == [
        line
        for i in range(4)
        for line in (f"Completed node: n{i}", f"Completed {i + 1} out of 4 tasks")
    ]


def test_fuse_false_gives_one_task_per_node(where: Where, tmp_path: Path) -> None:
    """DaskRunner(fuse=False): every node is a task of its own, as before fusion."""
    hook_manager, events = _hooks(tmp_path)
    runner = DaskRunner(client=where.client, fuse=False)
    result = runner.run(Pipeline(chain(4)), DataCatalog({"a": MemoryDataset(1)}), hook_manager)

    assert result["x4"].load() == 5
    assert _tasks(read_task_records(events)) == [["n0"], ["n1"], ["n2"], ["n3"]]


def test_branches_and_joins_cut_chains_and_branches_stay_apart(
    where: Where, tmp_path: Path
) -> None:
    """A chain, a branch into two chains, their join and what follows: four tasks."""
    pipeline = Pipeline(
        [
            *chain(2, "a", "p"),
            node(dask_nodes.add_one, "x2", "b1", name="left0"),
            node(dask_nodes.add_one, "b1", "b2", name="left1"),
            node(dask_nodes.double, "x2", "c1", name="right0"),
            node(dask_nodes.double, "c1", "c2", name="right1"),
            node(dask_nodes.total, ["b2", "c2"], "d1", name="join"),
            node(dask_nodes.add_one, "d1", "d2", name="after_join"),
        ]
    )
    hook_manager, events = _hooks(tmp_path)
    result = DaskRunner(client=where.client).run(
        pipeline, DataCatalog({"a": MemoryDataset(1)}), hook_manager
    )

    # x2 = 3; left: 3 + 2 = 5; right: 3 * 4 = 12; d2 = 5 + 12 + 1.
    assert result["d2"].load() == 18
    tasks = _tasks(read_task_records(events))
    assert sorted(tasks) == [
        ["join", "after_join"],
        ["left0", "left1"],
        ["p0", "p1"],
        ["right0", "right1"],
    ]
    assert tasks[0] == ["p0", "p1"]
    assert tasks[-1] == ["join", "after_join"]


def test_a_persisted_dataset_cuts_the_chain(where: Where, tmp_path: Path) -> None:
    """x2 in a PickleDataset: the workers save it, and the chain is two tasks around it."""
    hook_manager, events = _hooks(tmp_path)
    stored = PickleDataset(filepath=str(tmp_path / "x2.pkl"))
    result = DaskRunner(client=where.client).run(
        Pipeline(chain(4)), DataCatalog({"a": MemoryDataset(1), "x2": stored}), hook_manager
    )

    assert result["x4"].load() == 5
    assert PickleDataset(filepath=str(tmp_path / "x2.pkl")).load() == 3
    assert _tasks(read_task_records(events)) == [["n0", "n1"], ["n2", "n3"]]


def test_a_failure_inside_a_chain_names_the_failing_node(
    where: Where, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The node that raised is named; the nodes after it never run; nothing is reported
    completed, not even the node before it, whose task failed."""
    caplog.set_level(logging.INFO, logger="pipelineml.runners")
    pipeline = Pipeline(
        [
            node(dask_nodes.add_one, "a", "b", name="before"),
            node(dask_nodes.fail, "b", "c", name="broken"),
            node(dask_nodes.add_one, "c", "d", name="after"),
        ]
    )
    hook_manager, events = _hooks(tmp_path)
    with pytest.raises(KeyError, match="node failed on purpose with 2") as info:
        DaskRunner(client=where.client).run(
            pipeline, DataCatalog({"a": MemoryDataset(1)}), hook_manager
        )

    assert failed_node(info.value) == "broken"
    assert "Raised by Kedro node 'broken' in a DaskRunner task." in info.value.__notes__
    records = read_task_records(events)
    assert [(hook, name) for hook, name, _, _ in records] == [
        ("before_node_run", "before"),
        ("after_node_run", "before"),
        ("before_node_run", "broken"),
        ("on_node_error", "broken"),
    ]
    assert len({key for _, _, key, _ in records}) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "pipelineml.runners"]
    assert [line for line in lines if line.startswith("Completed")] == []


def test_retries_rerun_the_whole_chain(where: Where, tmp_path: Path) -> None:
    """retries=1 and a node that raises once mid-chain: the chain runs again from its
    first node, and the run succeeds."""
    flaky = _named(dask_nodes.flaky_once, marker=str(tmp_path / "flaky"))
    pipeline = Pipeline(
        [
            node(dask_nodes.add_one, "a", "b", name="first"),
            node(flaky, "b", "c", name="flaky"),
            node(dask_nodes.double, "c", "d", name="last"),
        ]
    )
    hook_manager, events = _hooks(tmp_path)
    result = DaskRunner(client=where.client, retries=1).run(
        pipeline, DataCatalog({"a": MemoryDataset(1)}), hook_manager
    )

    assert result["d"].load() == 2 * (2 + 1000)
    assert [(hook, name) for hook, name, _, _ in read_task_records(events)] == [
        ("before_node_run", "first"),
        ("after_node_run", "first"),
        ("before_node_run", "flaky"),
        ("on_node_error", "flaky"),
        ("before_node_run", "first"),
        ("after_node_run", "first"),
        ("before_node_run", "flaky"),
        ("after_node_run", "flaky"),
        ("before_node_run", "last"),
        ("after_node_run", "last"),
    ]


def test_a_worker_killed_mid_chain_reruns_the_chain_elsewhere(where: Where, tmp_path: Path) -> None:
    """The worker dies inside the chain's second node: Dask runs the whole chain again on
    a live worker, and every node completes exactly once."""
    marker = tmp_path / "died"
    pipeline = Pipeline(
        [
            node(dask_nodes.add_one, "a", "b", name="before"),
            node(_named(dask_nodes.die_once, marker=str(marker)), "b", "c", name="dies_once"),
            node(dask_nodes.double, "c", "d", name="after"),
        ]
    )
    hook_manager, events = _hooks(tmp_path)
    # A worker dying while its nanny still starts would not come back.
    where.wait_for_both_workers()
    try:
        result = DaskRunner(client=where.client).run(
            pipeline, DataCatalog({"a": MemoryDataset(1)}), hook_manager
        )
    finally:
        where.wait_for_both_workers()

    assert marker.exists()  # the first attempt did kill its worker
    assert result["d"].load() == 2 * (2 + 100)
    records = read_task_records(events)
    died = int(marker.read_text())
    first = [(hook, name) for hook, name, _, pid in records if pid == died]
    again = [(hook, name) for hook, name, _, pid in records if pid != died]
    assert first == [
        ("before_node_run", "before"),
        ("after_node_run", "before"),
        ("before_node_run", "dies_once"),
    ]
    assert again == [
        (hook, name)
        for name in ("before", "dies_once", "after")
        for hook in ("before_node_run", "after_node_run")
    ]
    assert len({pid for *_, pid in records if pid != died}) == 1
    assert len({key for _, _, key, _ in records}) == 1  # the same task, retried


def test_only_missing_outputs_runs_the_missing_chain(where: Where, tmp_path: Path) -> None:
    """With x3 missing, only the nodes that make it run again, fused into one task."""

    def catalog() -> DataCatalog:
        return DataCatalog(
            {
                "a": MemoryDataset(1),
                "x1": PickleDataset(filepath=str(tmp_path / "x1.pkl")),
                "x3": PickleDataset(filepath=str(tmp_path / "x3.pkl")),
            }
        )

    runner = DaskRunner(client=where.client)
    runner.run(Pipeline(chain(3)), catalog())
    (tmp_path / "x3.pkl").unlink()
    hook_manager, events = _hooks(tmp_path)
    runner.run(Pipeline(chain(3)), catalog(), hook_manager, only_missing_outputs=True)

    assert _tasks(read_task_records(events)) == [["n1", "n2"]]
    assert PickleDataset(filepath=str(tmp_path / "x3.pkl")).load() == 4


@pytest.mark.parametrize(("fuse", "tasks"), [(True, 1), (False, 3)])
def test_run_in_memory_fuses_as_a_model_scoring_does(where: Where, fuse: bool, tasks: int) -> None:
    """The hook-less path of KedroPipelineModel.predict: a chain is one task by default."""
    pipeline = Pipeline(
        [
            node(dask_nodes.append_task, "keys", "k1", name="first"),
            node(dask_nodes.append_task, "k1", "k2", name="second"),
            node(dask_nodes.append_task, "k2", "k3", name="third"),
        ]
    )
    result = DaskRunner(client=where.client, fuse=fuse).run_in_memory(pipeline, {"keys": []})

    keys = result["k3"]
    assert len(keys) == 3
    assert len(set(keys)) == tasks


def test_nodes_of_a_run_whose_scheduler_died_are_not_reported_completed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The scheduler is killed while the first node runs: the run fails and no node is
    logged as completed (a lost connection cancels every task; cancelled is not done); the
    error is the runner's own, listing the three nodes."""
    caplog.set_level(logging.INFO, logger="pipelineml.runners")
    cluster = start_dask_cluster(tmp_path / "doomed", n_workers=1, env={"PYTHONPATH": str(REPO)})
    pipeline = Pipeline(
        [
            node(_named(dask_nodes.slow, seconds=3.0), "a", "b", name="slow"),
            node(dask_nodes.add_one, "b", "c", name="second"),
            node(dask_nodes.add_one, "c", "d", name="third"),
        ]
    )
    killer = threading.Timer(1.0, cluster.scheduler.kill)
    try:
        with DaskRunner(cluster.address, fuse=False, timeout=2) as runner:
            runner.client  # connected before the clock starts  # noqa: B018
            killer.start()
            with pytest.raises(
                ClusterConnectionError, match="nodes not done \\(3\\): slow, second, third"
            ):
                runner.run(pipeline, DataCatalog({"a": MemoryDataset(1)}), make_hook_manager())
    finally:
        killer.cancel()
        stop_dask_cluster(cluster)

    lines = [r.getMessage() for r in caplog.records if r.name == "pipelineml.runners"]
    assert [line for line in lines if line.startswith("Completed")] == []
