"""MlflowHook against a real `mlflow server` process: training tracked there, model loaded back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import LoggedModel, Run

from tests._support.kedro_project import run_in_session
from tests._support.mlflow_store import all_logged_models, all_runs, clean_mlflow_state
from tests._support.servers import MlflowServer
from tests._support.toy_model import FAST_LOG, frame
from tests._support.toy_project import expected_scores, make_project

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class ServerRun:
    """A project trained with its mlflow.yml pointing at the server."""

    root: Path
    uri: str
    run: Run
    model: LoggedModel


@pytest.fixture(scope="module")
def server_run(tmp_path_factory: pytest.TempPathFactory, mlflow_server: MlflowServer) -> ServerRun:
    """The hooks test project trained once, tracking to the server through mlflow.yml."""
    root = make_project(
        tmp_path_factory.mktemp("server-project") / "project",
        mlflow_yml={"server": {"tracking_uri": mlflow_server.uri}},
        log_model_kwargs={"registered_model_name": "served-toy", **FAST_LOG},
    )
    with clean_mlflow_state():
        run_in_session(root, ["training"])
    (run,) = all_runs(mlflow_server.uri)
    (model,) = all_logged_models(mlflow_server.uri)
    return ServerRun(root, mlflow_server.uri, run, model)


def test_run_is_tracked_on_the_server(server_run: ServerRun) -> None:
    """The run, its parameters and metrics are on the server, not in a local store."""
    assert server_run.run.info.status == "FINISHED"
    assert server_run.run.data.params == {
        "n_rows": "20",
        "alpha": "1.0",
        "fail": "False",
        "threshold": "0.5",
    }
    assert server_run.run.data.metrics == {"train.rows": 20.0, "train.offset": 1.0}
    assert not (server_run.root / "mlflow.db").exists()
    assert not (server_run.root / "mlruns").exists()


def test_model_artifacts_are_stored_by_the_server(
    server_run: ServerRun, mlflow_server: MlflowServer
) -> None:
    """The model and its artifacts went to the server's artifact store."""
    assert server_run.model.source_run_id == server_run.run.info.run_id
    stored = {path.name for path in mlflow_server.artifact_root.rglob("*") if path.is_file()}
    assert {"MLmodel", "pipeline.json", "model.pkl", "scaler.pkl"} <= stored
    assert "python_model.pkl" not in stored  # logged from code, not pickled


def test_model_loads_and_predicts_through_the_server(server_run: ServerRun) -> None:
    """The model is downloaded from the server by its models:/ URI and predicts."""
    mlflow.set_tracking_uri(server_run.uri)

    loaded = mlflow.pyfunc.load_model(f"models:/{server_run.model.model_id}")

    assert list(loaded.predict(frame([1, 2]))["score"]) == expected_scores([1, 2])


def test_model_is_registered_on_the_server(server_run: ServerRun) -> None:
    """registered_model_name registers a version on the server's registry; it loads by name."""
    mlflow.set_tracking_uri(server_run.uri)
    mlflow.set_registry_uri(server_run.uri)

    loaded = mlflow.pyfunc.load_model("models:/served-toy/1")

    assert list(loaded.predict(frame([5]))["score"]) == expected_scores([5])
