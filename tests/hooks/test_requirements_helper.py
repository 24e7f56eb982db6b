"""RequirementsHelper: MLflow's requirement inference served by an interpreter started early.

The helper must change nothing but the waiting: the same requirements as MLflow's own
inference, MLflow's own errors, and MLflow doing everything itself whenever the helper
cannot be trusted (changed environment, failed or late helper).
"""

from __future__ import annotations

import json
import logging
import stat
import sys
from importlib.metadata import version
from pathlib import Path

import mlflow
import psutil
import pytest
from mlflow.exceptions import MlflowException
from mlflow.utils import _capture_modules, requirements_utils

from pipelineml.hooks import log_pipeline_model
from pipelineml.hooks._mlflow_internals import capture_environment
from pipelineml.hooks._requirements_helper import RequirementsHelper
from tests._support.kedro_project import run_in_session
from tests._support.mlflow_store import all_logged_models
from tests._support.toy_model import toy_pipeline_ml, trained_catalog
from tests._support.toy_project import make_project

pytestmark = pytest.mark.slow

ENVIRONMENT_FILES = ("requirements.txt", "conda.yaml", "python_env.yaml")


def environment_files(model_uri: str, folder: Path) -> dict[str, str]:
    """The environment files of a logged model."""
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(folder)))
    return {name: (local / name).read_text(encoding="utf-8") for name in ENVIRONMENT_FILES}


def fake_python(folder: Path, body: str) -> str:
    """An executable standing in for the helper's interpreter."""
    path = folder / "fake-python"
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def helper_processes() -> list[psutil.Process]:
    """Live children of this process running the helper script."""
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and any(
                "_capture_modules" in part for part in child.cmdline()
            ):
                alive.append(child)
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.fixture
def fresh_module_map(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's module-to-distribution map unbuilt, as in a new process (restored after)."""
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)


@pytest.mark.usefixtures("fresh_module_map")
def test_helper_logs_the_requirements_mlflow_infers_itself(tmp_path: Path) -> None:
    """With the helper, the model's requirement files are the ones MLflow writes alone."""
    catalog = trained_catalog(tmp_path / "project")
    alone = log_pipeline_model(toy_pipeline_ml(), catalog, name="alone")

    helper = RequirementsHelper()
    helper.start()
    assert helper.prepare()
    with helper.serving():
        helped = log_pipeline_model(toy_pipeline_ml(), catalog, name="helped")

    assert helper.used
    assert not helper.running
    expected = environment_files(alone.model_uri, tmp_path / "alone")
    assert "pandas==" in expected["requirements.txt"]
    assert environment_files(helped.model_uri, tmp_path / "helped") == expected
    assert requirements_utils._run_command.__module__ == requirements_utils.__name__


@pytest.mark.usefixtures("fresh_module_map")
def test_helper_scan_becomes_the_map_mlflow_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper's scan, through MLflow's initialiser, gives MLflow's own module map."""
    requirements_utils._init_modules_to_packages_map()
    own = requirements_utils._MODULES_TO_PACKAGES
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)

    helper = RequirementsHelper()
    helper.start()
    try:
        assert helper.prepare()
        assert own == requirements_utils._MODULES_TO_PACKAGES
        assert "mlflow" in own
    finally:
        helper.close()
    assert helper_processes() == []


def test_changed_environment_leaves_the_capture_to_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An environment variable set after the helper started: MLflow captures in a new process."""
    catalog = trained_catalog(tmp_path / "project")
    helper = RequirementsHelper()
    helper.start()
    assert helper.prepare()
    monkeypatch.setenv("PIPELINEML_TEST_CHANGED", "1")
    with helper.serving():
        info = log_pipeline_model(toy_pipeline_ml(), catalog)

    assert not helper.used
    assert helper.running
    helper.close()
    assert not helper.running
    assert "pandas==" in environment_files(info.model_uri, tmp_path / "m")["requirements.txt"]


@pytest.mark.usefixtures("fresh_module_map")
def test_failed_helper_leaves_everything_to_mlflow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A helper that dies at start is reported at DEBUG; MLflow scans and captures itself."""
    catalog = trained_catalog(tmp_path / "project")
    helper = RequirementsHelper(python=fake_python(tmp_path, "echo 'no mlflow here' >&2; exit 3"))
    helper.start()
    assert helper.running

    with caplog.at_level(logging.DEBUG, logger="pipelineml.hooks"):
        assert not helper.prepare()
    with helper.serving():
        info = log_pipeline_model(toy_pipeline_ml(), catalog)

    assert not helper.running
    assert not helper.used
    assert any("no mlflow here" in r.getMessage() for r in caplog.records)
    assert requirements_utils._MODULES_TO_PACKAGES is not None
    assert "pandas==" in environment_files(info.model_uri, tmp_path / "m")["requirements.txt"]


