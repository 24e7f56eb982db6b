"""What `kedro run` tells the user and MLflow when a model cannot be logged, through the CLI.

Every test runs ``python -m kedro run`` in a generated project (tests/_support/run_project.py)
and asserts on the exit status, the output, the files training wrote and the MLflow store.
"""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from pipelineml.hooks.errors import MlflowRunError
from tests._support.kedro_project import run_in_session, run_kedro_cli
from tests._support.mlflow_store import all_logged_models, all_runs, copy_store
from tests._support.run_project import CATALOG, PARAMETERS, TRAINING_OUTPUT, make_run_project
from tests._support.toy_model import FAST_LOG

pytestmark = pytest.mark.slow


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_template: Path) -> str:
    """A ready tracking store that the `kedro run` subprocesses use (MLFLOW_TRACKING_URI)."""
    uri = copy_store(store_template, tmp_path / "cli.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def _output(completed: object) -> str:
    return f"{getattr(completed, 'stdout', '')}\n{getattr(completed, 'stderr', '')}"


def test_preflight_reports_every_problem_once_before_any_node(
    tmp_path: Path, cli_store: str
) -> None:
    """Six problems: one block, each with its file and a close name; no node ran; FAILED."""
    catalog = {
        "raw_data": CATALOG["raw_data"],
        "instance": CATALOG["instances"],  # a typo of input_name 'instances'
        # A table: no file to carry in the model.
        "scaler": {
            "type": "pandas.SQLTableDataset",
            "table_name": "scalers",
            "credentials": {"con": "sqlite:///scalers.db"},
        },
        "model": {"type": "MemoryDataset"},
    }
    parameters = {"n_rows": 20, "alpha": 1.0, "treshold": 0.5}  # a typo of 'threshold'
    root = make_run_project(
        tmp_path / "project",
        catalog=catalog,
        parameters=parameters,
        kpm_kwargs={"runner": "SequentialRuner"},
        log_model_kwargs={**FAST_LOG, "registred_model_name": "typo"},
    )

    completed = run_kedro_cli(root, "run")

    output = _output(completed)
    assert completed.returncode == 1, output
    assert output.count("pipelineml pre-flight check: 6 problems") == 1, output
    assert "Traceback" not in output
    block = completed.stderr[completed.stderr.index("Error: pipelineml pre-flight") :]
    assert "'model' is a MemoryDataset" in block
    assert "Inference input 'scaler' (" in block
    assert "SQLTableDataset) has no 'filepath'" in " ".join(block.split())
    assert "Fix it in conf/base/catalog.yml." in block
    assert "Parameter 'params:threshold'" in block
    assert "Did you mean 'params:treshold'?" in block
    assert "Fix it in conf/base/parameters.yml." in block
    assert "input_name 'instances' is not in the catalog" in block
    assert "Did you mean 'instance'?" in block
    assert "Unknown runner 'SequentialRuner'" in block
    assert "Did you mean 'SequentialRunner'?" in block
    assert "log_model_kwargs has 'registred_model_name'" in block
    assert "Did you mean 'registered_model_name'?" in block
    assert not (root / TRAINING_OUTPUT).exists()
    (run,) = all_runs(cli_store)
    assert run.info.status == "FAILED"
    assert "'model' is a MemoryDataset" in run.data.tags["pipelineml.preflight"]
    assert f"MLflow run {run.info.run_id} is marked FAILED" in block
    assert all_logged_models(cli_store) == []


def test_bad_allowed_runners_is_a_preflight_problem(tmp_path: Path, cli_store: str) -> None:
    """kpm_kwargs allowed_runners naming no registered runner stops the run before training."""
    root = make_run_project(
        tmp_path / "project",
        kpm_kwargs={"allowed_runners": ["SequentialRunner", "DaskRuner"]},
        log_model_kwargs=FAST_LOG,
    )

    completed = run_kedro_cli(root, "run")

    output = _output(completed)
    assert completed.returncode == 1, output
    assert "1 problem would stop the model of PipelineML '__default__'" in output
    assert "allowed_runners names 'DaskRuner', which is not a registered runner" in output
    assert "Did you mean 'DaskRunner'?" in output
    assert not (root / TRAINING_OUTPUT).exists()
    assert [r.info.status for r in all_runs(cli_store)] == ["FAILED"]


def test_missing_signature_sample_is_a_preflight_problem(tmp_path: Path, cli_store: str) -> None:
    """input_name read from a file no node writes and that does not exist: refused early."""
    catalog = {
        **CATALOG,
        "instances": {"type": "pandas.CSVDataset", "filepath": "data/05_model_input/x.csv"},
    }
    root = make_run_project(tmp_path / "project", catalog=catalog, log_model_kwargs=FAST_LOG)

    completed = run_kedro_cli(root, "run")

    output = _output(completed)
    assert completed.returncode == 1, output
    assert "1 problem would stop the model of PipelineML '__default__'" in output
    assert "No sample of input_name 'instances' exists at 'data/05_model_input/x.csv'" in output
    assert "Traceback" not in output
    assert not (root / TRAINING_OUTPUT).exists()
    assert [r.info.status for r in all_runs(cli_store)] == ["FAILED"]


def test_tracking_store_that_cannot_open_is_reported_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tracking URI under a file (not a folder): one message naming it, no node run."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "a-file").write_text("not a folder")
    uri = f"sqlite:///{(tmp_path / 'a-file' / 'mlflow.db').as_posix()}"
    root = make_run_project(
        tmp_path / "project",
        mlflow_yml={"server": {"tracking_uri": uri}},
        log_model_kwargs=FAST_LOG,
    )

    completed = run_kedro_cli(root, "run")

    output = _output(completed)
    assert completed.returncode == 1, output
    assert f"The MLflow tracking store '{uri}' cannot be opened" in output
    assert "Fix it in conf/base/mlflow.yml." in output
    assert "No MLflow run was opened and no node has run." in output
    assert "Traceback" not in output
    assert not (root / TRAINING_OUTPUT).exists()


def test_registry_that_cannot_open_is_a_preflight_problem(tmp_path: Path, cli_store: str) -> None:
    """A model to register and a registry that does not open: refused before training."""
    (tmp_path / "a-file").write_text("not a folder")
    uri = f"sqlite:///{(tmp_path / 'a-file' / 'registry.db').as_posix()}"
    root = make_run_project(
        tmp_path / "project",
        mlflow_yml={"server": {"registry_uri": uri}},
        log_model_kwargs={**FAST_LOG, "registered_model_name": "never"},
    )

    completed = run_kedro_cli(root, "run")

    output = _output(completed)
    assert completed.returncode == 1, output
    assert f"The MLflow registry store '{uri}' cannot be opened" in output
    assert "Set server.registry_uri in mlflow.yml or MLFLOW_REGISTRY_URI" in output
    assert "Traceback" not in output
    assert not (root / TRAINING_OUTPUT).exists()
    assert [r.info.status for r in all_runs(cli_store)] == ["FAILED"]


def test_preflight_problems_with_on_failure_warn_train_without_the_model(
    tmp_path: Path, cli_store: str
) -> None:
    """on_failure: warn turns pre-flight problems into one warning; training runs; FINISHED."""
    parameters = {key: value for key, value in PARAMETERS.items() if key != "threshold"}
    root = make_run_project(
        tmp_path / "project",
        parameters=parameters,
        log_model_kwargs=FAST_LOG,
        mlflow_yml={"tracking": {"model": {"on_failure": "warn"}}},
    )

    completed = run_kedro_cli(root, "run")

    output = _output(completed)
    assert completed.returncode == 0, output
    assert output.count("pipelineml pre-flight check") == 1, output
    assert (root / TRAINING_OUTPUT).exists()
    (run,) = all_runs(cli_store)
    assert run.info.status == "FINISHED"
    assert "params:threshold" in run.data.tags["pipelineml.preflight"]
    assert "__default__" in run.data.tags["pipelineml.model_not_logged"]
    assert all_logged_models(cli_store) == []


def test_failed_sample_prediction_fails_the_run_and_the_command(
    tmp_path: Path, cli_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An inference node failing on the sample after training: FAILED, exit 1, said once."""
    monkeypatch.setenv("PIPELINEML_TEST_FAIL_PREDICT", "1")
    root = make_run_project(tmp_path / "project", log_model_kwargs=FAST_LOG)

    completed = run_kedro_cli(root, "run")

    output = _output(completed)
    assert completed.returncode == 1, output
    assert output.count("predict failed on purpose") == 1, output
    assert "The model of PipelineML '__default__' was not logged" in output
    assert "tracking.model.on_failure: warn in conf/base/mlflow.yml" in output
    assert "Traceback" not in output
    assert (root / TRAINING_OUTPUT).exists()  # training itself ran
    (run,) = all_runs(cli_store)
    assert run.info.status == "FAILED"
    assert "predict failed on purpose" in run.data.tags["pipelineml.model_not_logged"]
    assert [m.status for m in all_logged_models(cli_store) if m.status == "READY"] == []


def test_failed_sample_prediction_with_on_failure_warn_finishes(
    tmp_path: Path, cli_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With on_failure: warn the same failure is one warning; exit 0; FINISHED, no model."""
    monkeypatch.setenv("PIPELINEML_TEST_FAIL_PREDICT", "1")
    root = make_run_project(
        tmp_path / "project",
        log_model_kwargs=FAST_LOG,
        mlflow_yml={"tracking": {"model": {"on_failure": "warn"}}},
    )

    completed = run_kedro_cli(root, "run")

    output = _output(completed)
    assert completed.returncode == 0, output
    assert output.count("predict failed on purpose") == 1, output
    assert "Traceback" not in output
    (run,) = all_runs(cli_store)
    assert run.info.status == "FINISHED"
    assert "predict failed on purpose" in run.data.tags["pipelineml.model_not_logged"]


def test_logged_model_is_announced_on_one_line(
    tmp_path: Path, cli_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One unwrapped stdout line: run id, model URI, registered name and version."""
    monkeypatch.setenv("COLUMNS", "60")  # a narrow terminal would make a log handler wrap
    root = make_run_project(
        tmp_path / "project",
        log_model_kwargs={**FAST_LOG, "registered_model_name": "outcome-model"},
    )

    completed = run_kedro_cli(root, "run")

    assert completed.returncode == 0, _output(completed)
    (run,) = all_runs(cli_store)
    (model,) = all_logged_models(cli_store)
    lines = [line for line in completed.stdout.splitlines() if "logged as model" in line]
    assert lines == [
        f"MLflow run {run.info.run_id}: PipelineML '__default__' logged as model "
        f"models:/{model.model_id} (runs:/{run.info.run_id}/model), registered as "
        "'outcome-model' version 1"
    ]
    assert run.info.status == "FINISHED"
    assert run.data.params["threshold"] == "0.5"  # used by inference only
    (version,) = MlflowClient(cli_store, cli_store).search_model_versions("name = 'outcome-model'")
    assert version.source == f"models:/{model.model_id}"


def test_preflight_refusal_leaves_a_callers_run_open(tmp_path: Path, mlflow_isolation: str) -> None:
    """Inside the caller's active run, a refused run only tags it and says it is left open."""
    parameters = {key: value for key, value in PARAMETERS.items() if key != "threshold"}
    root = make_run_project(tmp_path / "project", parameters=parameters, log_model_kwargs=FAST_LOG)

    with mlflow.start_run() as outer:
        with pytest.raises(MlflowRunError, match=r"\(opened by the caller\) is left open"):
            run_in_session(root)
        status = MlflowClient().get_run(outer.info.run_id).info.status
        tags = MlflowClient().get_run(outer.info.run_id).data.tags

    assert status == "RUNNING"
    assert "params:threshold" in tags["pipelineml.preflight"]
    assert not (root / TRAINING_OUTPUT).exists()


def test_troubleshooting_page_shows_the_real_block(tmp_path: Path, cli_store: str) -> None:
    """The pre-flight block on docs/troubleshooting.md is what `kedro run` prints."""
    page = (Path(__file__).parents[3] / "docs" / "troubleshooting.md").read_text()
    after = page[page.index("**After**") :]
    opening = '```text title="Error"\n'
    start = after.index(opening) + len(opening)
    shown = after[start : after.index("\n```", start)]
    catalog = {key: value for key, value in CATALOG.items() if key != "model"}
    parameters = {"n_rows": 20, "alpha": 1.0, "treshold": 0.5}
    root = make_run_project(
        tmp_path / "project", catalog=catalog, parameters=parameters, log_model_kwargs=FAST_LOG
    )

    completed = run_kedro_cli(root, "run", "--pipeline", "training")

    assert completed.returncode == 1, _output(completed)
    printed = completed.stderr[completed.stderr.index("Error: pipelineml") :].rstrip()
    run_id = re.compile(r"MLflow run [0-9a-f]{32}")
    # The page wraps long lines at spaces to fit its column: compare word for word.
    assert run_id.sub("MLflow run <id>", printed).split() == (
        run_id.sub("MLflow run <id>", shown).split()
    )
    assert max(len(line) for line in shown.splitlines()) <= 88


def test_requirements_no_deployment_can_install_are_a_preflight_problem(
    tmp_path: Path, cli_store: str
) -> None:
    """pip_requirements naming pipelineml-core: refused before any node, line and key named."""
    root = make_run_project(
        tmp_path / "project",
        log_model_kwargs={"pip_requirements": ["pandas", "pipelineml-core==0.1.0"]},
    )

    completed = run_kedro_cli(root, "run")

    output = _output(completed)
    assert completed.returncode == 1, output
    assert "pipelineml pre-flight check: 1 problem would stop" in output
    assert "pip_requirements: 'pipelineml-core==0.1.0': pipelineml's own code travels" in output
    assert "Traceback" not in output
    assert not (root / TRAINING_OUTPUT).exists()
    (run,) = all_runs(cli_store)
    assert run.info.status == "FAILED"
