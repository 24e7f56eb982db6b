"""The tracking datasets in real kedro runs: every runner logs into the session's one run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from pipelineml.runners import DaskRunner, SequentialRunner, ThreadRunner
from tests._support.fixtures import dask_cluster  # noqa: F401 - a fixture
from tests._support.kedro_project import run_in_session, run_kedro_cli
from tests._support.mlflow_store import all_runs
from tests._support.servers import DaskCluster, MlflowServer
from tests._support.toy_project import package_of
from tests._support.tracking_project import make_tracking_project

RUNNERS: dict[str, Callable[[], Any]] = {
    "SequentialRunner": SequentialRunner,
    "ThreadRunner": lambda: ThreadRunner(max_workers=2),
    "kedro-SequentialRunner": lambda: None,
}


def only_run(tracking_uri: str) -> Run:
    """The one run of the store."""
    (run,) = all_runs(tracking_uri)
    return run


def artifact_json(client: MlflowClient, run_id: str, path: str, into: Path) -> Any:
    """A JSON artifact of the run, downloaded into ``into``."""
    local = client.download_artifacts(run_id, path, into.as_posix())
    return json.loads(Path(local).read_text())


def history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    """``(step, value)`` of a metric, in step order."""
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def assert_tracked(
    tracking_uri: str, tmp_path: Path, status: str = "FINISHED", run: Run | None = None
) -> Run:
    """The run (the store's only one by default) holds the report, the versioned report,
    the accuracy and both histories."""
    run = run or only_run(tracking_uri)
    client = MlflowClient(tracking_uri)
    run_id = run.info.run_id
    assert run.info.status == status
    assert artifact_json(client, run_id, "reports/report.json", tmp_path / "dl") == {
        "rows": 4,
        "labels": ["no", "yes"],
        "matrix": [[4, 1], [2, 4]],
    }
    assert artifact_json(client, run_id, "versioned.json", tmp_path / "dl") == {"rows": 4}
    assert run.data.metrics["accuracy"] == pytest.approx(0.8)
    assert history(client, run_id, "loss") == [(0, 1.0), (1, 0.5), (2, 1 / 3), (3, 0.25)]
    assert history(client, run_id, "val_score") == [(0, 0.0), (10, 1.0), (20, 2.0)]
    return run


@pytest.mark.slow
@pytest.mark.parametrize("runner", list(RUNNERS.values()), ids=list(RUNNERS))
def test_local_runners_log_every_dataset_into_the_one_run(
    tmp_path: Path, tracking_env: str, runner: Callable[[], Any]
) -> None:
    """Sequential, threaded and Kedro's runner: artifacts and metrics land in the one run."""
    root = make_tracking_project(tmp_path / "project")

    result = run_in_session(root, runner=runner())

    assert_tracked(tracking_env, tmp_path)
    assert result["checked"].load() == {"rows": 4, "accuracy": pytest.approx(0.8)}


@pytest.mark.slow
def test_dask_workers_log_into_the_session_run(tmp_path: Path, tracking_env: str) -> None:
    """Saves on Dask workers (other processes) go to the session's run, by its id."""
    root = make_tracking_project(tmp_path / "project")

    with DaskRunner(cluster_kwargs={"n_workers": 1}) as runner:
        result = run_in_session(root, runner=runner)

    assert_tracked(tracking_env, tmp_path)
    assert result["checked"].load()["rows"] == 4


@pytest.mark.slow
def test_kedro_run_on_dask_processes_logs_to_a_tracking_server(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dask_cluster: DaskCluster,  # noqa: F811 - the fixture imported above
    mlflow_server: MlflowServer,
) -> None:
    """`kedro run` with DaskRunner on a `dask scheduler` and its `dask worker` processes,
    tracking to a real `mlflow server`: the workers' saves land in the session's run."""
    root = make_tracking_project(
        tmp_path / "project", mlflow_yml={"server": {"tracking_uri": mlflow_server.uri}}
    )
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask_cluster.address)

    completed = run_kedro_cli(root, "run", "--runner=pipelineml.runners.DaskRunner")

    assert completed.returncode == 0, completed.stdout + completed.stderr
    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(package_of(root))
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert_tracked(mlflow_server.uri, tmp_path, run=run)


