"""Smoke tests of tests._support: each helper and fixture works against the real thing."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipelineml.core import PipelineML
from tests._support.kedro_project import (
    KEDRO_VERSION,
    make_kedro_project,
    make_sklearn_project,
    run_in_session,
    run_kedro_cli,
    settings_py_without_plugin_hooks,
    unique_package_name,
)
from tests._support.net import free_port, stop_process, wait_for_http, wait_for_port
from tests._support.process import launch, subprocess_env
from tests._support.servers import (
    DaskCluster,
    MlflowServer,
    kill_one_worker,
    start_model_server,
    stop_model_server,
    wait_for_workers,
    worker_pids,
)

if TYPE_CHECKING:
    from distributed import LocalCluster

# Importing mlflow.pyfunc (mlflow 3.17) warns once, at import time, from
# mlflow.types.type_hints: "Any type hint is inferred as AnyType ..." (UserWarning, wrapped
# in ANSI colour codes, hence the leading ".*").
MLFLOW_PYFUNC_IMPORT_WARNING = pytest.mark.filterwarnings(
    "ignore:.*Any type hint is inferred as AnyType:UserWarning"
)
# Kedro 1.7's OmegaConfigLoader calls OmegaConf.register_new_resolver(), which omegaconf 2.4
# deprecates with a UserWarning on every KedroSession; nothing in our code can avoid it.
OMEGACONF_DEPRECATION = pytest.mark.filterwarnings(
    r"ignore:register_new_resolver\(\) is deprecated:UserWarning"
)


def _alive(pid: int) -> bool:
    """True when pid runs; a zombie (exited, not yet reaped by its new parent) is dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_until_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- net ---------------------------------------------------------------------------------


def test_free_port_can_be_bound() -> None:
    """free_port returns a port that 127.0.0.1 can bind right away."""
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


def test_wait_for_http_times_out_naming_the_url() -> None:
    """Nothing listening: TimeoutError names the url."""
    url = f"http://127.0.0.1:{free_port()}/health"
    with pytest.raises(TimeoutError, match=rf"{url} did not answer 200 within 0.3 s"):
        wait_for_http(url, timeout=0.3)


def test_wait_for_port_times_out_naming_the_address() -> None:
    """Nothing listening: TimeoutError names host and port."""
    port = free_port()
    with pytest.raises(TimeoutError, match=rf"127.0.0.1:{port} did not accept"):
        wait_for_port("127.0.0.1", port, timeout=0.3)


@pytest.mark.slow
def test_wait_for_http_reports_a_dead_server_with_its_output(tmp_path: Path) -> None:
    """A server that exits before answering raises RuntimeError quoting its log."""
    proc = launch(
        [sys.executable, "-c", "print('cannot start: no model'); raise SystemExit(3)"],
        log_path=tmp_path / "server.log",
        env=subprocess_env(),
        cwd=tmp_path,
    )
    try:
        with pytest.raises(RuntimeError, match=r"exited with code 3(.|\n)*cannot start"):
            wait_for_http(
                f"http://127.0.0.1:{free_port()}/",
                timeout=30,
                proc=proc,
                log_path=tmp_path / "server.log",
            )
    finally:
        stop_process(proc)


