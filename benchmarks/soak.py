"""Figure 9: soak, ``mlflow models serve`` of the example model under steady 1-row load.

Ours and kedro-mlflow's servers run at once, each under its own closed-loop load at
concurrency 8 (figure 4's generator), in slices of ``SLICE_SECONDS`` for
``BENCH_SOAK_SECONDS``; after each slice the resident memory of each server's process group
(the CLI and its uvicorn worker) is read from ``/proc``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from _common import Contender, env_float, log, ratio, stats
from serving import Server, _expected, _payloads, load_slice

CONCURRENCY = 8
SLICE_SECONDS = 10.0
WARMUP_SECONDS = 20.0
GROWTH_TARGET = 0.05  # RSS at the end / after warm-up - 1


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the process group ``pgid`` (MB)."""
    total_kb = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5 of stat: the process group
                continue
            with open(f"/proc/{entry}/status", encoding="utf-8") as stream:
                for line in stream:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    return total_kb / 1024


def _both(
    servers: list[Server], bodies: dict[str, bytes], checks: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """One slice on both servers at once."""
    results: dict[str, Any] = {}

    def run(server: Server) -> None:
        name = server.contender.name
        results[name] = load_slice(server.port, bodies[name], checks[name], CONCURRENCY, seconds)

    threads = [threading.Thread(target=run, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def figure_soak(contenders: list[Contender], workdir: Path) -> dict[str, Any]:
    """Figure 9: errors, requests/s over time and server RSS growth, both servers."""
    from breast_cancer.pipelines.classifier import nodes

    duration = env_float("BENCH_SOAK_SECONDS", 300.0)
    features = nodes.load_raw_data().drop(columns=nodes.TARGET)
    frame = features.sample(n=1, random_state=2).reset_index(drop=True)
    body = _payloads({1: frame})[1]
    bodies = {c.name: body for c in contenders}
    checks = {c.name: _expected(c, frame) for c in contenders}
    servers = [Server(c, workdir) for c in contenders]
    timeline: dict[str, list[dict[str, Any]]] = {c.name: [] for c in contenders}
    try:
        for server in servers:
            server.wait_ready()
        log(f"figure 9: both servers ready; warm-up {WARMUP_SECONDS:g} s")
        warm = _both(servers, bodies, checks, WARMUP_SECONDS)
        baseline = {s.contender.name: group_rss_mb(s.process.pid) for s in servers}
        errors = {name: part["errors"] for name, part in warm.items()}
        slices = max(1, round(duration / SLICE_SECONDS))
        for index in range(slices):
            parts = _both(servers, bodies, checks, SLICE_SECONDS)
            for server in servers:
                name = server.contender.name
                part = parts[name]
                errors[name] += part["errors"]
                timeline[name].append(
                    {
                        "t": round((index + 1) * SLICE_SECONDS, 1),
                        "requests_per_s": part["requests"] / part["seconds"],
                        "errors": part["errors"],
                        "first_error": part["first_error"],
                        "rss_mb": group_rss_mb(server.process.pid),
                    }
                )
            if index % 6 == 5:
                log(f"figure 9: {(index + 1) * SLICE_SECONDS:g} s of {duration:g} s")
    finally:
        for server in servers:
            server.stop()
    summary: dict[str, Any] = {}
    for contender in contenders:
        points = timeline[contender.name]
        end = points[-1]["rss_mb"]
        growth = ratio(end, baseline[contender.name])
        summary[contender.name] = {
            "errors": errors[contender.name],
            "requests_per_s": stats([p["requests_per_s"] for p in points], "1/s"),
            "first_minute_requests_per_s": stats(
                [p["requests_per_s"] for p in points[: max(1, len(points) // 5)]], "1/s"
            ),
            "last_minute_requests_per_s": stats(
                [p["requests_per_s"] for p in points[-max(1, len(points) // 5) :]], "1/s"
            ),
            "rss_after_warmup_mb": baseline[contender.name],
            "rss_end_mb": end,
            "rss_growth": None if growth is None else growth - 1,
        }
    ours = contenders[0].name
    met = summary[ours]["errors"] == 0 and (summary[ours]["rss_growth"] or 0) < GROWTH_TARGET
    return {
        "id": "soak",
        "title": "Soak: mlflow models serve for 5 minutes",
        "target": f"0 errors; server RSS growth after warm-up < {GROWTH_TARGET:.0%}",
        "method": (
            "The example model of each environment served by `mlflow models serve "
            "--env-manager local` (one uvicorn worker), both at once; each under its own "
            f"closed-loop load of {CONCURRENCY} keep-alive clients posting the same 1-row "
            f"dataframe_split request (figure 4's generator), {WARMUP_SECONDS:g} s warm-up "
            f"then {duration:g} s in {SLICE_SECONDS:g} s slices; every response checked. RSS "
            "is the sum of VmRSS over each server's process group, read after the warm-up "
            "and after every slice. Both servers share the 2 cores with each other and "
            "with the load generator."
        ),
        "seconds": duration,
        "summary": summary,
        "timeline": timeline,
        "met": met,
    }
