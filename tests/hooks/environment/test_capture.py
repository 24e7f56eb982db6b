"""ModuleCapture: what a model imports, recorded by an interpreter started with the run.

The capture must change nothing but the waiting: the same requirements as MLflow's public
inference, a clear error when the model does not load, and MLflow's inference whenever the
capture cannot serve (failed, late, already used). Nothing of MLflow's is replaced.
"""

from __future__ import annotations

import logging
import stat
from importlib.metadata import version
from pathlib import Path

import mlflow
import mlflow.models
import psutil
import pytest
from mlflow.utils import requirements_utils

from pipelineml.hooks import KedroPipelineModelError, log_pipeline_model
from pipelineml.hooks.environment._capture import ModuleCapture
from pipelineml.hooks.model._log_model import log_model
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
    """An executable standing in for the capture's interpreter."""
    path = folder / "fake-python"
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def capture_processes() -> list[psutil.Process]:
    """Live children of this process running the capture interpreter."""
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


def test_early_capture_gives_the_requirements_of_a_late_one(tmp_path: Path) -> None:
    """Captured by an interpreter started early or by one started at logging time, the
    requirement files are equal; MLflow's own functions are left as they are."""
    catalog = trained_catalog(tmp_path / "project")
    run_command, infer = requirements_utils._run_command, mlflow.models.infer_pip_requirements
    alone = log_pipeline_model(toy_pipeline_ml(), catalog, name="alone")

    capture = ModuleCapture()
    capture.start()
    assert capture.prepare()
    helped = log_model(
        toy_pipeline_ml(), catalog, log_model_kwargs={"name": "helped"}, capture=capture
    )

    assert capture_processes() == []
    expected = environment_files(alone.model_uri, tmp_path / "alone")
    assert "pandas==" in expected["requirements.txt"]
    assert f"kedro=={version('kedro')}" in expected["requirements.txt"].splitlines()
    assert environment_files(helped.model_uri, tmp_path / "helped") == expected
    assert (requirements_utils._run_command, mlflow.models.infer_pip_requirements) == (
        run_command,
        infer,
    )


def test_failed_capture_is_done_again_at_logging_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An interpreter that dies at start is reported at DEBUG; a new one captures."""
    catalog = trained_catalog(tmp_path / "project")
    capture = ModuleCapture(python=fake_python(tmp_path, "echo 'no mlflow here' >&2; exit 3"))
    capture.start()

    with caplog.at_level(logging.DEBUG, logger="pipelineml.hooks"):
        assert not capture.prepare()
        info = log_model(toy_pipeline_ml(), catalog, log_model_kwargs={}, capture=capture)

    messages = [r.getMessage() for r in caplog.records]
    assert any("no mlflow here" in m for m in messages)
    assert any(m.startswith("Module capture: the model imports") for m in messages)
    assert "pandas==" in environment_files(info.model_uri, tmp_path / "m")["requirements.txt"]


def test_capture_not_ready_in_time_is_stopped(tmp_path: Path) -> None:
    """An interpreter that does not answer within the wait is killed, not waited for."""
    pid_file = tmp_path / "pid"
    capture = ModuleCapture(python=fake_python(tmp_path, f"echo $$ > {pid_file}; exec sleep 60"))
    capture.start()

    assert not capture.prepare(timeout=1.0)

    pid = int(pid_file.read_text(encoding="utf-8"))
    with pytest.raises(psutil.NoSuchProcess):
        psutil.Process(pid).status()


def test_model_that_does_not_load_is_named(tmp_path: Path) -> None:
    """A model that fails to load in the capture gives an error saying so, with the reason."""
    capture = ModuleCapture()
    capture.start()
    with pytest.raises(KedroPipelineModelError, match=r"Loading the model .* failed") as error:
        capture.capture(tmp_path / "no-such-model")
    assert "python_function" in str(error.value)
    assert capture_processes() == []


def test_training_run_infers_requirements_with_the_capture(
    tmp_path: Path, tracking_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A kedro run logging a model with inferred requirements uses the capture, then stops."""
    root = make_project(tmp_path / "project", log_model_kwargs={})

    with caplog.at_level(logging.DEBUG, logger="pipelineml.hooks"):
        run_in_session(root, ["training"])

    (model,) = all_logged_models(tracking_env)
    files = environment_files(f"models:/{model.model_id}", tmp_path / "m")
    assert f"kedro=={version('kedro')}" in files["requirements.txt"].splitlines()
    assert "pipelineml" not in files["requirements.txt"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Module capture interpreter started" in m for m in messages) == 1
    assert any(m.startswith("Module capture: the model imports") for m in messages)
    assert capture_processes() == []


def test_failed_training_run_stops_the_capture(tmp_path: Path, tracking_env: str) -> None:
    """A failing node ends the run with no capture process left behind."""
    root = make_project(tmp_path / "project", log_model_kwargs={})

    with pytest.raises(RuntimeError, match="fit_model failed on purpose"):
        run_in_session(root, ["training"], extra_params={"fail": True})

    assert capture_processes() == []
    assert all_logged_models(tracking_env) == []


def test_given_requirements_start_no_capture(tmp_path: Path, tracking_env: str) -> None:
    """pip_requirements in log_model_kwargs: nothing is inferred, so no capture starts."""
    root = make_project(tmp_path / "project", log_model_kwargs={"pip_requirements": ["pandas"]})
    started: list[ModuleCapture] = []
    original = ModuleCapture.start

    def spy(self: ModuleCapture) -> None:
        started.append(self)
        original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ModuleCapture, "start", spy)
        run_in_session(root, ["training"])

    assert started == []
    assert len(all_logged_models(tracking_env)) == 1
