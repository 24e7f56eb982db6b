"""MLflow's requirement inference, with its slow start done while the pipeline trains.

To infer a model's pip requirements, MLflow (``mlflow.utils.requirements_utils``)

1. maps every installed module to its distribution, a scan of every distribution's file
   list (``importlib_metadata.packages_distributions()``, 0.2-0.5 s), then
2. runs ``python mlflow/utils/_capture_modules.py --model-path ...`` in a new interpreter,
   which imports MLflow (about 0.9 s) and only then loads the model, recording the modules
   the load imports.

Both run after training, one after the other, while the run waits. ``RequirementsHelper``
starts an interpreter when the run starts that does the scan and imports the capture script
as a module, then waits. When the model is logged, MLflow's map is built from the scan (by
MLflow's own initialiser) and the capture command MLflow issues is executed by the waiting
interpreter, running the script's ``main()`` on the same arguments. What the model imports
is recorded exactly as in a fresh interpreter (MLflow is imported before recording starts in
both), so the requirements are the same; only the waiting is gone.

This replaces one MLflow internal while a model is logged (``requirements_utils._run_command``,
for the logging thread only) and calls others: all of them are in ``_mlflow_internals``, each
checked before use. The helper is used only when nothing it was started with has changed: the same interpreter,
command, environment and working directory. Otherwise, or when it failed, or when MLflow's
internals used here are not there, MLflow does everything itself as usual.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from pipelineml.hooks._mlflow_internals import (
    capture_environment,
    helper_internals,
    run_command_patch,
    seed_modules_map,
)

logger = logging.getLogger(__name__)

# Runs in the helper interpreter. Line 1 of stdout is the scan (JSON); then one line of
# stdin carries the capture script's arguments (or nothing: not needed, exit).
_HELPER = """\
import json, os, sys
sys.path[:] = json.loads(sys.argv[1])
from mlflow.utils import _capture_modules
import importlib_metadata
try:
    scan = importlib_metadata.packages_distributions()
except Exception:
    scan = None
sys.stdout.write(json.dumps(scan) + "\\n")
sys.stdout.flush()
request = sys.stdin.readline()
if not request:
    sys.exit(0)
