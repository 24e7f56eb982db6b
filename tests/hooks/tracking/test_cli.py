"""``kedro pipelineml init | ui | modelify`` through the real Kedro CLI, in generated projects."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from mlflow.tracking import MlflowClient

from pipelineml.hooks.tracking._cli import mlflow_yml_template
from pipelineml.hooks.tracking._config import DEFAULT_CONFIG, parse_config
from pipelineml.runners import SequentialRunner
from tests._support.kedro_project import kedro_cli_env, run_in_session, run_kedro_cli
from tests._support.mlflow_store import all_logged_models, all_runs, copy_store
from tests._support.net import free_port, stop_process, wait_for_http
from tests._support.process import interpreter, launch
from tests._support.toy_model import frame
from tests._support.toy_project import expected_scores, make_project
from tests._support.tracking_project import make_tracking_project

pytestmark = pytest.mark.slow


def failure(completed: object) -> str:
    """The output of a completed command, for assertion messages."""
    return f"{getattr(completed, 'stdout', '')}\n{getattr(completed, 'stderr', '')}"


# --------------------------------------------------------------------- init
def test_init_writes_every_key_at_its_default_commented(tmp_path: Path) -> None:
    """init writes conf/base/mlflow.yml: every key, at its default, under a comment."""
    root = make_tracking_project(tmp_path / "project")

    completed = run_kedro_cli(root, "pipelineml", "init")

    assert completed.returncode == 0, failure(completed)
    text = (root / "conf/base/mlflow.yml").read_text()
    assert text == mlflow_yml_template()
    assert yaml.safe_load(text) == DEFAULT_CONFIG
    assert parse_config(yaml.safe_load(text)) == parse_config({})
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            assert lines[index - 1].lstrip().startswith("# "), f"no comment above {line!r}"
    assert "Wrote conf/base/mlflow.yml" in completed.stdout


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    """An existing mlflow.yml: exit 1, file unchanged; --force overwrites; --env local too."""
    root = make_tracking_project(tmp_path / "project", mlflow_yml={"tracking": {"run": {}}})
    target = root / "conf/base/mlflow.yml"
    target.write_text("tracking:\n  run:\n    name: mine\n")

    refused = run_kedro_cli(root, "pipelineml", "init")

    assert refused.returncode == 1, failure(refused)
    assert "conf/base/mlflow.yml already exists and was left unchanged" in refused.stderr
    assert "--force" in refused.stderr
    assert target.read_text() == "tracking:\n  run:\n    name: mine\n"

    forced = run_kedro_cli(root, "pipelineml", "init", "--force")
    local = run_kedro_cli(root, "pipelineml", "init", "--env", "local")

    assert forced.returncode == 0, failure(forced)
    assert target.read_text() == mlflow_yml_template()
    assert local.returncode == 0, failure(local)
    assert (root / "conf/local/mlflow.yml").read_text() == mlflow_yml_template()


def test_init_refuses_an_env_that_is_not_a_folder_name(tmp_path: Path) -> None:
    """--env ../elsewhere is a usage error (exit 2) and writes nothing."""
    root = make_tracking_project(tmp_path / "project")

    completed = run_kedro_cli(root, "pipelineml", "init", "--env", "../elsewhere")

    assert completed.returncode == 2, failure(completed)
    assert "is not an environment name" in completed.stderr
    assert not (root / "elsewhere").exists()
    assert not (root / "conf/base/mlflow.yml").exists()


# --------------------------------------------------------------------- ui
@dataclass(frozen=True)
class ProjectUi:
    """A running `kedro pipelineml ui` of a project whose store has one experiment."""

    process: subprocess.Popen[Any]
    port: int
    tracking_uri: str
    experiment_id: str
    log_path: Path


@pytest.fixture
def project_ui(tmp_path: Path, store_template: Path) -> Iterator[ProjectUi]:
    """`kedro pipelineml ui --port <free>` on a project tracking to a store of its own,
    answering on 127.0.0.1; stopped (with its mlflow server) afterwards."""
    uri = copy_store(store_template, tmp_path / "ui.db")
    root = make_tracking_project(tmp_path / "project", mlflow_yml={"server": {"tracking_uri": uri}})
    experiment = MlflowClient(uri).create_experiment(
        "seen-by-the-ui", artifact_location=(tmp_path / "art").as_uri()
    )
    port = free_port()
    env = kedro_cli_env(root)
    # The tests never use MLflow's server-side jobs (eight more processes on 2 cores).
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    log_path = tmp_path / "ui.log"
    proc = launch(
        [interpreter(), "-m", "kedro", "pipelineml", "ui", "--port", str(port)],
        log_path=log_path,
        env=env,
        cwd=root,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=90, proc=proc, log_path=log_path)
        yield ProjectUi(proc, port, uri, experiment, log_path)
    finally:
        stop_process(proc)


def test_ui_serves_the_project_store_on_loopback(project_ui: ProjectUi) -> None:
    """ui answers HTTP on 127.0.0.1 with the experiments of the store mlflow.yml names."""
    url = (
        f"http://127.0.0.1:{project_ui.port}/api/2.0/mlflow/experiments/get-by-name"
        "?experiment_name=seen-by-the-ui"
    )
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.load(response)

    assert answer["experiment"]["experiment_id"] == project_ui.experiment_id
    assert project_ui.process.poll() is None
    printed = project_ui.log_path.read_text()
    assert (
        f"MLflow UI on http://127.0.0.1:{project_ui.port} (tracking {project_ui.tracking_uri}"
        in (printed)
    )


def test_ui_of_a_project_tracking_to_a_server_points_at_it(tmp_path: Path) -> None:
    """A tracking server already serves the UI: exit 1 naming it, no server started."""
    root = make_tracking_project(
        tmp_path / "project", mlflow_yml={"server": {"tracking_uri": "http://127.0.0.1:9"}}
    )

    completed = run_kedro_cli(root, "pipelineml", "ui", timeout=120)

    assert completed.returncode == 1, failure(completed)
    expected = "tracks to the server http://127.0.0.1:9, which serves MLflow's UI"
    assert expected in completed.stderr


# --------------------------------------------------------------------- modelify
@pytest.fixture
def trained_toy(tmp_path: Path, store_template: Path) -> tuple[Path, str]:
    """The toy project trained once (its artifacts on disk), and its own store."""
    uri = copy_store(store_template, tmp_path / "store.db", default_artifacts=tmp_path / "art")
    root = make_project(tmp_path / "project", mlflow_yml={"server": {"tracking_uri": uri}})
    run_in_session(root, ["training"], runner=SequentialRunner())
    return root, uri


def test_modelify_logs_the_model_from_disk_in_a_tagged_run(
    trained_toy: tuple[Path, str],
) -> None:
    """modelify: a new run tagged pipelineml.modelify, its model registered; no node runs."""
    root, uri = trained_toy
    model_file = root / "data/06_models/model.pkl"
    written = model_file.stat().st_mtime_ns

    completed = run_kedro_cli(
        root,
        "pipelineml",
        "modelify",
        "--pipeline",
        "training",
        "--registered-model-name",
        "toy-from-disk",
    )

    assert completed.returncode == 0, failure(completed)
    runs = all_runs(uri)
    (run,) = [r for r in runs if "pipelineml.modelify" in r.data.tags]
    assert len(runs) == 2
    assert run.info.status == "FINISHED"
    assert run.data.tags["pipelineml.modelify"] == "training"
    assert run.data.params["threshold"] == "0.5"
    assert f"MLflow run {run.info.run_id}: PipelineML 'training' logged as model" in (
        completed.stdout
    )
    assert model_file.stat().st_mtime_ns == written
    (model,) = [m for m in all_logged_models(uri) if m.source_run_id == run.info.run_id]
    (version,) = MlflowClient(uri, registry_uri=uri).search_model_versions("name = 'toy-from-disk'")
    assert version.run_id == run.info.run_id
    mlflow.set_tracking_uri(uri)
    answer = mlflow.pyfunc.load_model(f"models:/{model.model_id}").predict(frame([3]))
    assert list(answer["score"]) == expected_scores([3])


def test_modelify_with_an_artifact_missing_exits_1_with_the_preflight(
    tmp_path: Path, store_template: Path
) -> None:
    """Artifacts never trained: exit 1, the pre-flight names them, no run is opened."""
    uri = copy_store(store_template, tmp_path / "store.db")
    root = make_project(tmp_path / "project", mlflow_yml={"server": {"tracking_uri": uri}})

    completed = run_kedro_cli(root, "pipelineml", "modelify", "--pipeline", "training")

    assert completed.returncode == 1, failure(completed)
    assert "'model'" in completed.stderr
    assert "'scaler'" in completed.stderr
    assert "No MLflow run was opened and no node has run." in completed.stderr
    assert all_runs(uri) == []


def test_modelify_refuses_what_is_not_a_pipeline_ml(tmp_path: Path, store_template: Path) -> None:
    """A plain pipeline, an unknown name, an input_name the inference lacks: exit 1, one
    message (naming the project's PipelineMLs), no run."""
    uri = copy_store(store_template, tmp_path / "store.db")
    root = make_project(tmp_path / "project", mlflow_yml={"server": {"tracking_uri": uri}})

    plain = run_kedro_cli(root, "pipelineml", "modelify", "--pipeline", "other")
    unknown = run_kedro_cli(root, "pipelineml", "modelify", "--pipeline", "trainig")
    bad_input = run_kedro_cli(
        root, "pipelineml", "modelify", "--pipeline", "training", "--input-name", "raw_dat"
    )

    assert plain.returncode == 1, failure(plain)
    assert "Pipeline 'other' is a plain Pipeline, not a PipelineML" in plain.stderr
    assert "memory_training, training" in plain.stderr
    assert unknown.returncode == 1, failure(unknown)
    assert "No pipeline 'trainig' is registered" in unknown.stderr
    assert "'training'" in unknown.stderr
    assert bad_input.returncode == 1, failure(bad_input)
    assert "PipelineML 'training' cannot be logged with these options" in bad_input.stderr
    assert "raw_dat" in bad_input.stderr
    assert "Traceback" not in bad_input.stderr
    assert all_runs(uri) == []