@pytest.mark.slow
@pytest.mark.parametrize(
    "runner",
    [
        SequentialRunner,
        lambda: ThreadRunner(max_workers=2),
        lambda: DaskRunner(cluster_kwargs={"n_workers": 1}),
    ],
    ids=["SequentialRunner", "ThreadRunner", "DaskRunner"],
)
def test_failed_run_keeps_what_was_saved_before_the_failure(
    tmp_path: Path, tracking_env: str, runner: Callable[[], Any]
) -> None:
    """A node failing after the saves: the run is FAILED and keeps the artifacts and metrics."""
    root = make_tracking_project(tmp_path / "project", parameters={"fail": True})

    with pytest.raises(RuntimeError, match="check failed on purpose"):
        run_in_session(root, runner=runner())

    assert_tracked(tracking_env, tmp_path, status="FAILED")


@pytest.mark.slow
def test_each_run_logs_the_version_it_saved(tmp_path: Path, tracking_env: str) -> None:
    """Two runs of a versioned dataset: each run holds its own version, not the latest."""
    root = make_tracking_project(tmp_path / "project")

    run_in_session(root, runner=SequentialRunner())
    run_in_session(root, runner=SequentialRunner(), extra_params={"n_rows": 7})

    client = MlflowClient(tracking_env)
    first, second = sorted(all_runs(tracking_env), key=lambda r: r.info.start_time)
    versions = sorted((root / "data/08_reporting/versioned.json").iterdir())
    assert len(versions) == 2
    assert artifact_json(client, first.info.run_id, "versioned.json", tmp_path / "a") == {"rows": 4}
    assert artifact_json(client, second.info.run_id, "versioned.json", tmp_path / "b") == {
        "rows": 7
    }


@pytest.mark.slow
def test_run_id_loads_what_an_earlier_run_logged(tmp_path: Path, tracking_env: str) -> None:
    """With run_id, the artifact and the metrics are read from that run, not the local file."""
    root = make_tracking_project(tmp_path / "project")
    run_in_session(root, runner=SequentialRunner())
    run_id = only_run(tracking_env).info.run_id
    (root / "data/08_reporting/report.json").write_text(json.dumps({"rows": -1}))
    from pipelineml.hooks import (
        MlflowArtifactDataset,
        MlflowMetricDataset,
        MlflowMetricHistoryDataset,
    )

    report = MlflowArtifactDataset(
        {"type": "json.JSONDataset", "filepath": str(root / "data/08_reporting/report.json")},
        artifact_path="reports",
        run_id=run_id,
    )
    versioned = MlflowArtifactDataset(
        {
            "type": "json.JSONDataset",
            "filepath": str(root / "data/08_reporting/versioned.json"),
            "versioned": True,
        },
        run_id=run_id,
    )

    assert report.load()["rows"] == 4
    assert report.exists()
    assert versioned.load() == {"rows": 4}
    assert MlflowMetricDataset(key="accuracy", run_id=run_id).load() == pytest.approx(0.8)
    assert MlflowMetricHistoryDataset(key="val_score", run_id=run_id).load() == [0.0, 1.0, 2.0]
    assert MlflowMetricHistoryDataset(key="loss", run_id=run_id).exists()
    assert not MlflowMetricHistoryDataset(key="nothing", run_id=run_id).exists()


@pytest.mark.slow
def test_disabled_pipeline_saves_locally_and_logs_nothing(
    tmp_path: Path, tracking_env: str
) -> None:
    """Tracking disabled in mlflow.yml: files are saved, metrics dropped, no run exists."""
    root = make_tracking_project(
        tmp_path / "project",
        mlflow_yml={"tracking": {"disable_tracking": {"pipelines": ["__default__"]}}},
        catalog={"accuracy": {"type": "MemoryDataset"}},
    )

    run_in_session(root, runner=SequentialRunner())

    assert all_runs(tracking_env) == []
    assert json.loads((root / "data/08_reporting/report.json").read_text())["rows"] == 4
