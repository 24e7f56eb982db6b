"""Figure 4: ``mlflow models serve`` under load, ours vs kedro-mlflow.

Both models are served at once, each by its own environment's ``mlflow models serve
--env-manager local`` (MLflow's default of one uvicorn worker) on 127.0.0.1. The load
generator is this process: ``concurrency`` threads, each with one keep-alive
``http.client`` connection, posting the same ``dataframe_split`` request in a closed loop.
Every response is checked against the predictions of direct node calls.

The measured time of each scenario (``BENCH_SERVE_SECONDS``, default 20 s per contender)
is cut into 4 slices that alternate between the two servers (ABBA), after an unrecorded
warm-up slice each; throughput statistics are over the slices, latency percentiles over
all recorded requests.
"""

from __future__ import annotations

import http.client
import json
import math
import pickle
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from _common import (
    HOST,
    Contender,
    env_float,
    free_port,
    log,
    percentile,
    ratio,
    stats,
    stop_process,
)

SCENARIOS = ((1, 1), (8, 1), (1, 1000), (8, 1000))  # (concurrency, rows per request)
SLICES = 4
WARMUP_SECONDS = 2.0
STARTUP_TIMEOUT = 180.0
THROUGHPUT_TARGET = 1.0  # ours / kedro-mlflow's requests per second
HEADERS = {"Content-Type": "application/json"}