@pytest.mark.slow
def test_stop_process_stops_the_whole_group(tmp_path: Path) -> None:
    """A child ignoring SIGTERM dies with its parent's group (SIGKILL after the grace)."""
    child = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(600)"
    )
    parent = (
        "import subprocess, sys, time; "
        f"p = subprocess.Popen([sys.executable, '-c', {child!r}], stdout=subprocess.PIPE); "
        "p.stdout.readline(); print(p.pid, flush=True); time.sleep(600)"
    )
    log_path = tmp_path / "parent.log"
    proc = launch(
        [sys.executable, "-c", parent], log_path=log_path, env=subprocess_env(), cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + 30
        while not log_path.read_text().strip():
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the parent never reported its child"
            time.sleep(0.05)
        child_pid = int(log_path.read_text().split()[0])
        assert _alive(child_pid)
    finally:
        stop_process(proc, timeout=1)
    assert proc.poll() is not None
    assert _wait_until_dead(child_pid), f"child {child_pid} survived stop_process"
    stop_process(proc)  # stopping twice is harmless


# --- kedro_project -----------------------------------------------------------------------

# These tests check the project generator, not whichever Kedro plugins (pipelineml-hooks'
# MLflow hook, kedro-telemetry) the environment auto-registers.
ISOLATED_SETTINGS = settings_py_without_plugin_hooks()


@OMEGACONF_DEPRECATION
@pytest.mark.slow
@pytest.mark.parametrize("pipeline_ml", [True, False], ids=["pipeline_ml", "plain"])
def test_sklearn_project_trains_and_predicts_in_session(
    tmp_path: Path, pipeline_ml: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The generated project runs training then inference through KedroSession."""
    # Not at module level: isort would place it before tests._support.kedro_project, which
    # imports it first with pytest's log handlers kept (see that module's docstring).
    from kedro.framework.project import pipelines

    root = make_sklearn_project(
        tmp_path / "project", pipeline_ml=pipeline_ml, settings_py=ISOLATED_SETTINGS
    )
    cwd = Path.cwd()

    outputs = run_in_session(root, ["training"])

    assert set(outputs) == {"model"}
    assert (root / "data" / "06_models" / "model.pkl").is_file()
    assert (root / "data" / "06_models" / "scaler.pkl").is_file()
    assert isinstance(pipelines["training"], PipelineML) is pipeline_ml
    assert Path.cwd() == cwd
    # Kedro's logging set-up must not have detached caplog from the root logger.
    assert "Completed 3 out of 3 tasks" in caplog.messages

    predictions = run_in_session(root, ["inference"], extra_params={"threshold": 0.9})[
        "predictions"
    ].load()
    assert list(predictions.columns) == ["score", "prediction"]
    assert len(predictions) == 200
    assert set(predictions["prediction"]) <= {0, 1}
    assert ((predictions["score"] >= 0.9) == (predictions["prediction"] == 1)).all()


@pytest.mark.slow
def test_sklearn_project_trains_through_the_cli(tmp_path: Path) -> None:
    """`python -m kedro run --pipeline training` in the project root succeeds."""
    root = make_sklearn_project(
        tmp_path / "project", pipeline_ml=True, settings_py=ISOLATED_SETTINGS
    )

    result = run_kedro_cli(root, "run", "--pipeline", "training")

    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "data" / "06_models" / "model.pkl").is_file()


_REGISTRY = """\
from kedro.pipeline import Pipeline, node

from .nodes import answer


def register_pipelines():
    return {"__default__": Pipeline([node(answer, None, "answer")])}
"""


@OMEGACONF_DEPRECATION
@pytest.mark.slow
def test_projects_sharing_a_package_name_do_not_share_modules(tmp_path: Path) -> None:
    """Two projects with one package name each run their own nodes, in any order."""
    roots = {
        letter: make_kedro_project(
            tmp_path / letter,
            "shared_name",
            nodes_py=f"def answer():\n    return {letter!r}\n",
            pipeline_registry_py=_REGISTRY,
            settings_py=ISOLATED_SETTINGS,
        )
        for letter in "ab"
    }
    pythonpath = os.environ.get("PYTHONPATH")

    answers = [run_in_session(roots[letter])["answer"].load() for letter in "aba"]

    assert answers == ["a", "b", "a"]
    assert os.environ.get("PYTHONPATH") == pythonpath


def test_make_kedro_project_layout(tmp_path: Path) -> None:
    """The project has [tool.kedro], its package, conf/base, conf/local and extras."""
    import tomllib

    root = make_kedro_project(
        tmp_path / "p",
        nodes_py="",
        pipeline_registry_py="",
        parameters={"alpha": 1},
        extra_conf={"mlflow.yml": {"server": {"mlflow_tracking_uri": "mlruns"}}},
        extra_files={"src/extra.txt": "hello"},
    )

    kedro_table = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["kedro"]
    package = kedro_table["package_name"]
    assert package.startswith("demo_project_")
    assert package != unique_package_name()
    assert kedro_table["kedro_init_version"] == KEDRO_VERSION
    for relative in ("__init__.py", "nodes.py", "pipeline_registry.py", "settings.py"):
        assert (root / "src" / package / relative).is_file()
    assert (root / "conf" / "base" / "parameters.yml").read_text() == "alpha: 1\n"
    assert "mlflow_tracking_uri" in (root / "conf" / "base" / "mlflow.yml").read_text()
    assert (root / "conf" / "local" / ".gitkeep").is_file()
    assert (root / "src" / "extra.txt").read_text() == "hello"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"package_name": "not-a-name"}, "Invalid package_name: 'not-a-name'"),
        ({"extra_files": {"../outside.txt": "x"}}, "Invalid extra_files path: '../outside.txt'"),
        ({"extra_conf": {"/etc/x.yml": {}}}, "Invalid extra_conf name: '/etc/x.yml'"),
    ],
)
def test_make_kedro_project_rejects_bad_names(
    tmp_path: Path, kwargs: dict[str, object], match: str
) -> None:
    """Bad package names and paths leaving the project are refused."""
    with pytest.raises(ValueError, match=match):
        make_kedro_project(tmp_path, nodes_py="", pipeline_registry_py="", **kwargs)  # type: ignore[arg-type]


# --- servers and fixtures ------------------------------------------------------------------


@pytest.mark.slow
def test_mlflow_server_tracks_runs_and_stores_artifacts(mlflow_server: MlflowServer) -> None:
    """The server answers /health; a client creates an experiment, a run and an artifact."""
    import mlflow

    with urllib.request.urlopen(f"{mlflow_server.uri}/health", timeout=10) as response:
        assert response.status == 200

    client = mlflow.MlflowClient(tracking_uri=mlflow_server.uri)
    experiment_id = client.create_experiment("support-smoke")
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "alpha", "0.5")
    client.log_text(run.info.run_id, "hello", "note.txt")
    client.set_terminated(run.info.run_id)

    finished = client.get_run(run.info.run_id)
    assert finished.info.status == "FINISHED"
    assert finished.data.params == {"alpha": "0.5"}
    stored = list(mlflow_server.artifact_root.rglob("note.txt"))
    assert [p.read_text() for p in stored] == ["hello"]


@pytest.fixture
def served_model(mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A scikit-learn model logged to the tracking server; returns its runs:/ URI."""
    import mlflow
    from sklearn.linear_model import (  # type: ignore[import-untyped, unused-ignore]
        LogisticRegression,
    )

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    client = mlflow.MlflowClient(mlflow_server.uri)
    # An explicit experiment id, not mlflow.set_experiment(): that one exports
    # MLFLOW_EXPERIMENT_ID for every later test and subprocess of the session.
    experiment = client.get_experiment_by_name("support-serving")
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment("support-serving")
    )
    # Another test may have set this process's global tracking URI (which wins over the
    # environment): point it at the server for the block, then put everything back.
    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None  # type: ignore[no-untyped-call]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    mlflow.set_tracking_uri(mlflow_server.uri)
    try:
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]
    return f"runs:/{run.info.run_id}/model"


