"""Training against a real `mlflow server`: one run per `kedro run`; the model loads from it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests._support.servers import MlflowServer
from tests._support.trained_project import (
    MODEL_URI_TAG,
    TrainedModel,
    assert_same_predictions,
    collect_trained_model,
    kedro_train,
    load_and_predict,
    tracking,
    train_project,
    training_runs,
    write_project,
)

pytestmark = pytest.mark.slow

THREAD_RUNNER = "--runner=pipelineml.runners.ThreadRunner"


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _all_experiment_ids(uri: str) -> list[str]:
    return [e.experiment_id for e in _client(uri).search_experiments()]


def logged_models_of_run(uri: str, run_id: str, experiment_ids: list[str]) -> list[Any]:
    """LoggedModels whose source run is ``run_id``, searched in ``experiment_ids``."""
    import mlflow

    with tracking(uri):
        models = mlflow.search_logged_models(
            experiment_ids=experiment_ids,
            filter_string=f"source_run_id = '{run_id}'",
            output_format="list",
        )
    return list(models)


@pytest.fixture(scope="module")
def server_trained(
    mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> TrainedModel:
    """The project trained once, its mlflow.yml pointing at the tracking server."""
    return train_project(tmp_path_factory.mktemp("server-trained") / "project", mlflow_server.uri)


@dataclass(frozen=True)
class TwoRuns:
    """Two `kedro run --pipeline=training --runner=...ThreadRunner` in a row, and what changed."""

    after_first: list[Any]
    after_second: list[Any]
    model_pickle_mtimes: tuple[int, int]
    first: TrainedModel
    second: TrainedModel


@pytest.fixture(scope="module")
def two_thread_runs(
    mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> TwoRuns:
    """The project trained twice in a row with our ThreadRunner, against the server."""
    root, package = write_project(
        tmp_path_factory.mktemp("two-runs") / "project", tracking_uri=mlflow_server.uri
    )
    model_pickle = root / "data" / "06_models" / "model.pkl"
    with pytest.MonkeyPatch.context() as patch:
        # mlflow.yml must be what decides, whatever this process inherited.
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        kedro_train(root, THREAD_RUNNER)
        after_first = training_runs(mlflow_server.uri, package)
        first = collect_trained_model(root, package, mlflow_server.uri, after_first[-1])
        first_mtime = model_pickle.stat().st_mtime_ns
        kedro_train(root, THREAD_RUNNER)
        after_second = training_runs(mlflow_server.uri, package)
        second = collect_trained_model(root, package, mlflow_server.uri, after_second[-1])
    return TwoRuns(
        after_first=after_first,
        after_second=after_second,
        model_pickle_mtimes=(first_mtime, model_pickle.stat().st_mtime_ns),
        first=first,
        second=second,
    )


# --- one training run against the server ------------------------------------------------------


def test_training_creates_exactly_one_finished_run_on_the_server(
    server_trained: TrainedModel, mlflow_server: MlflowServer
) -> None:
    """The server holds one run of the project, FINISHED, in the project's experiment."""
    client = _client(mlflow_server.uri)

    runs = client.search_runs(
        _all_experiment_ids(mlflow_server.uri),
        filter_string=f"tags.`kedro.package_name` = '{server_trained.package_name}'",
    )

    assert [run.info.run_id for run in runs] == [server_trained.run_id]
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == server_trained.package_name
    assert run.data.tags["kedro.pipeline"] == "training"


def test_run_on_the_server_has_the_params_and_metrics(
    server_trained: TrainedModel, mlflow_server: MlflowServer
) -> None:
    """The training and inference parameters and the metric are on the server's run."""
    run = _client(mlflow_server.uri).get_run(server_trained.run_id)
    written = json.loads(
        (server_trained.root / "data" / "08_reporting" / "metrics.json").read_text()
    )

    assert run.data.params == {
        "n_rows": "200",
        "seed": "42",
        "model_options": str({"C": 1.0, "max_iter": 200}),
        "threshold": "0.5",
    }
    assert run.data.metrics == {"accuracy": pytest.approx(written["accuracy"])}
    assert 0.5 < run.data.metrics["accuracy"] <= 1.0


