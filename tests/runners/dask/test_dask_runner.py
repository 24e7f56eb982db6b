"""DaskRunner against real clusters: a LocalCluster and scheduler/worker processes."""

from __future__ import annotations

import functools
import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip(
    "distributed", reason="needs the [dask] extra of pipelineml-runners"
)
cloudpickle = pytest.importorskip(
    "cloudpickle", reason="needs the [dask] extra of pipelineml-runners"
)

from kedro.framework.hooks.manager import _create_hook_manager  # noqa: E402
from kedro.io import DataCatalog, MemoryDataset  # noqa: E402
from kedro.pipeline import Pipeline, node  # noqa: E402
from kedro_datasets.pickle import PickleDataset  # noqa: E402

from pipelineml.runners import DaskRunner, SequentialRunner  # noqa: E402
from pipelineml.runners.errors import ClusterConnectionError  # noqa: E402
from tests._support import dask_nodes  # noqa: E402

_TRIM_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
from tests._support.kedro_project import make_kedro_project, run_kedro_cli  # noqa: E402
from tests._support.net import free_port  # noqa: E402
from tests._support.servers import (  # noqa: E402
    DaskCluster,
    kill_one_worker,
    start_dask_cluster,
    stop_dask_cluster,
    wait_for_workers,
)

pytestmark = [pytest.mark.slow, pytest.mark.dask]

REPO = Path(__file__).resolve().parents[3]


def _named(func: Any, **kwargs: Any) -> Any:
    """functools.partial with the wrapped function's name (Kedro warns about bare partials)."""
    return functools.update_wrapper(functools.partial(func, **kwargs), func)


def diamond() -> Pipeline:
    """a -> b, a -> c, (b, c) -> d."""
    return Pipeline(
        [
            node(dask_nodes.add_one, "a", "b", name="left"),
            node(dask_nodes.double, "a", "c", name="right"),
            node(dask_nodes.total, ["b", "c"], "d", name="join"),
        ]
    )


