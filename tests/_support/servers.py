"""Real servers for tests: an MLflow tracking server, an MLflow scoring server, a Dask cluster.

Each ``start_*`` function returns once the server answers, and stops everything it started
if it fails half-way. Each ``stop_*`` function stops the whole process tree. All servers bind
127.0.0.1 only and write only under the ``workdir`` they are given (their working directory,
logs, ``TMPDIR``, stores).

``mlflow``, ``dask`` and ``distributed`` are imported lazily, inside the functions that need
them, so this module imports where they are not installed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests._support.net import (
    free_port,
    process_output,
    stop_process,
    wait_for_http,
    wait_for_port,
)
from tests._support.process import interpreter, launch, subprocess_env

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "DaskCluster",
    "MlflowServer",
    "ModelServer",
    "kill_one_worker",
    "start_dask_cluster",
    "start_mlflow_server",
    "start_model_server",
    "stop_dask_cluster",
    "stop_mlflow_server",
    "stop_model_server",
    "wait_for_workers",
    "worker_pids",
]

HOST = "127.0.0.1"
# A port taken between free_port() and the server's bind is retried with a new port.
_PORT_ATTEMPTS = 3
_MLFLOW_SERVER_TIMEOUT = 90.0
_MODEL_SERVER_TIMEOUT = 90.0
_DASK_TIMEOUT = 60.0


@dataclass(frozen=True)
class MlflowServer:
    """A running ``mlflow server`` process.

    Attributes:
        uri: Tracking URI, ``http://127.0.0.1:PORT``.
        backend_uri: The SQLite backend store, ``sqlite:///<workdir>/server.db``.
        artifact_root: Directory the server stores proxied artifacts in.
        process: The server process (leader of its process group).
        log_path: File with the server's stdout and stderr.
    """

    uri: str
    backend_uri: str
    artifact_root: Path
    process: subprocess.Popen[Any]
    log_path: Path


@dataclass(frozen=True)
class ModelServer:
    """A running ``mlflow models serve`` process.

    Attributes:
        url: Base URL, ``http://127.0.0.1:PORT``; POST to ``f"{url}/invocations"``.
        process: The server process (leader of its process group).
        log_path: File with the server's stdout and stderr.
    """

    url: str
    process: subprocess.Popen[Any]
    log_path: Path


@dataclass
class DaskCluster:
    """A Dask scheduler process and its nanny-managed worker processes.

    Attributes:
        address: Scheduler address, ``tcp://127.0.0.1:PORT``.
        scheduler: The scheduler process.
        dashboard_port: Port of the scheduler's HTTP server (dashboard, ``/health``).
        log_dir: Directory holding ``scheduler.log`` and ``worker-<i>.log``.
        workers: One ``dask worker`` process per worker; each is a nanny that runs the
            actual worker as its child process.
    """

    address: str
    scheduler: subprocess.Popen[Any]
    dashboard_port: int
    log_dir: Path
    workers: list[subprocess.Popen[Any]] = field(default_factory=list)


def _port_clash(log_path: Path) -> bool:
    return log_path.exists() and "address already in use" in (
        log_path.read_text(encoding="utf-8", errors="replace").lower()
    )


def _launch_on_free_port(
    make_args: Callable[[int], Sequence[str | os.PathLike[str]]],
    wait: Callable[[subprocess.Popen[Any], int], None],
    *,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path,
) -> tuple[subprocess.Popen[Any], int]:
    """Launch ``make_args(port)`` and ``wait`` for it, retrying when the port was taken."""
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        port = free_port(HOST)
        proc = launch(make_args(port), log_path=log_path, env=env, cwd=cwd)
        try:
            wait(proc, port)
            if proc.poll() is not None:
                # Another server answered on the port this one failed to bind.
                command = " ".join(os.fspath(arg) for arg in make_args(port))
                raise RuntimeError(
                    f"Process {proc.pid} ({command}) exited with code {proc.returncode} "
                    f"although port {port} answered. Its output ({log_path}):\n"
                    f"{process_output(proc, log_path)}"
                )
        except RuntimeError:
            stop_process(proc)
            if attempt < _PORT_ATTEMPTS and _port_clash(log_path):
                continue
            raise
        except BaseException:
            stop_process(proc)
            raise
        return proc, port
    raise AssertionError("unreachable")  # pragma: no cover


# MLflow 3 servers start a job runner and seven huey consumer processes for server-side jobs
# (GenAI evaluation, trace roll-ups); the tests never use them and 2 cores feel them.
_MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def start_mlflow_server(
    workdir: Path,
    python: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> MlflowServer:
    """Start ``mlflow server`` on 127.0.0.1 with a SQLite store and proxied artifacts.

    The command is ``<python> -m mlflow server --backend-store-uri sqlite:///<workdir>/server.db
    --artifacts-destination <workdir>/artifacts --serve-artifacts --host 127.0.0.1 --port
    <free port> --workers 1``. MLflow's host-validation middleware accepts ``127.0.0.1`` by
    default, so no ``--allowed-hosts`` is needed. Server-side job execution is off
    (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``): it would start eight more processes.

    Args:
        workdir: Directory for the store, the artifacts, the log and the server's cwd.
        python: Interpreter with mlflow installed; defaults to ``sys.executable``.
        env: Extra environment variables for the server, applied last (e.g.
            ``{"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true"}`` to get job execution back).

    Returns:
        The running server, once ``/health`` answers 200.

    Raises:
        RuntimeError: When the server exits before answering (its log is in the message).
        TimeoutError: When it does not answer within 90 seconds.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    backend_uri = f"sqlite:///{workdir / 'server.db'}"
    artifact_root = workdir / "artifacts"
    log_path = workdir / "mlflow-server.log"
    python = interpreter(python)

    def make_args(port: int) -> list[str | os.PathLike[str]]:
        return [
            python,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            backend_uri,
            "--artifacts-destination",
            artifact_root,
            "--serve-artifacts",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
        ]

    def wait(proc: subprocess.Popen[Any], port: int) -> None:
        wait_for_http(
            f"http://{HOST}:{port}/health",
            timeout=_MLFLOW_SERVER_TIMEOUT,
            proc=proc,
            log_path=log_path,
        )

    proc, port = _launch_on_free_port(
        make_args,
        wait,
        log_path=log_path,
        env=subprocess_env(python, {**_MLFLOW_SERVER_ENV, **(env or {})}, tmpdir=workdir / "tmp"),
        cwd=workdir,
    )
    return MlflowServer(
        uri=f"http://{HOST}:{port}",
        backend_uri=backend_uri,
        artifact_root=artifact_root,
        process=proc,
        log_path=log_path,
    )