@MLFLOW_PYFUNC_IMPORT_WARNING
@pytest.mark.slow
def test_model_server_scores_a_logged_model(
    served_model: str, mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    """`mlflow models serve` of a runs:/ URI answers /invocations."""
    server = start_model_server(served_model, tmp_path / "serve", mlflow_server.uri)
    try:
        request = urllib.request.Request(
            f"{server.url}/invocations",
            data=json.dumps({"inputs": [[0.0], [3.0]]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response) == {"predictions": [0, 1]}
    finally:
        stop_model_server(server)
    assert server.process.poll() is not None


@pytest.mark.slow
def test_model_server_failure_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    """A model that cannot load: RuntimeError with the log, and no process left behind."""
    pytest.importorskip("mlflow")
    missing = tmp_path / f"no-such-model-{free_port()}"

    with pytest.raises(RuntimeError, match=r"exited with code(.|\n)*no-such-model"):
        start_model_server(os.fspath(missing), tmp_path / "serve", None, timeout=60)

    leftovers = [
        pid
        for pid in os.listdir("/proc")
        if pid.isdigit() and _alive(int(pid)) and missing.name.encode() in _cmdline(int(pid))
    ]
    assert leftovers == []


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.slow
def test_dask_cluster_computes_and_survives_a_worker_death(dask_cluster: DaskCluster) -> None:
    """Two workers compute; a killed worker process is replaced by its nanny."""
    from distributed import Client

    with Client(dask_cluster.address, timeout="30s", set_as_default=False) as client:
        assert client.submit(sum, [1, 2]).result(timeout=30) == 3
        before = worker_pids(dask_cluster, client)
        assert len(before) == 2

        killed = kill_one_worker(dask_cluster, client)

        assert killed in before.values()
        assert _wait_until_dead(killed)
        deadline = time.monotonic() + 60
        while True:
            pids = worker_pids(dask_cluster, client)
            if len(pids) == 2 and killed not in pids.values():
                break
            assert time.monotonic() < deadline, f"workers after the kill: {pids}"
            wait_for_workers(dask_cluster, 2, client=client)
            time.sleep(0.1)
        assert client.submit(sum, [3, 4], pure=False).result(timeout=30) == 7
    assert all(proc.poll() is None for proc in dask_cluster.workers)


@pytest.mark.slow
def test_local_cluster_computes_on_two_workers(local_cluster: LocalCluster) -> None:
    """The LocalCluster fixture has 2 workers and computes."""
    from distributed import Client

    with Client(local_cluster, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
        assert client.submit(sum, [1, 2]).result(timeout=30) == 3
        assert len(client.scheduler_info(n_workers=-1)["workers"]) == 2