@pytest.fixture(scope="module")
def local_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A client on a LocalCluster of two single-threaded worker processes."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
        host="127.0.0.1",
        local_directory=tmp_path_factory.mktemp("local-cluster"),
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def kedro_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Kedro project whose settings register a hook that records worker pids."""
    root = tmp_path_factory.mktemp("dask-project")
    events = root / "events.txt"
    nodes_py = (
        "import os\n\n"
        "def make(): return list(range(5))\n"
        "def square(xs): return [x * x for x in xs]\n"
        "def summarise(xs): return {'total': sum(xs), 'pid': os.getpid()}\n"
    )
    registry_py = (
        "from kedro.pipeline import Pipeline, node\n"
        "from .nodes import make, square, summarise\n\n"
        "def register_pipelines():\n"
        "    p = Pipeline([\n"
        "        node(make, None, 'numbers', name='make'),\n"
        "        node(square, 'numbers', 'squares', name='square'),\n"
        "        node(summarise, 'squares', 'summary', name='summarise'),\n"
        "    ])\n"
        "    return {'__default__': p}\n"
    )
    settings_py = (
        "from tests._support.dask_nodes import RecordingHook\n"
        f"HOOKS = (RecordingHook({str(events)!r}),)\n"
    )
    return make_kedro_project(
        root,
        nodes_py=nodes_py,
        pipeline_registry_py=registry_py,
        settings_py=settings_py,
        catalog={
            "numbers": {"type": "pickle.PickleDataset", "filepath": "data/02_intermediate/n.pkl"},
            "summary": {"type": "json.JSONDataset", "filepath": "data/08_reporting/summary.json"},
        },
    )


@pytest.fixture(scope="module")
def external_cluster(
    tmp_path_factory: pytest.TempPathFactory, kedro_project: Path
) -> Iterator[DaskCluster]:
    """`dask scheduler` + two `dask worker` processes that can import the tests and the project."""
    pythonpath = os.pathsep.join([str(REPO), str(kedro_project / "src")])
    cluster = start_dask_cluster(
        tmp_path_factory.mktemp("external-cluster"), n_workers=2, env={"PYTHONPATH": pythonpath}
    )
    try:
        yield cluster
    finally:
        stop_dask_cluster(cluster)


def _no_tasks_left(client: Any, token: str = "pipelineml-", timeout: float = 15) -> list[str]:
    """Poll the scheduler until none of our tasks remain; return those still there."""
    deadline = time.monotonic() + timeout
    while True:
        left = client.run_on_scheduler(
            lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks]
        )
        ours = [k for k in left if token in k]
        if not ours or time.monotonic() > deadline:
            return ours
        time.sleep(0.1)


def test_diamond_matches_sequential(local_client: Any) -> None:
    """A diamond pipeline gives the same free output on Dask as sequentially."""
    runner = DaskRunner(client=local_client)
    dask_out = runner.run(diamond(), DataCatalog({"a": MemoryDataset(3)}))
    seq_out = SequentialRunner().run(diamond(), DataCatalog({"a": MemoryDataset(3)}))
    assert set(dask_out) == set(seq_out) == {"d"}
    assert dask_out["d"].load() == seq_out["d"].load() == 10


def test_nodes_run_on_worker_processes(local_client: Any) -> None:
    """Each node is a task on a worker process, not in the client process."""
    pipeline = Pipeline([node(dask_nodes.with_pid, "a", "out", name="pid")])
    result = DaskRunner(client=local_client).run(pipeline, DataCatalog({"a": MemoryDataset(1)}))
    assert result["out"].load()["pid"] != os.getpid()


def test_persisted_and_in_memory_datasets(local_client: Any, tmp_path: Path) -> None:
    """Persisted datasets are written by the workers; in-memory ones only come back if free."""
    pipeline = Pipeline(
        [
            node(dask_nodes.add_one, "a", "b", name="one"),  # b: persisted
            node(dask_nodes.double, "b", "c", name="two"),  # c: in memory, intermediate
            node(dask_nodes.add_one, "c", "d", name="three"),  # d: persisted, free
            node(dask_nodes.double, "c", "e", name="four"),  # e: in memory, free
        ]
    )
    catalog = DataCatalog(
        {
            "a": MemoryDataset(1),
            "b": PickleDataset(filepath=str(tmp_path / "b.pkl")),
            "d": PickleDataset(filepath=str(tmp_path / "d.pkl")),
        }
    )
    result = DaskRunner(client=local_client).run(pipeline, catalog)
    assert set(result) == {"d", "e"}
    assert PickleDataset(filepath=str(tmp_path / "b.pkl")).load() == 2
    assert result["d"].load() == 5  # loaded from the file the worker wrote
    assert result["e"].load() == 8
    assert "c" not in catalog  # the intermediate travelled between workers only


def test_run_in_memory(local_client: Any) -> None:
    """run_in_memory feeds free inputs and returns free outputs' data."""
    runner = DaskRunner(client=local_client)
    assert runner.run_in_memory(diamond(), {"a": 10}) == {"d": 31}
    with pytest.raises(ValueError, match="'a'"):
        runner.run_in_memory(diamond(), {})


def test_missing_input_is_refused(local_client: Any) -> None:
    """A free input missing from the catalog raises before anything is submitted."""
    with pytest.raises(ValueError, match=r"Pipeline input\(s\) \{'a'\} not found"):
        DaskRunner(client=local_client).run(diamond(), DataCatalog())


def test_failing_node_raises_its_exception_and_cancels_the_rest(local_client: Any) -> None:
    """The node's own exception (type, message, node name in a note); nothing left running."""
    pipeline = Pipeline(
        [
            node(dask_nodes.fail, "a", "b", name="broken"),
            node(dask_nodes.add_one, "b", "c", name="after_broken"),
            node(_named(dask_nodes.slow, seconds=2.0), "a", "s", name="slow_branch"),
            node(dask_nodes.add_one, "s", "t", name="after_slow"),
        ]
    )
    with pytest.raises(KeyError, match="node failed on purpose with 1") as info:
        DaskRunner(client=local_client).run(pipeline, DataCatalog({"a": MemoryDataset(1)}))
    assert any("'broken'" in note for note in getattr(info.value, "__notes__", []))
    assert _no_tasks_left(local_client) == []


