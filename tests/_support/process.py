"""Interpreter selection, quiet environments and detached launches for test subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests._support.net import track_process

__all__ = ["QUIET_ENV", "interpreter", "launch", "subprocess_env"]

#: Set in every subprocess: no telemetry from Kedro or MLflow, unbuffered logs so a crash
#: report is in the log file when we read it.
QUIET_ENV: Mapping[str, str] = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "MLFLOW_ENABLE_TELEMETRY": "false",
    "PYTHONUNBUFFERED": "1",
}


def interpreter(python: Path | str | None = None) -> Path:
    """Return the interpreter to run subprocesses with.

    Args:
        python: An interpreter path; ``None`` means the one running the tests.

    Returns:
        The interpreter path, unresolved: a virtualenv's ``bin/python`` is often a symlink,
        and resolving it would lose the virtualenv.
    """
    return Path(python) if python is not None else Path(sys.executable)


def subprocess_env(
    python: Path | str | None = None,
    extra: Mapping[str, str] | None = None,
    *,
    tmpdir: Path | None = None,
) -> dict[str, str]:
    """Build the environment of a test subprocess.

    It is a copy of ``os.environ`` plus ``QUIET_ENV``, with the interpreter's ``bin``
    directory first on ``PATH`` (``mlflow models serve`` execs ``uvicorn`` through ``PATH``,
    so it must find the one next to the interpreter) and ``extra`` applied last.

    Args:
        python: The interpreter the subprocess runs; ``None`` means ``sys.executable``.
        extra: Variables to set on top, e.g. ``MLFLOW_TRACKING_URI`` or ``PYTHONPATH``.
        tmpdir: When given, created and used as ``TMPDIR`` so the subprocess's temporary
            files stay inside the test's own temporary directory.

    Returns:
        The environment mapping.
    """
    env = dict(os.environ)
    env.update(QUIET_ENV)
    bin_dir = os.fspath(interpreter(python).parent)
    path = env.get("PATH", "")
    env["PATH"] = bin_dir + (os.pathsep + path if path else "")
    if tmpdir is not None:
        tmpdir.mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = os.fspath(tmpdir)
    if extra:
        env.update(extra)
    return env


def launch(
    args: Sequence[str | os.PathLike[str]],
    *,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path,
) -> subprocess.Popen[Any]:
    """Start a long-running process in its own session, output to ``log_path``.

    The process leads a new process group, so ``stop_process`` can stop it with all its
    children. It is also registered to be stopped at interpreter exit if nobody stops it.

    Args:
        args: The command line.
        log_path: File receiving stdout and stderr (truncated first).
        env: The complete environment.
        cwd: Working directory; files a server writes next to itself land there.

    Returns:
        The started process.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        # The child keeps its own copy of the descriptor; ours can close right away.
        proc = subprocess.Popen(
            [os.fspath(a) for a in args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    track_process(proc)
    return proc
