"""Fixtures of the hooks tests: MLflow isolation, real servers and clusters.

Every test gets its own SQLite tracking store in ``tmp_path`` and runs with ``tmp_path`` as
working directory, so nothing (``mlflow.db``, ``mlruns/``) lands in the repository; MLflow's
process-wide state (tracking and registry URIs, active experiment, active runs) is put back
afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest

from pipelineml.hooks import log_pipeline_model
from tests._support.fixtures import local_cluster, mlflow_server  # noqa: F401
from tests._support.mlflow_store import (
    MLFLOW_ENV,
    clear_mlflow_env,
    copy_store,
    make_template_store,
    own_store,
    reset_mlflow_globals,
)
from tests._support.toy_model import FAST_LOG, toy_pipeline_ml, trained_catalog

HERE = Path(__file__).resolve().parent

#: Warnings MLflow itself emits while logging any model with a signature and no input
#: example; pyproject.toml turns warnings into errors, and inside MlflowHook an error here
#: would make the hook skip the model, so they are ignored for this directory only.
MLFLOW_LOGGING_WARNINGS = (
    "ignore:.*An input example was not provided when logging the model:UserWarning",
    "ignore:.*Inferred schema contains integer column:UserWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Apply ``MLFLOW_LOGGING_WARNINGS`` to the tests of this directory."""
    for item in items:
        if item.path.is_relative_to(HERE):
            for spec in MLFLOW_LOGGING_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated SQLite tracking store that tests copy."""
    return make_template_store(tmp_path_factory.mktemp("mlflow-template"))


@pytest.fixture(autouse=True)
def mlflow_isolation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_template: Path
) -> Iterator[str]:
    """A fresh SQLite tracking store per test; MLflow's globals restored afterwards.

    The store is MLflow's current tracking and registry URI, but MLflow's environment
    variables are removed (``mlflow.set_tracking_uri`` exports one), so a Kedro run tracks
    to the project's default store unless the test sets ``tracking_env``.
    """
    for name in MLFLOW_ENV:
        monkeypatch.delenv(name, raising=False)
    saved = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    monkeypatch.chdir(tmp_path)
    uri = copy_store(store_template, tmp_path / "mlflow-test.db")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    clear_mlflow_env()
    try:
        yield uri
    finally:
        reset_mlflow_globals(*saved)


@pytest.fixture
def experiment(mlflow_isolation: str, tmp_path: Path) -> str:
    """An experiment of the test's store whose artifacts live in ``tmp_path``; made active."""
    experiment_id = mlflow.create_experiment(
        "hooks-tests", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    return str(experiment_id)


@pytest.fixture
def tracking_env(mlflow_isolation: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """MLFLOW_TRACKING_URI set to the test's store, where a Kedro run then tracks."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_isolation)
    return mlflow_isolation


@pytest.fixture(scope="module")
def logged_toy(tmp_path_factory: pytest.TempPathFactory, store_template: Path) -> Path:
    """The toy PipelineML trained and logged once; a local copy of the logged model."""
    folder = tmp_path_factory.mktemp("logged-toy")
    catalog = trained_catalog(folder / "project")
    with own_store(folder, store_template):
        info = log_pipeline_model(toy_pipeline_ml(), catalog, **FAST_LOG)
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=info.model_uri, dst_path=str(folder / "downloaded")
            )
        )