def test_retries_rerun_a_task_that_raised(local_client: Any, tmp_path: Path) -> None:
    """With retries=1 a node that fails once succeeds on its second attempt."""
    flaky = _named(dask_nodes.flaky_once, marker=str(tmp_path / "flaky"))
    pipeline = Pipeline([node(flaky, "a", "b", name="flaky")])
    with pytest.raises(RuntimeError, match="transient failure"):
        DaskRunner(client=local_client).run(pipeline, DataCatalog({"a": MemoryDataset(1)}))
    (tmp_path / "flaky").unlink()
    result = DaskRunner(client=local_client, retries=1).run(
        pipeline, DataCatalog({"a": MemoryDataset(1)})
    )
    assert result["b"].load() == 1001


def test_node_hooks_fire_on_the_workers(local_client: Any, tmp_path: Path) -> None:
    """Node and dataset hooks run in worker processes, rebuilt from the client's hooks."""
    events = tmp_path / "events.txt"
    hook_manager = _create_hook_manager()
    hook_manager.register(dask_nodes.RecordingHook(str(events)))
    DaskRunner(client=local_client).run(
        diamond(), DataCatalog({"a": MemoryDataset(1)}), hook_manager
    )
    lines = [line.split() for line in events.read_text().splitlines()]
    assert sorted(line[1] for line in lines if line[0] == "before_node_run") == [
        "join",
        "left",
        "right",
    ]
    assert {line[2] for line in lines if line[0] == "after_dataset_saved"} == {"b", "c", "d"}
    assert all(int(line[-1]) != os.getpid() for line in lines)


def test_pickling_before_and_after_connecting(local_client: Any) -> None:
    """A runner pickles before and after it connects; copies connect lazily and work."""
    address = local_client.scheduler.address
    fresh = DaskRunner(address, retries=2)
    copy = cloudpickle.loads(cloudpickle.dumps(fresh))
    assert not copy.connected
    assert copy.run_in_memory(diamond(), {"a": 1}) == {"d": 4}
    assert copy.connected
    again = pickle.loads(pickle.dumps(copy))
    assert not again.connected
    assert again.run_in_memory(diamond(), {"a": 2}) == {"d": 7}
    given = DaskRunner(client=local_client)
    from_client = cloudpickle.loads(cloudpickle.dumps(given))
    assert repr(from_client) == f"DaskRunner({address!r}, retries=0, fuse=True)"
    assert from_client.run_in_memory(diamond(), {"a": 0}) == {"d": 1}
    for runner in (copy, again, from_client):
        runner.close()


def test_own_local_cluster_is_reused_and_closed() -> None:
    """With nothing configured the runner starts a LocalCluster, reuses it, closes it."""
    with DaskRunner(cluster_kwargs={"n_workers": 1}) as runner:
        first = runner.run_in_memory(diamond(), {"a": 1})
        client = runner.client
        second = runner.run_in_memory(diamond(), {"a": 2})
        assert runner.client is client
        cluster = runner._cluster
    assert (first, second) == ({"d": 4}, {"d": 7})
    assert not runner.connected
    assert cluster.status.name == "closed"