request = json.loads(request)
os.environ.clear()
os.environ.update(request["env"])
sys.argv = [_capture_modules.__file__, *request["args"]]
_capture_modules.main()
"""
READY_SECONDS = 60.0
# Set by MLflow in this process after the helper started (an id for its telemetry); it
# cannot change what a model imports. The helper still gets its value before capturing.
_VOLATILE_VARIABLES = frozenset({"_MLFLOW_TELEMETRY_SESSION_ID"})


def _stable(environ: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in environ.items() if key not in _VOLATILE_VARIABLES}


class RequirementsHelper:
    """An interpreter started early to serve MLflow's requirement inference once."""

    def __init__(self, python: str | None = None) -> None:
        """Prepare a helper; ``python`` is its interpreter (default: this one)."""
        self._python = python or sys.executable
        self._process: subprocess.Popen[bytes] | None = None
        self._environ: dict[str, str] = {}
        self._cwd = ""
        self._script = ""
        self._scan_line: list[bytes] = []
        self._reader: threading.Thread | None = None
        # A file, not a pipe: nobody reads the helper's stderr while it waits, and a full
        # pipe would block it.
        self._stderr: Any = None
        self._ready = False
        self.used = False

    @property
    def running(self) -> bool:
        """Whether the helper interpreter is started and not yet collected."""
        return self._process is not None

    def start(self) -> None:
        """Start the interpreter, unless MLflow's internals are not the ones expected."""
        internals = helper_internals()
        if self._process is not None or internals is None:
            return
        _, capture_modules = internals
        try:
            self._environ = capture_environment()
            self._cwd = os.getcwd()
            self._script = str(capture_modules.__file__)
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this call
            self._process = subprocess.Popen(
                [self._python, "-c", _HELPER, json.dumps(sys.path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=self._environ,
            )
        except Exception as exc:  # the helper must never fail a run
            logger.debug("Could not start the requirements helper: %s", exc)
            self._take_stderr()
            return
        stdout = self._process.stdout
        assert stdout is not None
        # A thread waits for the scan so that prepare() can give up after a while.
        self._reader = threading.Thread(
            target=lambda: self._scan_line.append(stdout.readline()),
            name="pipelineml-requirements-helper",
            daemon=True,
        )
        self._reader.start()

    def prepare(self, timeout: float = READY_SECONDS) -> bool:
        """Wait until the helper is ready; give its scan to MLflow. Whether it is usable.

        Never raises: a helper that is not ready in time or failed is stopped, and MLflow
        then does its own scan and capture.
        """
        if self._process is None or self._reader is None:
            return False
        self._reader.join(timeout)
        line = self._scan_line[0] if self._scan_line else b""
        try:
            if not line:
                alive = self._reader.is_alive()
                raise RuntimeError("not ready in time" if alive else "it exited early")
            scan = json.loads(line)
        except Exception as exc:
            self._fail(exc)
            return False
        internals = helper_internals()
        if internals is None:
            self.close()
            return False
        requirements_utils, _ = internals
        if isinstance(scan, dict):
            try:
                seed_modules_map(requirements_utils, scan)
            except Exception as exc:
                self._fail(exc)
                return False
        self._ready = True
        return True

    def _fail(self, reason: object) -> None:
        stderr = self.close()
        logger.debug(
            "The requirements helper is not used (%s); MLflow infers requirements as usual. %s",
            reason,
            stderr.decode(errors="replace")[-2000:],
        )

    def accepts(self, cmd: list[str], env: dict[str, str] | None) -> bool:
        """Whether ``cmd``, run with ``env``, is the capture this helper was started for."""
        return (
            self._process is not None
            and self._ready
            and not self.used
            and len(cmd) >= 2
            and cmd[0] == self._python
            and os.path.realpath(cmd[1]) == os.path.realpath(self._script)
            and env is not None
            and _stable(env) == _stable(self._environ)
            and os.getcwd() == self._cwd
        )

    def run(self, cmd: list[str], timeout_seconds: float, env: dict[str, str]) -> None:
        """Run the capture ``cmd`` in the helper, with MLflow's timeout and error."""
        from mlflow.exceptions import MlflowException

        process = self._process
        assert process is not None
        self.used = True
        self._process = None
        request = (json.dumps({"args": cmd[2:], "env": env}) + "\n").encode()
        try:
            stdout, _ = process.communicate(request, timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, _ = process.communicate()
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM) while it captures: it must not outlive the run.
            process.kill()
            with contextlib.suppress(Exception):
                process.communicate(timeout=10)
            self._take_stderr()
            raise
        stderr = self._take_stderr()
        logger.debug(
            "MLflow's module capture ran in the requirements helper started with the run "
            "(exit status %s)",
            process.returncode,
        )
        if process.returncode != 0:
            raise MlflowException(
                "\n".join(
                    [
                        f"Encountered an unexpected error while running {cmd}",
                        f"exit status: {process.returncode}",
                        f"stdout: {stdout.decode('utf-8', errors='replace')}",
                        f"stderr: {stderr.decode('utf-8', errors='replace')}",
                    ]
                )
            )

    def close(self) -> bytes:
        """Stop the interpreter if it still runs (a failed run, or no capture needed).

        Returns:
            What it wrote to stderr.
        """
        process, self._process = self._process, None
        if process is None:
            return b""
        process.kill()
        if self._reader is not None:
            self._reader.join(10)  # the kill closes the pipe it reads
        with contextlib.suppress(Exception):
            process.communicate(timeout=10)
        return self._take_stderr()

    def _take_stderr(self) -> bytes:
        stream, self._stderr = self._stderr, None
        if stream is None:
            return b""
        with stream:
            stream.seek(0)
            return bytes(stream.read())

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """While in this block, this thread's capture commands go to the helper.

        MLflow's ``requirements_utils._run_command`` is replaced for this thread only
        (``ThreadPatch``); a command the helper was not started for runs as MLflow runs it.
        """
        internals = helper_internals()
        if internals is None or self._process is None:
            yield
            return
        requirements_utils, _ = internals
        with run_command_patch(requirements_utils).override(self._route):
            yield

    def _route(
        self,
        original: Any,
        cmd: list[str],
        timeout_seconds: float,
        env: dict[str, str] | None = None,
    ) -> None:
        """MLflow's ``_run_command``, served by this helper when the command fits."""
        command = [str(part) for part in cmd]
        if env is not None and self.accepts(command, env):
            self.run(command, timeout_seconds, env)
            return
        original(cmd, timeout_seconds, env=env)