def test_helper_not_ready_in_time_is_stopped(tmp_path: Path) -> None:
    """A helper that does not answer within the wait is killed, not waited for."""
    pid_file = tmp_path / "pid"
    helper = RequirementsHelper(
        python=fake_python(tmp_path, f"echo $$ > {pid_file}; exec sleep 60")
    )
    helper.start()
    assert helper.running

    assert not helper.prepare(timeout=1.0)

    assert not helper.running
    pid = int(pid_file.read_text(encoding="utf-8"))
    with pytest.raises(psutil.NoSuchProcess):
        psutil.Process(pid).status()


def test_capture_failing_in_the_helper_raises_mlflow_s_error(tmp_path: Path) -> None:
    """A capture that fails in the helper raises MLflow's own error, as a new process would."""
    command = [
        sys.executable,
        _capture_modules.__file__,
        "--model-path",
        str(tmp_path / "no-such-model"),
        "--flavor",
        "python_function",
        "--output-file",
        str(tmp_path / "modules.txt"),
        "--sys-path",
        json.dumps(sys.path),
    ]
    with pytest.raises(MlflowException, match="exit status: 1") as alone:
        requirements_utils._run_command(command, 120, env=capture_environment())

    helper = RequirementsHelper()
    helper.start()
    assert helper.prepare()
    with helper.serving(), pytest.raises(MlflowException, match="exit status: 1") as helped:
        requirements_utils._run_command(command, 120, env=capture_environment())

    assert helper.used
    assert "No module named 'mlflow.python_function'" in str(alone.value)
    assert "No module named 'mlflow.python_function'" in str(helped.value)


@pytest.mark.usefixtures("fresh_module_map")
def test_training_run_infers_requirements_with_the_helper(
    tmp_path: Path, tracking_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A kedro run logging a model with inferred requirements uses the helper, then stops it."""
    root = make_project(tmp_path / "project", log_model_kwargs={})

    with caplog.at_level(logging.DEBUG, logger="pipelineml.hooks"):
        run_in_session(root, ["training"])

    (model,) = all_logged_models(tracking_env)
    files = environment_files(f"models:/{model.model_id}", tmp_path / "m")
    assert f"kedro=={version('kedro')}" in files["requirements.txt"].splitlines()
    assert "pipelineml" not in files["requirements.txt"]
    assert any("helper started" in r.getMessage() for r in caplog.records)
    assert helper_processes() == []


def test_failed_training_run_stops_the_helper(tmp_path: Path, tracking_env: str) -> None:
    """A failing node ends the run with no helper process left behind."""
    root = make_project(tmp_path / "project", log_model_kwargs={})

    with pytest.raises(RuntimeError, match="fit_model failed on purpose"):
        run_in_session(root, ["training"], extra_params={"fail": True})

    assert helper_processes() == []
    assert all_logged_models(tracking_env) == []


def test_given_requirements_start_no_helper(tmp_path: Path, tracking_env: str) -> None:
    """pip_requirements in log_model_kwargs: MLflow infers nothing, so no helper is started."""
    root = make_project(tmp_path / "project", log_model_kwargs={"pip_requirements": ["pandas"]})
    started: list[RequirementsHelper] = []
    original = RequirementsHelper.start

    def spy(self: RequirementsHelper) -> None:
        started.append(self)
        original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RequirementsHelper, "start", spy)
        run_in_session(root, ["training"])

    assert started == []
    assert len(all_logged_models(tracking_env)) == 1
