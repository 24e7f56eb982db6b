"""SIGINT and SIGTERM at several moments of a `kedro run`: honest MLflow state, nothing left.

Each test starts ``kedro run`` as a subprocess of a generated project
(tests/_support/run_project.py) that pauses at a chosen moment and writes a marker file,
sends the signal there, then checks the exit status, the MLflow run, its LoggedModels,
the registry and that no child process (the requirements helper) outlives the run.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from mlflow.tracking import MlflowClient

from pipelineml.hooks.errors import MlflowRunError
from tests._support.kedro_project import run_in_session
from tests._support.mlflow_store import all_logged_models, all_runs, copy_store
from tests._support.net import stop_process
from tests._support.run_project import (
    TRAINING_OUTPUT,
    interrupt,
    make_run_project,
    start_kedro_run,
    wait_for,
)
from tests._support.toy_model import FAST_LOG

pytestmark = pytest.mark.slow

REGISTERED = "interrupted-model"


@pytest.fixture
def cli_store(tmp_path: Path, store_template: Path) -> str:
    """A ready tracking store for the subprocess."""
    return copy_store(store_template, tmp_path / "cli.db")


def _children(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _all_gone(processes: list[psutil.Process], timeout: float = 15) -> list[int]:
    """The pids still alive (not zombies) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    alive = processes
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.2)
    return [p.pid for p in alive]


def _run_until_paused(
    root: Path, tmp_path: Path, store: str, stage: str, *args: str
) -> tuple[Any, list[psutil.Process]]:
    proc = start_kedro_run(
        root,
        tmp_path / f"kedro-{stage}.log",
        {"MLFLOW_TRACKING_URI": store, "PIPELINEML_TEST_PAUSE": stage},
        *args,
    )
    try:
        wait_for(root / "data" / f"paused-{stage}", proc)
        return proc, _children(proc.pid)
    except BaseException:
        stop_process(proc)
        raise


def _log(tmp_path: Path, stage: str) -> str:
    return (tmp_path / f"kedro-{stage}.log").read_text(errors="replace")


@pytest.mark.parametrize(
    ("signum", "runner"),
    [
        (signal.SIGINT, "kedro.runner.SequentialRunner"),
        (signal.SIGTERM, "kedro.runner.SequentialRunner"),
        (signal.SIGINT, "pipelineml.runners.ThreadRunner"),
        pytest.param(signal.SIGINT, "pipelineml.runners.DaskRunner", marks=pytest.mark.dask),
    ],
    ids=["SIGINT", "SIGTERM", "SIGINT-ThreadRunner", "SIGINT-DaskRunner"],
)
def test_signal_inside_a_training_node_kills_the_run(
    tmp_path: Path, cli_store: str, signum: signal.Signals, runner: str
) -> None:
    """In the first node: the process stops, non-zero; run KILLED; no model; no helper."""
    # No pip_requirements: the requirements helper is started with the run.
    root = make_run_project(tmp_path / "project")
    proc, children = _run_until_paused(root, tmp_path, cli_store, "make_data", "--runner", runner)
    assert children, "the requirements helper should be running"

    status = interrupt(proc, signum)

    # 130 after Ctrl-C, 143 after SIGTERM: what a shell reports for a process they killed.
    assert status == 128 + signum, _log(tmp_path, "make_data")
    (run,) = all_runs(cli_store)
    assert run.info.status == "KILLED"
    assert run.data.tags["pipelineml.interrupted"] == signum.name
    # No model was being logged: the line says nothing of models.
    assert f"Interrupted by {signum.name}: MLflow run {run.info.run_id} is marked KILLED.\n" in (
        _log(tmp_path, "make_data")
    )
    assert all_logged_models(cli_store) == []
    assert not (root / TRAINING_OUTPUT).exists()
    assert _all_gone(children) == []


def test_sigterm_while_the_model_is_logged_leaves_no_half_logged_model(
    tmp_path: Path, cli_store: str
) -> None:
    """During model logging: run KILLED, its LoggedModel FAILED, no registry version."""
    root = make_run_project(
        tmp_path / "project", log_model_kwargs={"registered_model_name": REGISTERED}
    )
    proc, children = _run_until_paused(root, tmp_path, cli_store, "pickle")
    assert [m.status for m in all_logged_models(cli_store)] == ["PENDING"]

    status = interrupt(proc, signal.SIGTERM)

    assert status == 128 + signal.SIGTERM, _log(tmp_path, "pickle")
    (run,) = all_runs(cli_store)
    assert run.info.status == "KILLED"
    assert [m.status for m in all_logged_models(cli_store)] == ["FAILED"]
    assert "is marked KILLED; 1 model(s) not completely logged marked FAILED." in _log(
        tmp_path, "pickle"
    )
    client = MlflowClient(tracking_uri=cli_store, registry_uri=cli_store)
    assert client.search_model_versions(f"name = '{REGISTERED}'") == []
    assert _all_gone(children) == []


def test_sigint_before_the_run_opens_leaves_no_run(tmp_path: Path, cli_store: str) -> None:
    """While Kedro loads the pipelines (no MLflow run yet): stops, non-zero, no run."""
    root = make_run_project(tmp_path / "project")
    proc, _ = _run_until_paused(root, tmp_path, cli_store, "registry")

    status = interrupt(proc, signal.SIGINT)

    assert status != 0, _log(tmp_path, "registry")
    assert all_runs(cli_store) == []
    assert not (root / TRAINING_OUTPUT).exists()


@pytest.mark.parametrize("outcome", ["logged", "refused"])
def test_signal_handlers_are_put_back_after_a_run(
    tmp_path: Path, tracking_env: str, outcome: str
) -> None:
    """After a run in this process (logged, or refused by the pre-flight) the handlers are back."""
    parameters = {"n_rows": 20, "alpha": 1.0} if outcome == "refused" else None
    root = make_run_project(tmp_path / "project", parameters=parameters, log_model_kwargs=FAST_LOG)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    if outcome == "refused":
        with pytest.raises(MlflowRunError, match="params:threshold"):
            run_in_session(root)
    else:
        run_in_session(root)

    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert [r.info.status for r in all_runs(tracking_env)] == [
        "FAILED" if outcome == "refused" else "FINISHED"
    ]


def test_deferred_block_holds_a_signal_until_it_ends() -> None:
    """A SIGTERM sent while the run is opened and recorded is handled right after that."""
    import os

    from pipelineml.hooks.tracking._interrupts import InterruptGuard

    interrupted: list[str] = []
    guard = InterruptGuard(interrupted.append)
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the guard takes over what it finds
    guard.install()
    during: list[str] = []
    reached_the_end = False

    def open_and_record() -> None:
        nonlocal reached_the_end
        with guard.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            during.extend(interrupted)
            reached_the_end = True

    try:
        with pytest.raises(BaseException) as raised:  # noqa: PT011 - the guard's own exit
            open_and_record()
    finally:
        guard.restore()
        signal.signal(signal.SIGTERM, previous)

    assert reached_the_end
    assert during == []
    assert interrupted == ["SIGTERM"]
    assert getattr(raised.value, "code", None) == 128 + signal.SIGTERM
