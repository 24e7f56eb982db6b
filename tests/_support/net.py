"""Ports, readiness polling and process-group shutdown for test servers.

Every process the test support starts runs in its own session (``start_new_session=True``),
so it leads its own process group and ``stop_process`` can signal the whole tree: ``mlflow
server`` forks uvicorn, ``mlflow models serve`` runs ``bash -c "exec uvicorn ..."``, and a
Dask nanny spawns its worker. Signalling only the leader would orphan those children.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = [
    "free_port",
    "process_output",
    "stop_process",
    "track_process",
    "wait_for_http",
    "wait_for_port",
]

logger = logging.getLogger(__name__)

_LOCALHOST = "127.0.0.1"
# Tail of a log quoted in errors: enough for a traceback, short enough to read.
_OUTPUT_TAIL_CHARS = 8000
_FIRST_POLL_INTERVAL = 0.05
_MAX_POLL_INTERVAL = 0.5
# After SIGKILL, how long to wait for the group's processes to die.
_KILL_GRACE = 5.0

# Direct connections only: a proxy from the environment must never see 127.0.0.1 traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Processes started by the test support and not yet stopped; stopped at interpreter exit as
# a last resort when a caller forgot (or never reached) its own cleanup.
_LIVE: dict[int, tuple[subprocess.Popen[Any], float]] = {}


def free_port(host: str = _LOCALHOST) -> int:
    """Return a TCP port that is free on ``host`` right now.

    The port is found by binding to port 0 and closing the socket, so another process can
    in principle take it before the caller binds it; the server helpers retry on a clash.

    Args:
        host: Interface to probe; the loopback address by default.

    Returns:
        The port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def process_output(proc: subprocess.Popen[Any], log_path: Path | None = None) -> str:
    """Return what a process wrote so far (the tail of it), for error messages.

    Args:
        proc: The process.
        log_path: The file its stdout and stderr were redirected to, if any.

    Returns:
        The last characters of the log file or of the captured pipes, or a note saying
        that nothing was captured.
    """
    text = ""
    if log_path is not None and log_path.exists():
        text = log_path.read_text(encoding="utf-8", errors="replace")
    elif proc.poll() is not None:
        # Pipes can only be drained without blocking once the process has exited.
        chunks = []
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    data = stream.read()
                    chunks.append(
                        data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
                    )
        text = "".join(chunks)
    if not text:
        return "<no output captured>"
    if len(text) > _OUTPUT_TAIL_CHARS:
        text = "...\n" + text[-_OUTPUT_TAIL_CHARS:]
    return text


def _exited_error(what: str, proc: subprocess.Popen[Any], log_path: Path | None) -> RuntimeError:
    return RuntimeError(
        f"Process {proc.pid} ({_describe_args(proc)}) exited with code {proc.returncode} "
        f"before {what} was ready. Its output"
        f"{f' ({log_path})' if log_path is not None else ''}:\n{process_output(proc, log_path)}"
    )


def _describe_args(proc: subprocess.Popen[Any]) -> str:
    args = proc.args
    if isinstance(args, (list, tuple)):
        return " ".join(os.fspath(a) if not isinstance(a, bytes) else a.decode() for a in args)
    return str(args)


def _poll_intervals() -> list[float]:
    intervals = []
    interval = _FIRST_POLL_INTERVAL
    while interval < _MAX_POLL_INTERVAL:
        intervals.append(interval)
        interval *= 2
    return intervals


def _sleep_step(step: int, deadline: float) -> None:
    intervals = _poll_intervals()
    interval = intervals[step] if step < len(intervals) else _MAX_POLL_INTERVAL
    time.sleep(max(0.0, min(interval, deadline - time.monotonic())))