def stop_mlflow_server(server: MlflowServer, timeout: float = 15) -> None:
    """Stop the tracking server and its uvicorn workers.

    Args:
        server: The server to stop.
        timeout: Seconds of grace between SIGTERM and SIGKILL.
    """
    stop_process(server.process, timeout)


def start_model_server(
    model_uri: str,
    workdir: Path,
    tracking_uri: str | None,
    python: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = _MODEL_SERVER_TIMEOUT,
    env_manager: str = "local",
    mlflow_command: Sequence[str | os.PathLike[str]] | None = None,
) -> ModelServer:
    """Serve an MLflow model with ``mlflow models serve`` on 127.0.0.1.

    The command is ``<python> -m mlflow models serve -m <model_uri> --env-manager local
    --host 127.0.0.1 --port <free port>``. MLflow runs ``bash -c "exec uvicorn ..."``, found
    through ``PATH``; the interpreter's ``bin`` directory comes first on it (``env`` may
    replace ``PATH`` whole).

    Args:
        model_uri: Any model URI MLflow accepts (``runs:/<id>/model``, ``models:/...``, a
            local path).
        workdir: Directory for the log, ``TMPDIR`` (where MLflow downloads the model) and
            the server's cwd.
        tracking_uri: Set as ``MLFLOW_TRACKING_URI`` when given, to resolve ``runs:/`` and
            ``models:/`` URIs.
        python: Interpreter with mlflow installed; defaults to ``sys.executable``.
        env: Extra environment variables, e.g. ``PYTHONPATH`` pointing at a Kedro project's
            ``src`` when the model unpickles functions from it.
        timeout: Seconds to wait for the model to load; loading a pyfunc model in a fresh
            interpreter takes a while on 2 cores.
        env_manager: MLflow's ``--env-manager``; ``uv`` builds the model's own environment
            before serving (give a ``timeout`` that covers the install).
        mlflow_command: The ``mlflow`` executable to run instead of ``<python> -m mlflow``.

    Returns:
        The running server, once ``/ping`` answers 200 (the model is loaded).

    Raises:
        RuntimeError: When the server exits before answering (its log is in the message).
        TimeoutError: When it does not answer within ``timeout`` seconds.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "model-server.log"
    python = interpreter(python)
    extra = dict(env or {})
    if tracking_uri is not None:
        extra["MLFLOW_TRACKING_URI"] = tracking_uri

    command = list(mlflow_command or [python, "-m", "mlflow"])

    def make_args(port: int) -> list[str | os.PathLike[str]]:
        return [
            *command,
            "models",
            "serve",
            "-m",
            model_uri,
            "--env-manager",
            env_manager,
            "--host",
            HOST,
            "--port",
            str(port),
        ]

    def wait(proc: subprocess.Popen[Any], port: int) -> None:
        wait_for_http(f"http://{HOST}:{port}/ping", timeout=timeout, proc=proc, log_path=log_path)

    proc, port = _launch_on_free_port(
        make_args,
        wait,
        log_path=log_path,
        env=subprocess_env(python, extra, tmpdir=workdir / "tmp"),
        cwd=workdir,
    )
    return ModelServer(url=f"http://{HOST}:{port}", process=proc, log_path=log_path)


def stop_model_server(server: ModelServer, timeout: float = 15) -> None:
    """Stop the scoring server (the ``mlflow`` CLI process and its uvicorn child).

    Args:
        server: The server to stop.
        timeout: Seconds of grace between SIGTERM and SIGKILL.
    """
    stop_process(server.process, timeout)


def _connect(address: str, timeout: float = _DASK_TIMEOUT) -> Client:
    from distributed import Client

    return Client(address, timeout=f"{timeout}s", set_as_default=False)


def start_dask_cluster(
    workdir: Path,
    n_workers: int = 2,
    python: Path | None = None,
    env: dict[str, str] | None = None,
) -> DaskCluster:
    """Start a Dask scheduler and ``n_workers`` nanny-managed workers as separate processes.

    The scheduler runs ``<python> -m distributed.cli.dask_scheduler --host 127.0.0.1 --port
    <free> --dashboard-address 127.0.0.1:<free>``; each worker runs ``<python> -m
    distributed.cli.dask_worker tcp://127.0.0.1:<port> --nthreads 1 --nworkers 1 --host
    127.0.0.1 --no-dashboard --memory-limit 2GiB --nanny --death-timeout 60
    --local-directory <workdir>/worker-<i>`` in its own process group, so each nanny and
    its worker stop together. ``--death-timeout`` makes a worker whose scheduler vanished
    exit on its own instead of lingering.

    Args:
        workdir: Directory for logs, worker scratch space, ``TMPDIR`` and the processes'
            cwd.
        n_workers: Number of worker processes.
        python: Interpreter with distributed installed; defaults to ``sys.executable``.
        env: Extra environment variables for scheduler and workers, e.g. ``PYTHONPATH``
            so workers can import a generated Kedro project's package.

    Returns:
        The cluster, once all ``n_workers`` workers are connected to the scheduler.

    Raises:
        RuntimeError: When the scheduler or a worker exits during start-up (its log is in
            the message).
        TimeoutError: When the cluster is not complete within 60 seconds.
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, got {n_workers}.")
    workdir.mkdir(parents=True, exist_ok=True)
    python = interpreter(python)
    proc_env = subprocess_env(python, env, tmpdir=workdir / "tmp")
    dashboard_port = free_port(HOST)
    scheduler_log = workdir / "scheduler.log"

    def scheduler_args(port: int) -> list[str | os.PathLike[str]]:
        return [
            python,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            HOST,
            "--port",
            str(port),
            "--dashboard-address",
            f"{HOST}:{dashboard_port}",
        ]

    def wait_scheduler(proc: subprocess.Popen[Any], port: int) -> None:
        wait_for_port(HOST, port, timeout=_DASK_TIMEOUT, proc=proc, log_path=scheduler_log)

    scheduler, port = _launch_on_free_port(
        scheduler_args, wait_scheduler, log_path=scheduler_log, env=proc_env, cwd=workdir
    )
    cluster = DaskCluster(
        address=f"tcp://{HOST}:{port}",
        scheduler=scheduler,
        dashboard_port=dashboard_port,
        log_dir=workdir,
    )
    try:
        for index in range(n_workers):
            cluster.workers.append(
                launch(
                    [
                        python,
                        "-m",
                        "distributed.cli.dask_worker",
                        cluster.address,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--host",
                        HOST,
                        "--no-dashboard",
                        "--memory-limit",
                        "2GiB",
                        "--nanny",
                        "--death-timeout",
                        "60",
                        "--name",
                        f"worker-{index}",
                        "--local-directory",
                        workdir / f"worker-{index}",
                    ],
                    log_path=workdir / f"worker-{index}.log",
                    env=proc_env,
                    cwd=workdir,
                )
            )
        wait_for_workers(cluster, n_workers)
    except BaseException:
        stop_dask_cluster(cluster)
        raise
    return cluster


