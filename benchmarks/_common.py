"""Shared by every benchmark script: statistics, machine facts, worker processes.

Only the standard library is imported here, because worker scripts import this module in
both environments (ours and the peer's), whatever is installed there.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
HOST = "127.0.0.1"

# No run may reach the network for telemetry.
QUIET_ENV = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "MLFLOW_ENABLE_TELEMETRY": "false",
    "PYTHONUNBUFFERED": "1",
}


def log(message: str) -> None:
    """Progress on stderr, so stdout stays free for results."""
    stamp = time.strftime("%H:%M:%S")
    print(f"[bench {stamp}] {message}", file=sys.stderr, flush=True)


def env_int(name: str, default: int) -> int:
    """An integer setting from the environment (``BENCH_*``)."""
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def env_float(name: str, default: float) -> float:
    """A float setting from the environment (``BENCH_*``)."""
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


# ---------------------------------------------------------------------------- statistics
def stats(samples: Sequence[float], unit: str = "s") -> dict[str, Any]:
    """Median, min and max of ``samples`` (each sample is one repetition)."""
    if not samples:
        return {"median": None, "min": None, "max": None, "n": 0, "unit": unit}
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
        "unit": unit,
    }


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of already sorted values (nearest rank)."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when undefined."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def profile_text(function: Callable[[], object], repeat: int, limit: int = 30) -> str:
    """cProfile of ``repeat`` calls of ``function``: the top of the cumulative-time list."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        function()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(limit)
    return text.getvalue()


# ---------------------------------------------------------------------------- machine
def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or what platform knows)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return []


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def now_iso() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def distribution_versions(names: Sequence[str]) -> dict[str, str | None]:
    """``{distribution: version}`` in the running interpreter (None when absent)."""
    from importlib import metadata

    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


# ---------------------------------------------------------------------------- processes
def venv_env(python: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a subprocess run by ``python``: its bin first on PATH, quiet."""
    env = dict(os.environ)
    env.update(QUIET_ENV)
    # `mlflow models serve` execs `uvicorn` through PATH: it must be the venv's own.
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    if extra:
        env.update(extra)
    return env


def run_json(
    python: Path,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = 600,
) -> Any:
    """Run ``python args...`` and parse the last line of its stdout as JSON."""
    proc = subprocess.run(
        [str(python), *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{python} {' '.join(args)} failed with exit code {proc.returncode}:\n"
            f"{proc.stderr[-4000:]}"
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


class Worker:
    """A long-lived worker process answering JSON requests, one per line.

    The orchestrator keeps one worker per environment alive and sends them batches in
    turn, so the contenders alternate without reloading their model between batches.
    """

    def __init__(
        self,
        python: Path,
        script: Path,
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
    ) -> None:
        """Start ``python script`` with a pipe in each direction."""
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.process = subprocess.Popen(
            [str(python), str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=dict(env),
            cwd=cwd,
            text=True,
            start_new_session=True,
        )

    def call(self, op: str, **args: Any) -> Any:
        """Send one request and return the worker's answer.

        Raises:
            RuntimeError: When the worker failed or died (its log is quoted).
        """
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker died during {op!r}; log:\n{self._tail()}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"worker failed in {op!r}:\n{answer['error']}")
        return answer["result"]

    def _tail(self) -> str:
        self._log.flush()
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        return ""

    def close(self) -> None:
        """Ask the worker to exit, then make sure it did."""
        with contextlib.suppress(OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stop_process(self.process)
        self._log.close()


def serve_requests(handlers: Mapping[str, Callable[..., Any]]) -> None:
    """The worker side of ``Worker``: answer requests from stdin until it closes.

    Libraries may print; stdout is reserved for answers, so it is swapped for stderr while
    a handler runs.
    """
    answers = sys.stdout
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        op = request.pop("op")
        try:
            reply: dict[str, Any] = {"result": handlers[op](**request)}
        except Exception:
            reply = {"error": traceback.format_exc()}
        answers.write(json.dumps(reply) + "\n")
        answers.flush()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[Any], grace: float = 15) -> None:
    """Stop a process started with ``start_new_session=True`` and all its children."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def timer() -> Iterator[Callable[[], float]]:
    """``with timer() as elapsed: ...; elapsed()`` gives the seconds spent inside."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


class Contender:
    """One side of a comparison: an interpreter, its trained project and its model."""

    def __init__(
        self,
        name: str,
        label: str,
        python: Path,
        project: Path,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        """Describe a contender; ``model_dir`` is set once its model is exported."""
        self.name = name
        self.label = label
        self.python = python
        self.project = project
        self.extra_env = dict(extra_env or {})
        self.model_dir: Path | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment of this contender's subprocesses."""
        return venv_env(self.python, self.extra_env)

    @property
    def model(self) -> Path:
        """The local directory of the exported model."""
        if self.model_dir is None:
            raise RuntimeError(f"{self.name}: no model exported yet")
        return self.model_dir
