"""Fixtures of the integration tests: real servers and clusters from ``tests._support``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._support.deploy import deploy_tools  # noqa: F401
from tests._support.fixtures import dask_cluster, local_cluster, mlflow_server  # noqa: F401
from tests._support.mlflow_store import sqlite_uri
from tests._support.trained_project import TrainedModel, make_venv, train_project


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """The end-to-end project trained once by `kedro run --pipeline=training` (SQLite store).

    The tracking URI reaches the Kedro CLI through ``MLFLOW_TRACKING_URI`` (the project has
    no ``mlflow.yml``), the way a user without configuration would point it elsewhere.
    """
    workdir = tmp_path_factory.mktemp("trained-model")
    return train_project(
        workdir / "project", sqlite_uri(workdir / "tracking" / "mlflow.db"), via="env"
    )


@pytest.fixture(scope="session")
def pipelineml_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv with pipelineml and the nodes' libraries, no Kedro project."""
    return make_venv(tmp_path_factory.mktemp("pipelineml-venv") / "venv")