@pytest.mark.parametrize(
    ("environ", "setting", "expected"),
    [
        (None, None, None),  # Dask's 65536 is left out: glibc adapts its mmap threshold
        ("262144", None, "262144"),  # the user's environment is inherited
        (None, 131072, "131072"),  # a value of the user's own in dask's config is kept
    ],
)
def test_own_local_cluster_leaves_glibc_malloc_tuning_alone(
    environ: str | None,
    setting: int | None,
    expected: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers of its LocalCluster get Dask's pre-spawn settings but its malloc trimming."""
    import dask

    # A nanny writes its settings into this process's environment: start from a clean one.
    if environ is None:
        monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    else:
        monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", environ)
    overrides = {} if setting is None else {_TRIM_SETTING: setting}
    with dask.config.set(overrides), DaskRunner(cluster_kwargs={"n_workers": 1}) as runner:
        assert runner.run_in_memory(diamond(), {"a": 1}) == {"d": 4}
        seen = list(runner.client.run(dask_nodes.malloc_environ).values())
        assert dask.config.get(_TRIM_SETTING) == (setting or 65536)  # put back after starting
    assert seen == [(expected, "1")]


def test_closing_its_own_cluster_warns_of_nothing_and_sets_no_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Closing the LocalCluster it started: nothing at WARNING or above from distributed, and
    no logger level changed (what distributed says at INFO is the user's to show or hide)."""
    runner = DaskRunner(cluster_kwargs={"n_workers": 2})
    assert runner.run_in_memory(diamond(), {"a": 1}) == {"d": 4}
    loggers = [
        "distributed",
        *(n for n in logging.root.manager.loggerDict if n.startswith("distributed.")),
    ]
    levels = {name: logging.getLogger(name).level for name in loggers}

    with caplog.at_level(logging.DEBUG, logger="distributed"):
        caplog.clear()  # what the cluster said while starting is not the point
        levels_during = {name: logging.getLogger(name).level for name in loggers}
        runner.close()

    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == []
    assert {name: logging.getLogger(name).level for name in loggers} == levels
    assert levels_during["distributed"] == logging.DEBUG


_CLUSTER_GOES_FIRST = """
import sys
from distributed import LocalCluster
from kedro.pipeline import Pipeline, node
from pipelineml.runners import DaskRunner
from tests._support.dask_nodes import add_one

if __name__ == "__main__":
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    )
    runner = DaskRunner(cluster.scheduler_address)
    result = runner.run_in_memory(Pipeline([node(add_one, "a", "b")]), {"a": 1})
    cluster.close()  # the scheduler goes away while the runner still holds its client
    if sys.argv[1] == "close":
        runner.close()
        print("closed", flush=True)
    print("result", result["b"], flush=True)
"""


@pytest.mark.parametrize("ending", ["close", "exit"])
def test_closing_after_the_cluster_went_away_returns(ending: str, tmp_path: Path) -> None:
    """The scheduler stops first; then close() or interpreter exit: no hang, no error of
    pipelineml's (distributed reports the lost scheduler on its own loggers)."""
    script = tmp_path / "goes_first.py"
    script.write_text(_CLUSTER_GOES_FIRST)
    env = {
        **os.environ,
        # This checkout's packages, whichever copy the interpreter has installed.
        "PYTHONPATH": os.pathsep.join(
            [str(REPO), *(str(REPO / "packages" / p / "src") for p in ("core", "runners", "hooks"))]
        ),
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
    }
    # The timeout only guards against a hang (closing waits 2 s at most for a scheduler
    # that is gone); timings are measured in benchmarks/, not asserted here.
    done = subprocess.run(
        [sys.executable, str(script), ending],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "result 2" in done.stdout
    assert ("closed" in done.stdout) == (ending == "close")
    # Nothing logged by a pipelineml logger, no pipelineml frame in a traceback (task keys,
    # "pipelineml-add_one-...", may appear in distributed's own warnings about its tasks).
    assert " - pipelineml" not in done.stderr, done.stderr
    assert "pipelineml/" not in done.stderr, done.stderr
    # Closing a client whose scheduler is gone does not print the reconnection it cuts short.
    assert "Traceback" not in done.stderr, done.stderr


def test_unreachable_address_fails_fast_naming_it() -> None:
    """Nothing listening at the address: ClusterConnectionError naming it."""
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(ClusterConnectionError, match=address):
        DaskRunner(address, timeout=1).run_in_memory(diamond(), {"a": 1})


def test_external_cluster_from_environment(
    external_cluster: DaskCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DASK_SCHEDULER_ADDRESS points a bare DaskRunner() at an existing scheduler."""
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", external_cluster.address)
    with DaskRunner() as runner:
        assert runner.run_in_memory(diamond(), {"a": 5}) == {"d": 16}
        assert runner.client.scheduler.address == external_cluster.address


def test_worker_killed_mid_run_is_survived(external_cluster: DaskCluster, tmp_path: Path) -> None:
    """A worker process dying inside a node: Dask reschedules it; same outputs as clean."""
    marker = tmp_path / "died"
    dying = _named(dask_nodes.die_once, marker=str(marker))
    pipeline = Pipeline(
        [
            node(dask_nodes.add_one, "a", "b", name="before"),
            node(dying, "b", "c", name="dies_once"),
            node(dask_nodes.double, "c", "d", name="after"),
        ]
    )
    with DaskRunner(external_cluster.address, retries=2) as runner:
        # A worker dying while its nanny still starts would not come back.
        wait_for_workers(external_cluster, 2, client=runner.client)
        result = runner.run(pipeline, DataCatalog({"a": MemoryDataset(1)}))
    assert marker.exists()  # the first attempt did kill its worker
    # A clean run: the marker exists, so nothing dies.
    clean = SequentialRunner().run(pipeline, DataCatalog({"a": MemoryDataset(1)}))
    assert result["d"].load() == clean["d"].load() == 2 * (1 + 1 + 100)


def test_worker_killed_from_outside_mid_run(external_cluster: DaskCluster) -> None:
    """Killing a worker while a slow node runs still completes the run."""
    pipeline = Pipeline(
        [
            node(_named(dask_nodes.slow, seconds=1.5), "a", "b", name="slow_a"),
            node(_named(dask_nodes.slow, seconds=1.5), "a", "c", name="slow_b"),
            node(dask_nodes.total, ["b", "c"], "d", name="join"),
        ]
    )
    with DaskRunner(external_cluster.address, retries=1) as runner:
        # A worker killed by the previous test may still be restarting.
        wait_for_workers(external_cluster, 2, client=runner.client)
        killer = threading.Timer(0.5, kill_one_worker, args=(external_cluster,))
        killer.start()
        try:
            result = runner.run_in_memory(pipeline, {"a": 4})
        finally:
            killer.join()
    assert result == {"d": 8}


def test_kedro_run_cli_on_external_cluster(
    external_cluster: DaskCluster, kedro_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kedro run --runner=pipelineml.runners.DaskRunner` with DASK_SCHEDULER_ADDRESS works."""
    events = kedro_project / "events.txt"
    events.unlink(missing_ok=True)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", external_cluster.address)
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # settings.py imports the test hook
    done = run_kedro_cli(kedro_project, "run", "--runner=pipelineml.runners.DaskRunner")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = (kedro_project / "data" / "08_reporting" / "summary.json").read_text()
    assert '"total": 30' in summary
    lines = [line.split() for line in events.read_text().splitlines()]
    assert sorted(line[1] for line in lines if line[0] == "before_node_run") == [
        "make",
        "square",
        "summarise",
    ]
    worker_pids = {int(line[-1]) for line in lines}
    summary_pid = int(summary.split('"pid":')[1].split("}")[0].strip().rstrip(","))
    assert summary_pid in worker_pids  # hooks fired in the processes that ran the nodes


def test_run_with_hooks_logs_progress_at_info(
    local_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A run given a hook manager logs each finished node and the end, as Kedro's runners do."""
    import logging

    caplog.set_level(logging.INFO, logger="pipelineml.runners")
    runner = DaskRunner(client=local_client)
    runner.run(diamond(), DataCatalog({"a": MemoryDataset(1)}), hook_manager=_create_hook_manager())
    lines = [r.getMessage() for r in caplog.records if r.name == "pipelineml.runners"]
    assert [line for line in lines if line.endswith("tasks")] == [
        f"Completed {i} out of 3 tasks" for i in (1, 2, 3)
    ]
    assert lines.index("Completed node: join") > lines.index("Completed node: left")
    assert lines[-1].startswith("Pipeline execution completed successfully in ")


def test_run_in_memory_logs_nothing_above_debug(
    local_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The in-memory path a model scores with logs no progress."""
    import logging

    caplog.set_level(logging.DEBUG)
    runner = DaskRunner(client=local_client)
    assert runner.run_in_memory(diamond(), {"a": 1}) == {"d": 4}
    ours = [r for r in caplog.records if r.name.startswith("pipelineml")]
    assert [r.getMessage() for r in ours if r.levelno > logging.DEBUG] == []