def _check_alive(cluster: DaskCluster) -> None:
    logs = [("scheduler", cluster.scheduler, cluster.log_dir / "scheduler.log")]
    logs += [
        (f"worker-{i}", proc, cluster.log_dir / f"worker-{i}.log")
        for i, proc in enumerate(cluster.workers)
    ]
    for name, proc, log_path in logs:
        if proc.poll() is not None:
            raise RuntimeError(
                f"Dask {name} (pid {proc.pid}) exited with code {proc.returncode}. "
                f"Its output ({log_path}):\n{process_output(proc, log_path)}"
            )


def wait_for_workers(
    cluster: DaskCluster,
    n_workers: int,
    timeout: float = _DASK_TIMEOUT,
    client: Client | None = None,
) -> None:
    """Block until at least ``n_workers`` workers are connected to the cluster's scheduler.

    Waits in one-second slices of ``Client.wait_for_workers`` so that a scheduler or nanny
    process dying meanwhile is reported at once, with its log, rather than after the
    timeout.

    Args:
        cluster: The cluster.
        n_workers: Number of workers to wait for.
        timeout: Seconds to wait in total.
        client: A client connected to the cluster; a temporary one is used when omitted.

    Raises:
        RuntimeError: When the scheduler or a nanny process exits meanwhile.
        TimeoutError: When fewer than ``n_workers`` workers are connected after ``timeout``.
    """
    with contextlib.ExitStack() as stack:
        if client is None:
            client = stack.enter_context(_connect(cluster.address, timeout))
        deadline = time.monotonic() + timeout
        while True:
            _check_alive(cluster)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                connected = len(client.scheduler_info(n_workers=-1)["workers"])
                raise TimeoutError(
                    f"Only {connected} of {n_workers} Dask workers connected to "
                    f"{cluster.address} within {timeout:g} s; logs are in {cluster.log_dir}."
                )
            try:
                client.wait_for_workers(n_workers, timeout=min(1.0, remaining))
            except TimeoutError:
                continue
            if _running_nannies(client) >= n_workers:
                return
            time.sleep(0.05)