def wait_for_http(
    url: str,
    timeout: float = 60.0,
    proc: subprocess.Popen[Any] | None = None,
    *,
    log_path: Path | None = None,
) -> None:
    """Poll ``url`` with GET until it answers 200.

    Connection errors and non-200 answers (a server still loading its model answers 404 or
    503) are retried with a growing interval capped at half a second.

    Args:
        url: The URL to poll, e.g. ``http://127.0.0.1:5000/health``.
        timeout: Seconds to wait in total.
        proc: The server process; when it exits first, waiting stops at once.
        log_path: The file holding ``proc``'s output, quoted in the error.

    Raises:
        RuntimeError: When ``proc`` exits before ``url`` answers; the message includes the
            process's output.
        TimeoutError: When ``url`` does not answer 200 within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last_problem = "no attempt made"
    step = 0
    while True:
        if proc is not None and proc.poll() is not None:
            raise _exited_error(url, proc, log_path)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            with _OPENER.open(url, timeout=max(0.1, min(5.0, remaining))) as response:
                if response.status == 200:
                    return
                last_problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_problem = f"{type(exc).__name__}: {exc}"
        _sleep_step(step, deadline)
        step += 1
    output = f"\nProcess output:\n{process_output(proc, log_path)}" if proc is not None else ""
    raise TimeoutError(
        f"{url} did not answer 200 within {timeout:g} s (last attempt: {last_problem}).{output}"
    )


def wait_for_port(
    host: str,
    port: int,
    timeout: float = 60.0,
    proc: subprocess.Popen[Any] | None = None,
    *,
    log_path: Path | None = None,
) -> None:
    """Poll until a TCP connection to ``host:port`` succeeds.

    Args:
        host: Host to connect to.
        port: Port to connect to.
        timeout: Seconds to wait in total.
        proc: The server process; when it exits first, waiting stops at once.
        log_path: The file holding ``proc``'s output, quoted in the error.

    Raises:
        RuntimeError: When ``proc`` exits before the port accepts connections; the message
            includes the process's output.
        TimeoutError: When the port does not accept connections within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last_problem = "no attempt made"
    step = 0
    while True:
        if proc is not None and proc.poll() is not None:
            raise _exited_error(f"{host}:{port}", proc, log_path)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            with socket.create_connection((host, port), timeout=max(0.1, min(2.0, remaining))):
                return
        except OSError as exc:
            last_problem = f"{type(exc).__name__}: {exc}"
        _sleep_step(step, deadline)
        step += 1
    output = f"\nProcess output:\n{process_output(proc, log_path)}" if proc is not None else ""
    raise TimeoutError(
        f"{host}:{port} did not accept a TCP connection within {timeout:g} s "
        f"(last attempt: {last_problem}).{output}"
    )


def track_process(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """Remember ``proc`` so it is stopped at interpreter exit if nobody stopped it.

    ``stop_process`` forgets it again. This is a safety net, not the cleanup path: fixtures
    and helpers stop their processes in ``finally`` blocks.

    Args:
        proc: A process started with ``start_new_session=True``.
        timeout: The grace period ``stop_process`` gets at exit.
    """
    _LIVE[proc.pid] = (proc, timeout)


def _group_alive(pgid: int) -> bool:
    """True while a process of group ``pgid`` runs; zombies (exited, unreaped) do not count."""
    proc_fs = Path("/proc")
    if proc_fs.is_dir():
        for entry in proc_fs.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name (2nd field) is parenthesised and may contain spaces.
            fields = stat.rsplit(")", 1)[-1].split()
            if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_group_gone(pgid: int, deadline: float) -> bool:
    step = 0
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        _sleep_step(step, deadline)
        step += 1
    return True


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    """Stop ``proc`` and every process in its process group.

    Sends SIGTERM to the group, waits up to ``timeout`` seconds for the leader to exit and
    the group to empty, then sends SIGKILL to whatever is left. Safe to call twice and on a
    process that already exited (its children may still be running, so the group is
    signalled anyway).

    The group is only signalled when ``proc`` leads its own group (it was started with
    ``start_new_session=True``); otherwise only ``proc`` itself is terminated, so the test
    process's own group is never hit.

    Args:
        proc: The process to stop.
        timeout: Seconds of grace between SIGTERM and SIGKILL.
    """
    _LIVE.pop(proc.pid, None)
    pgid = proc.pid
    # A leader that has not been reaped yet still identifies its group. Once reaped, a group
    # with its pid can only be the one it created: pids are not reused while a group
    # with that id still exists.
    own_group = pgid != os.getpgrp()
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            own_group = own_group and os.getpgid(proc.pid) == proc.pid
    deadline = time.monotonic() + timeout

    if not own_group:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    else:
        _signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        if proc.poll() is None or not _wait_group_gone(pgid, deadline):
            logger.warning(
                "Process group %s outlived SIGTERM by %s s; sending SIGKILL.", pgid, timeout
            )
            _signal_group(pgid, signal.SIGKILL)
            proc.wait()
            _wait_group_gone(pgid, time.monotonic() + _KILL_GRACE)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    logger.debug(
        "Stopped process group %s (%s) in %.2f s.",
        pgid,
        _describe_args(proc),
        time.monotonic() - deadline + timeout,
    )


@atexit.register
def _stop_leftovers() -> None:
    for proc, timeout in list(_LIVE.values()):
        with contextlib.suppress(Exception):
            stop_process(proc, timeout)
