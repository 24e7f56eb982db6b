"""Nothing left in a false state: concurrent first runs, half-migrated stores, dead owners.

The concurrent and half-migrated cases run real ``kedro run`` processes (a store's schema
is created and migrated per process, and MLflow caches stores per process); the recovery
of runs whose owner died runs against a store of the test's own, with real dead processes.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.tracking import MlflowClient

from pipelineml.hooks.tracking._recovery import (
    TAG_HOST,
    TAG_PID,
    TAG_RECOVERED,
    TAG_STARTED,
    close_orphaned_runs,
    owner_tags,
)
from pipelineml.hooks.tracking._store_lock import opening_stores, sqlite_file
from tests._support.kedro_project import kedro_cli_env, run_kedro_cli
from tests._support.mlflow_store import all_logged_models, all_runs, copy_store
from tests._support.process import interpreter
from tests._support.run_project import make_run_project
from tests._support.toy_model import FAST_LOG

pytestmark = pytest.mark.slow

CONCURRENT_RUNS = 8


def test_concurrent_first_runs_on_a_fresh_store_all_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 `kedro run`s started together on a store that does not exist yet: 8 runs, 8 models,
    8 registered versions; the schema is created once, by one of them (#22, finding 3)."""
    uri = f"sqlite:///{(tmp_path / 'fresh' / 'mlflow.db').as_posix()}"
    (tmp_path / "fresh").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    roots = [
        make_run_project(
            tmp_path / f"project{i}",
            log_model_kwargs={**FAST_LOG, "registered_model_name": "concurrent"},
        )
        for i in range(CONCURRENT_RUNS)
    ]
    processes = [
        subprocess.Popen(
            [os.fspath(interpreter()), "-m", "kedro", "run"],
            cwd=root,
            env=kedro_cli_env(root),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for root in roots
    ]
    try:
        outputs = [process.communicate(timeout=600)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()

    failed = [out[-3000:] for p, out in zip(processes, outputs, strict=True) if p.returncode]
    assert not failed, failed[0]
    runs = all_runs(uri)
    assert [r.info.status for r in runs] == ["FINISHED"] * CONCURRENT_RUNS
    models = all_logged_models(uri)
    assert len({m.model_id for m in models}) == CONCURRENT_RUNS
    assert {m.status for m in models} == {LoggedModelStatus.READY}
    versions = MlflowClient(tracking_uri=uri, registry_uri=uri).search_model_versions(
        "name = 'concurrent'"
    )
    assert sorted(int(v.version) for v in versions) == list(range(1, CONCURRENT_RUNS + 1))
    assert (tmp_path / "fresh" / "mlflow.db.lock").exists()  # where the runs took turns


def test_half_migrated_store_is_reported_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_template: Path
) -> None:
    """A store an interrupted upgrade left behind: one message naming it and the way out;
    no node runs and the file is left as it was."""
    uri = copy_store(store_template, tmp_path / "broken.db")
    with sqlite3.connect(tmp_path / "broken.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0c779009ac13'")
        db.execute("CREATE TABLE _alembic_tmp_runs (run_uuid VARCHAR(32))")
    before = (tmp_path / "broken.db").read_bytes()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    root = make_run_project(tmp_path / "project", log_model_kwargs=FAST_LOG)

    completed = run_kedro_cli(root, "run")

    output = " ".join(f"{completed.stdout}\n{completed.stderr}".split())
    assert completed.returncode == 1, output
    assert f"The MLflow tracking store '{uri}' cannot be opened" in output
    assert "Its schema is half-migrated (it holds _alembic_tmp_runs)" in output
    assert f"run `mlflow db upgrade {uri}`" in output
    assert "Traceback" not in output
    assert (tmp_path / "broken.db").read_bytes() == before


def test_lock_is_taken_next_to_sqlite_files_only(tmp_path: Path) -> None:
    """Only sqlite:/// stores get a lock file, next to the database; a folder that does not
    exist gets none (opening the store reports it)."""
    database = tmp_path / "store" / "mlflow.db"
    database.parent.mkdir()

    with opening_stores(f"sqlite:///{database}", "http://127.0.0.1:1", "databricks"):
        assert (tmp_path / "store" / "mlflow.db.lock").exists()
    with opening_stores(f"sqlite:///{tmp_path / 'missing' / 'mlflow.db'}"):
        pass

    assert not (tmp_path / "missing").exists()
    assert sqlite_file("sqlite:///relative.db") == Path.cwd() / "relative.db"
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("postgresql://db/mlflow") is None


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _run_owned_by(client: MlflowClient, experiment: str, tags: dict[str, str]) -> str:
    return str(client.create_run(experiment, tags=tags).info.run_id)


def test_runs_of_dead_owners_are_closed_once_and_live_ones_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """RUNNING runs whose owner is dead (or whose pid now belongs to a later process) become
    KILLED, their PENDING models FAILED, in one WARNING line; a live owner's run is kept,
    and so is a run of another host (#22, finding 4)."""
    client = MlflowClient(mlflow.get_tracking_uri())
    experiment = client.create_experiment("recovery")
    dead = {**owner_tags(), TAG_PID: str(_dead_pid())}
    killed = _run_owned_by(client, experiment, dead)
    pending = client.create_logged_model(experiment, source_run_id=killed).model_id
    ready = client.create_logged_model(experiment, source_run_id=killed).model_id
    client.finalize_logged_model(ready, LoggedModelStatus.READY)
    live_process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = _run_owned_by(
            client,
            experiment,
            {**owner_tags(), TAG_PID: str(live_process.pid), TAG_STARTED: ""},
        )
        # The pid of a live process, but not the start time recorded: a reused pid.
        reused = _run_owned_by(
            client,
            experiment,
            {**owner_tags(), TAG_PID: str(live_process.pid), TAG_STARTED: "1"},
        )
        elsewhere = _run_owned_by(client, experiment, {**dead, TAG_HOST: "another-host"})
        mine = _run_owned_by(client, experiment, owner_tags())

        with caplog.at_level(logging.WARNING, logger="pipelineml"):
            close_orphaned_runs(client)
            close_orphaned_runs(client)  # once: nothing is left to close
    finally:
        live_process.kill()
        live_process.wait()

    status = {run_id: client.get_run(run_id).info.status for run_id in (killed, reused)}
    assert status == {killed: "KILLED", reused: "KILLED"}
    for run_id in (live, elsewhere, mine):
        assert client.get_run(run_id).info.status == "RUNNING"
    assert client.get_logged_model(pending).status == LoggedModelStatus.FAILED
    assert client.get_logged_model(ready).status == LoggedModelStatus.READY
    assert "ended without closing it" in client.get_run(killed).data.tags[TAG_RECOVERED]
    lines = [r.getMessage() for r in caplog.records if "marked KILLED" in r.getMessage()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("pipelineml: 2 MLflow run(s) whose process ended")
    assert "and 1 of their models not completely logged FAILED" in lines[0]
    assert killed in lines[0]
    assert reused in lines[0]


def test_a_run_killed_by_sigkill_is_closed_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_template: Path
) -> None:
    """kill -9 of a `kedro run` while it is RUNNING; the next `kedro run` on the store marks
    it KILLED and says so; the run after that says nothing."""
    uri = copy_store(store_template, tmp_path / "cli.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    root = make_run_project(tmp_path / "project", log_model_kwargs=FAST_LOG)
    victim = subprocess.Popen(
        [os.fspath(interpreter()), "-m", "kedro", "run"],
        cwd=root,
        env=kedro_cli_env(root),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = MlflowClient(uri)
        for _ in range(1200):
            if victim.poll() is not None:
                pytest.fail(f"the run ended (exit {victim.returncode}) before it was killed")
            if [r for r in all_runs(uri) if r.info.status == "RUNNING"]:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        victim.kill()  # SIGKILL: nothing of the process runs after it
        victim.wait()
        (orphan,) = all_runs(uri)
        assert orphan.info.status == "RUNNING"
        assert orphan.data.tags[TAG_PID] == str(victim.pid)

        after = run_kedro_cli(root, "run")
        again = run_kedro_cli(root, "run")
    finally:
        victim.kill()

    # Kedro's rich handler wraps the line beside its source location: read the words.
    output = " ".join(re.sub(r"\S+\.py:\d+", " ", f"{after.stdout}\n{after.stderr}").split())
    assert after.returncode == 0, output
    assert "1 MLflow run(s) whose process ended without closing them" in output
    assert orphan.info.run_id in output
    assert client.get_run(orphan.info.run_id).info.status == "KILLED"
    models = [m for m in all_logged_models(uri) if m.source_run_id == orphan.info.run_id]
    assert all(m.status != LoggedModelStatus.PENDING for m in models)
    assert "marked KILLED" not in f"{again.stdout}\n{again.stderr}"
    assert sorted(r.info.status for r in all_runs(uri)) == ["FINISHED", "FINISHED", "KILLED"]


def test_registration_comes_after_the_run_s_model_tag(tmp_path: Path) -> None:
    """Registration is the last step: when it fails, the run already names its READY model
    and no version exists, so no registered version can point at a run that does not."""
    from pipelineml.hooks.tracking._mlflow_run import log_model_of
    from pipelineml.hooks.tracking._run_state import TAG_MODEL_URI, RunState
    from tests._support.toy_model import toy_pipeline_ml, trained_catalog

    uri = mlflow.get_tracking_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("registration-order")
    run_id = str(client.create_run(experiment).info.run_id)
    pml = toy_pipeline_ml(log_model_kwargs={**FAST_LOG, "registered_model_name": "last"})
    state = RunState(
        session_id="s",
        run_id=run_id,
        experiment_id=experiment,
        owns_run=True,
        client=client,
        to_log=[("__default__", pml)],
        not_logged={},
        requirements=None,  # type: ignore[arg-type]  # no inference: FAST_LOG pins them
        guard=None,  # type: ignore[arg-type]  # not used by logging
    )
    # The registry stops answering after the model is logged: registering fails.
    (tmp_path / "a-file").write_text("not a folder")
    mlflow.set_registry_uri(f"sqlite:///{tmp_path / 'a-file' / 'registry.db'}")

    error = log_model_of(state, "__default__", pml, trained_catalog(tmp_path / "project"))

    assert error is not None
    (model,) = client.search_logged_models([experiment])
    assert model.status == LoggedModelStatus.READY
    assert client.get_run(run_id).data.tags[TAG_MODEL_URI] == f"models:/{model.model_id}"
    assert client.search_model_versions("name = 'last'") == []