def _running_nannies(client: Client) -> int:
    """Count the nannies that have finished starting.

    A worker registers with the scheduler a little before its nanny's own start completes;
    a worker process killed in that window makes the nanny give up ("Nanny failed to start")
    instead of restarting it, so tests that kill workers wait for this too.
    """

    # Nested so that cloudpickle ships it by value: the nannies cannot import tests/.
    def status(dask_worker: Any) -> str:
        return str(dask_worker.status.name)

    statuses: dict[str, Any] = client.run(status, nanny=True, on_error="return")
    return sum(value == "running" for value in statuses.values())


def worker_pids(cluster: DaskCluster, client: Client | None = None) -> dict[str, int]:
    """Return the pid of every connected worker process, keyed by worker address.

    These are the actual worker processes (children of the nannies), found with
    ``client.run(os.getpid)``; workers that cannot be reached are left out.

    Args:
        cluster: The cluster.
        client: A client connected to the cluster; a temporary one is used when omitted.

    Returns:
        A mapping from worker address to pid.
    """
    with contextlib.ExitStack() as stack:
        if client is None:
            client = stack.enter_context(_connect(cluster.address))
        pids: dict[str, int] = client.run(os.getpid, on_error="ignore")
        return pids


def kill_one_worker(cluster: DaskCluster, client: Client | None = None) -> int:
    """Kill one worker process with SIGKILL, leaving its nanny running; return its pid.

    The actual worker process is killed, not the ``dask worker`` nanny process: the nanny
    sees its child die and starts a fresh worker (new pid, new address), which is what a
    "worker died mid-run" test needs. SIGKILL rather than SIGTERM, so the worker gets no
    chance to close cleanly, as when the kernel's OOM killer strikes. Killing the nanny
    instead would remove the worker for good.

    Args:
        cluster: The cluster.
        client: A client connected to the cluster; a temporary one is used when omitted.

    Returns:
        The pid of the killed worker process.

    Raises:
        RuntimeError: When no worker is connected, or the worker process is not a child of
            one of the cluster's nannies (a ``--no-nanny`` worker would not come back).
    """
    with contextlib.ExitStack() as stack:
        if client is None:
            client = stack.enter_context(_connect(cluster.address))
        # Killing a worker whose nanny is still starting ends that nanny for good.
        connected = len(client.scheduler_info(n_workers=-1)["workers"])
        if connected:
            wait_for_workers(cluster, connected, client=client)
        pids = worker_pids(cluster, client)
    if not pids:
        raise RuntimeError(f"No Dask worker is connected to {cluster.address}.")
    nanny_groups = {proc.pid for proc in cluster.workers}
    address = sorted(pids)[0]
    pid = pids[address]
    if pid in nanny_groups or os.getpgid(pid) not in nanny_groups:
        raise RuntimeError(
            f"Worker {address} (pid {pid}) is not run by one of this cluster's nannies "
            f"(pids {sorted(nanny_groups)}); killing it would not be followed by a restart."
        )
    os.kill(pid, signal.SIGKILL)
    return pid


def stop_dask_cluster(cluster: DaskCluster, timeout: float = 15) -> None:
    """Stop the workers (nannies with their worker children), then the scheduler.

    Workers go first so they do not spend their shutdown trying to reconnect to a
    scheduler that is already gone.

    Args:
        cluster: The cluster.
        timeout: Seconds of grace between SIGTERM and SIGKILL, per process group.
    """
    try:
        for proc in cluster.workers:
            # Signal every group first so the nannies shut down in parallel.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in cluster.workers:
            stop_process(proc, timeout)
    finally:
        stop_process(cluster.scheduler, timeout)