def test_model_is_logged_on_the_server(
    server_trained: TrainedModel, mlflow_server: MlflowServer
) -> None:
    """One READY LoggedModel comes from the run; its files went to the server's artifact store."""
    from mlflow.entities import LoggedModelStatus

    models = logged_models_of_run(
        mlflow_server.uri, server_trained.run_id, _all_experiment_ids(mlflow_server.uri)
    )

    assert [f"models:/{m.model_id}" for m in models] == [server_trained.model_uri]
    assert models[0].status == LoggedModelStatus.READY
    assert models[0].name == "model"
    # Uploaded through the server's artifact proxy, not written next to the project.
    location = models[0].artifact_location
    assert location.startswith("mlflow-artifacts:/"), location
    folder = mlflow_server.artifact_root / location.removeprefix("mlflow-artifacts:/")
    stored = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {
        "MLmodel",
        "artifacts/pipeline.json",  # the inference pipeline as data, parameters included
        "artifacts/model.pkl",
        "artifacts/scaler.pkl",
    } <= stored
    assert "python_model.pkl" not in stored  # logged from code, not pickled
    assert not (server_trained.root / "mlruns").exists()


def test_logged_model_is_in_the_runs_experiment(
    server_trained: TrainedModel, mlflow_server: MlflowServer
) -> None:
    """search_logged_models in the run's experiment finds the run's model."""
    models = logged_models_of_run(
        mlflow_server.uri, server_trained.run_id, [server_trained.experiment_id]
    )

    assert [f"models:/{m.model_id}" for m in models] == [server_trained.model_uri]


def test_model_loads_from_the_server_and_predicts_like_the_nodes(
    server_trained: TrainedModel, tmp_path: Path
) -> None:
    """load_model(models:/m-...) against the server URI predicts like the nodes."""
    actual = load_and_predict(
        server_trained.model_uri, server_trained.tracking_uri, server_trained.sample, tmp_path
    )

    assert_same_predictions(actual, server_trained.expected())


# --- `kedro run` with --runner, twice in a row ------------------------------------------------


def test_thread_runner_training_creates_one_run_with_a_model(
    two_thread_runs: TwoRuns, mlflow_server: MlflowServer
) -> None:
    """`kedro run --runner=pipelineml.runners.ThreadRunner` gives one FINISHED run with a model."""
    runs = two_thread_runs.after_first

    assert len(runs) == 1
    assert runs[0].info.status == "FINISHED"
    assert "ThreadRunner" in runs[0].data.tags["kedro.runner"]
    assert runs[0].data.tags[MODEL_URI_TAG] == two_thread_runs.first.model_uri
    models = logged_models_of_run(
        mlflow_server.uri, runs[0].info.run_id, _all_experiment_ids(mlflow_server.uri)
    )
    assert [f"models:/{m.model_id}" for m in models] == [two_thread_runs.first.model_uri]


def test_second_kedro_run_creates_a_second_run_and_overwrites_the_files(
    two_thread_runs: TwoRuns,
) -> None:
    """A second `kedro run` adds a FINISHED run with its own model; fitted files are rewritten."""
    first_ids = [run.info.run_id for run in two_thread_runs.after_first]
    runs = two_thread_runs.after_second

    assert len(runs) == 2
    assert [run.info.run_id for run in runs][:1] == first_ids
    assert [run.info.status for run in runs] == ["FINISHED", "FINISHED"]
    assert two_thread_runs.second.model_uri != two_thread_runs.first.model_uri
    before, after = two_thread_runs.model_pickle_mtimes
    assert after > before


def test_models_of_both_runs_reload_and_predict_like_the_nodes(
    two_thread_runs: TwoRuns, tmp_path: Path
) -> None:
    """The first run's model still loads after the second run rewrote the files; both predict."""
    for index, trained in enumerate((two_thread_runs.first, two_thread_runs.second)):
        actual = load_and_predict(
            trained.model_uri, trained.tracking_uri, trained.sample, tmp_path / str(index)
        )

        assert_same_predictions(actual, trained.expected())