class Server:
    """One ``mlflow models serve`` process."""

    def __init__(self, contender: Contender, workdir: Path) -> None:
        """Start serving the contender's model on a free port (returns at once)."""
        self.contender = contender
        self.port = free_port()
        self.log_path = workdir / f"serve-{contender.name}.log"
        with self.log_path.open("wb") as output:
            self.process = subprocess.Popen(
                [
                    str(contender.python),
                    "-m",
                    "mlflow",
                    "models",
                    "serve",
                    "-m",
                    str(contender.model),
                    "--env-manager",
                    "local",
                    "--host",
                    HOST,
                    "--port",
                    str(self.port),
                ],
                env=contender.env,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        """Block until ``/ping`` answers 200 (the model is loaded)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.contender.name} server exited:\n{self._tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"{self.contender.name} server not ready:\n{self._tail()}")

    def _tail(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        """Stop the CLI process and its uvicorn child."""
        stop_process(self.process)


class Checker:
    """Checks a response body against the expected predictions.

    The first body that passes the numeric check is remembered, so that identical bodies
    (the usual case) are accepted by comparing bytes.
    """

    def __init__(self, probability: list[float], malignant: list[int]) -> None:
        """Expect these columns, row for row."""
        self.probability = probability
        self.malignant = malignant
        self.known_good: set[bytes] = set()
        self.lock = threading.Lock()

    def __call__(self, body: bytes) -> bool:
        if body in self.known_good:
            return True
        try:
            rows = json.loads(body)["predictions"]
            good = len(rows) == len(self.probability) and all(
                math.isclose(row["probability"], p, rel_tol=0, abs_tol=1e-9)
                and int(row["malignant"]) == m
                for row, p, m in zip(rows, self.probability, self.malignant, strict=True)
            )
        except (ValueError, KeyError, TypeError):
            return False
        if good:
            with self.lock:
                self.known_good.add(body)
        return good


def _client(
    port: int,
    body: bytes,
    check: Checker,
    deadline: float,
    start: threading.Barrier,
    out: dict[str, Any],
) -> None:
    latencies: list[float] = []
    errors = 0
    first_error = ""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    start.wait()
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        try:
            conn.request("POST", "/invocations", body, HEADERS)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors += 1
            first_error = first_error or repr(exc)
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
            continue
        latencies.append(time.perf_counter() - began)
        if response.status != 200 or not check(data):
            errors += 1
            first_error = first_error or f"HTTP {response.status}: {data[:300]!r}"
    conn.close()
    out.update(latencies=latencies, errors=errors, first_error=first_error)


def load_slice(
    port: int, body: bytes, check: Checker, concurrency: int, seconds: float
) -> dict[str, Any]:
    """``concurrency`` closed-loop clients for ``seconds``: requests, errors, latencies."""
    start = threading.Barrier(concurrency + 1)
    outs: list[dict[str, Any]] = [{} for _ in range(concurrency)]
    deadline_holder: list[float] = []
    threads = []
    for out in outs:
        thread = threading.Thread(
            target=lambda o=out: _client(port, body, check, deadline_holder[0], start, o),
            daemon=True,
        )
        threads.append(thread)
    deadline_holder.append(time.perf_counter() + seconds + 0.05)
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies = [value for out in outs for value in out["latencies"]]
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "errors": sum(out["errors"] for out in outs),
        "first_error": next((out["first_error"] for out in outs if out["first_error"]), ""),
        "latencies": latencies,
    }


def _payloads(frames: dict[int, Any]) -> dict[int, bytes]:
    return {
        # Python's float repr round-trips exactly, so the server sees the frame as it is.
        rows: json.dumps(
            {"dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}}
        ).encode()
        for rows, frame in frames.items()
    }


def _expected(contender: Contender, frame: Any) -> Checker:
    from breast_cancer.pipelines.classifier import nodes

    fitted = {}
    for name in ("imputer", "scaler", "model"):
        (path,) = Path(contender.model, "artifacts").rglob(f"{name}.pkl")
        with path.open("rb") as stream:
            fitted[name] = pickle.load(stream)
    scored = nodes.predict(
        nodes.scale(nodes.impute(frame, fitted["imputer"]), fitted["scaler"]), fitted["model"], 0.5
    )
    return Checker(scored["probability"].tolist(), scored["malignant"].astype(int).tolist())


def figure_serving(contenders: list[Contender], workdir: Path) -> dict[str, Any]:
    """Figure 4: requests/s and latency of both servers, per scenario."""
    from breast_cancer.pipelines.classifier import nodes

    ours, peer = contenders
    seconds = env_float("BENCH_SERVE_SECONDS", 20.0)
    features = nodes.load_raw_data().drop(columns=nodes.TARGET)
    frames = {
        1: features.sample(n=1, random_state=1).reset_index(drop=True),
        1000: features.sample(n=1000, replace=True, random_state=1).reset_index(drop=True),
    }
    payloads = _payloads(frames)
    checkers = {
        (c.name, rows): _expected(c, frame) for c in contenders for rows, frame in frames.items()
    }
    servers = [Server(c, workdir) for c in contenders]
    rows_out: list[dict[str, Any]] = []
    try:
        for server in servers:
            server.wait_ready()
        log(f"figure 4: both servers ready; {seconds:g} s per contender per scenario")
        for concurrency, rows in SCENARIOS:
            log(f"figure 4: concurrency {concurrency}, {rows} row(s) per request")
            slices: dict[str, list[dict[str, Any]]] = {c.name: [] for c in contenders}
            warmup_errors = {c.name: 0 for c in contenders}
            for server in servers:
                name = server.contender.name
                warm = load_slice(
                    server.port, payloads[rows], checkers[(name, rows)], concurrency, WARMUP_SECONDS
                )
                warmup_errors[name] += warm["errors"]
            for index in range(SLICES):
                order = servers if index % 2 == 0 else servers[::-1]
                for server in order:
                    name = server.contender.name
                    slices[name].append(
                        load_slice(
                            server.port,
                            payloads[rows],
                            checkers[(name, rows)],
                            concurrency,
                            seconds / SLICES,
                        )
                    )
            result: dict[str, Any] = {"concurrency": concurrency, "rows": rows}
            for contender in contenders:
                parts = slices[contender.name]
                latencies = sorted(v for part in parts for v in part["latencies"])
                errors = sum(part["errors"] for part in parts) + warmup_errors[contender.name]
                result[contender.name] = {
                    "requests_per_s": stats([p["requests"] / p["seconds"] for p in parts], "1/s"),
                    "requests": sum(p["requests"] for p in parts),
                    "p50_ms": percentile(latencies, 0.50) * 1e3,
                    "p99_ms": percentile(latencies, 0.99) * 1e3,
                    "p50_ms_per_slice": stats(
                        [percentile(sorted(p["latencies"]), 0.5) * 1e3 for p in parts], "ms"
                    ),
                    "errors": errors,
                    "first_error": next((p["first_error"] for p in parts if p["first_error"]), ""),
                }
            share = ratio(
                result[ours.name]["requests_per_s"]["median"],
                result[peer.name]["requests_per_s"]["median"],
            )
            result["ratio"] = share
            result["target"] = f">= {THROUGHPUT_TARGET:g}x kedro-mlflow's requests/s, 0 errors"
            result["met"] = (
                share is not None
                and share >= THROUGHPUT_TARGET
                and result[ours.name]["errors"] == 0
            )
            rows_out.append(result)
    finally:
        for server in servers:
            server.stop()
    return {
        "id": "serving",
        "title": "mlflow models serve: throughput and latency",
        "target": "ours >= kedro-mlflow's requests/s, 0 errors",
        "method": (
            "`mlflow models serve -m PATH --env-manager local` per environment "
            "(one uvicorn worker, MLflow's default), both running; a closed-loop load "
            "generator in the orchestrator (threads with keep-alive http.client connections) "
            f"on 127.0.0.1. Per scenario and contender: {WARMUP_SECONDS:g} s warm-up, then "
            f"{seconds:g} s in {SLICES} slices alternating ABBA between the servers. "
            "Throughput stats are over slices; p50/p99 over all recorded requests. Every "
            "response is checked against direct node calls (errors include warm-up)."
        ),
        "seconds_per_contender": seconds,
        "rows": rows_out,
        "met": all(row["met"] for row in rows_out),
    }
