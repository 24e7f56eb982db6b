"""MLflow helpers of the tests: SQLite store URIs, isolated stores and read-only queries."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import mlflow
import pytest
from mlflow.entities import LoggedModel, Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

#: Environment variables through which MLflow picks a store, an experiment or a run.
MLFLOW_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_ID",
)


def sqlite_uri(path: Path) -> str:
    """``sqlite:///<absolute path>``; the folder is created (SQLite creates only the file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve().as_posix()}"


def make_template_store(folder: Path) -> Path:
    """Create an empty, fully migrated SQLite tracking store in ``folder``; return its file.

    Creating a store runs MLflow's schema migrations (one to several seconds on this
    machine); tests copy this file instead (``copy_store``), which takes milliseconds and
    still gives every test a store of its own.
    """
    path = folder / "template.db"
    with contextlib.chdir(folder):  # the Default experiment's artifacts stay in folder
        MlflowClient(tracking_uri=sqlite_uri(path)).search_experiments()
    return path


def copy_store(template: Path, target: Path, *, default_artifacts: Path | None = None) -> str:
    """Copy the template store to ``target`` and return its URI.

    The copy's Default experiment keeps its artifacts where the template's does (an absolute
    path, in the template's folder), unless ``default_artifacts`` names a folder of its own.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    if default_artifacts is not None:
        db = sqlite3.connect(target)
        try:
            with db:
                db.execute(
                    "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                    (str(default_artifacts),),
                )
        finally:
            db.close()
    return sqlite_uri(target)


def clear_mlflow_env() -> None:
    """Remove MLflow's environment variables from ``os.environ``.

    ``mlflow.set_tracking_uri``/``set_registry_uri`` export ``MLFLOW_TRACKING_URI`` and
    ``MLFLOW_REGISTRY_URI`` (for subprocesses) and ``set_experiment`` exports
    ``MLFLOW_EXPERIMENT_ID``; callers put the values from before the test back with
    ``monkeypatch``.
    """
    for name in MLFLOW_ENV:
        os.environ.pop(name, None)


def reset_mlflow_globals(tracking_uri: str, registry_uri: str) -> None:
    """End every active run and put back MLflow's process-wide settings.

    The environment variables MLflow exported meanwhile are removed; the caller's
    ``monkeypatch`` restores those that existed before.
    """
    while mlflow.active_run() is not None:
        # end_run pops the run before terminating it: a run whose store is no longer the
        # current one (a test that failed half-way) is dropped without looping.
        with contextlib.suppress(MlflowException):
            mlflow.end_run()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri)
    # mlflow.set_experiment() remembers the experiment id in a module global (no public
    # API clears it); a stale id would send the next test's models to an experiment of
    # another store.
    mlflow.tracking.fluent._active_experiment_id = None
    clear_mlflow_env()


@contextlib.contextmanager
def clean_mlflow_state() -> Iterator[None]:
    """For module-scoped fixtures: no MLflow environment variables inside the block, and
    MLflow's globals and environment put back afterwards."""
    saved = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    with pytest.MonkeyPatch.context() as patch:
        for name in MLFLOW_ENV:
            patch.delenv(name, raising=False)
        try:
            yield
        finally:
            reset_mlflow_globals(*saved)


@contextlib.contextmanager
def own_store(folder: Path, template: Path, experiment: str = "module") -> Iterator[str]:
    """A tracking store in ``folder`` (a copy of ``template``) with an active experiment
    whose artifacts live there, for the duration of the block (for module-scoped
    fixtures); MLflow's globals restored."""
    uri = copy_store(template, folder / "mlflow.db")
    with clean_mlflow_state(), contextlib.chdir(folder):
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        experiment_id = mlflow.create_experiment(
            experiment, artifact_location=(folder / "artifacts").as_uri()
        )
        mlflow.set_experiment(experiment_id=experiment_id)
        yield uri


def all_runs(tracking_uri: str) -> list[Run]:
    """Every run of every experiment of the store."""
    client = MlflowClient(tracking_uri=tracking_uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(ids)) if ids else []


def all_logged_models(tracking_uri: str) -> list[LoggedModel]:
    """Every logged model of every experiment of the store."""
    client = MlflowClient(tracking_uri=tracking_uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_logged_models(ids)) if ids else []


def local_path(uri: str) -> Path:
    """The local path of a ``file://`` artifact location."""
    parsed = urlparse(uri)
    assert parsed.scheme in {"", "file"}, uri
    return Path(unquote(parsed.path))
