"""A model registered by training (log_model_kwargs) loads by version and by alias."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._support.mlflow_store import sqlite_uri
from tests._support.trained_project import (
    STRICT_THRESHOLD,
    TrainedModel,
    assert_same_predictions,
    load_and_predict,
    tracking,
    train_project,
)

pytestmark = pytest.mark.slow

REGISTERED_NAME = "e2e_breast_cancer_classifier"


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """The project trained once with log_model_kwargs={"registered_model_name": ...}."""
    workdir = tmp_path_factory.mktemp("registry")
    return train_project(
        workdir / "project",
        sqlite_uri(workdir / "tracking" / "mlflow.db"),
        registered_model_name=REGISTERED_NAME,
    )


def test_training_registers_version_1_of_the_runs_model(registered: TrainedModel) -> None:
    """One training run gives version 1, READY, pointing at the run and its logged model."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(
        tracking_uri=registered.tracking_uri, registry_uri=registered.tracking_uri
    )

    versions = client.search_model_versions(f"name='{REGISTERED_NAME}'")

    assert [str(v.version) for v in versions] == ["1"]
    version = versions[0]
    assert version.status == "READY"
    assert version.run_id == registered.run_id
    # MLflow's SQL registry keeps the logged model's URI as the source (model_id stays None).
    assert version.source == registered.model_uri


def test_model_loads_by_name_and_version(registered: TrainedModel, tmp_path: Path) -> None:
    """models:/<name>/1 predicts like the nodes, with and without a threshold param."""
    uri = f"models:/{REGISTERED_NAME}/1"

    default = load_and_predict(uri, registered.tracking_uri, registered.sample, tmp_path / "a")
    strict = load_and_predict(
        uri,
        registered.tracking_uri,
        registered.sample,
        tmp_path / "b",
        params={"threshold": STRICT_THRESHOLD},
    )

    assert_same_predictions(default, registered.expected())
    assert_same_predictions(strict, registered.expected(STRICT_THRESHOLD))


def test_model_loads_by_alias(registered: TrainedModel, tmp_path: Path) -> None:
    """After set_registered_model_alias(name, "champion", 1), models:/<name>@champion predicts."""
    from mlflow.tracking import MlflowClient

    with tracking(registered.tracking_uri):
        client = MlflowClient()
        client.set_registered_model_alias(REGISTERED_NAME, "champion", "1")
        assert str(client.get_model_version_by_alias(REGISTERED_NAME, "champion").version) == "1"

    actual = load_and_predict(
        f"models:/{REGISTERED_NAME}@champion",
        registered.tracking_uri,
        registered.sample,
        tmp_path,
    )

    assert_same_predictions(actual, registered.expected())
