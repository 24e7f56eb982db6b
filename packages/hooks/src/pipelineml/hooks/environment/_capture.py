"""What a model imports when it loads, recorded by an interpreter started with the run.

To infer a model's requirements, MLflow

1. maps every installed module to its distribution, a scan of every distribution's file
   list (``importlib.metadata.packages_distributions()``, 0.2-0.5 s), then
2. runs ``python mlflow/utils/_capture_modules.py --model-path ...`` in a new interpreter,
   which imports MLflow (about 0.9 s) and only then loads the model, recording the modules
   the load imports.

Done after training, both are waited for. ``ModuleCapture`` starts, with the run, an
interpreter that does the scan and imports the capture script, then waits; when the model
is to be logged, it runs the script's ``main()`` on the arguments and environment MLflow
would give it (``_mlflow_internals``). What the model imports is recorded exactly as in a
fresh interpreter (MLflow is imported before recording starts in both), so the requirements
are the same; only the waiting is gone. Nothing of MLflow's is replaced: pipelineml calls
the script itself and passes the result to MLflow as ``pip_requirements``.

One capture per interpreter (it exits after it): a capture asked of a ``ModuleCapture``
that was not started, or whose interpreter failed or was late, starts a new interpreter
then and waits for it, as MLflow's inference would, so that the requirements never depend
on the waiting. Only when this MLflow has no capture script do models get their
requirements from MLflow's public ``mlflow.models.infer_pip_requirements``.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelineml.hooks.environment._mlflow_internals import (
    CAPTURE_SERVER,
    capture_arguments,
    capture_environment,
    capture_script,
)
from pipelineml.hooks.errors import KedroPipelineModelError

logger = logging.getLogger(__name__)

READY_SECONDS = 60.0
# MLflow's own bound on a capture (MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT's default).
CAPTURE_SECONDS = 120.0


@dataclass(frozen=True)
class Captured:
    """What a capture found.

    Attributes:
        modules: The top-level modules the model imported while it loaded.
        distributions: ``{module: [distribution, ...]}`` of the installed distributions.
    """

    modules: tuple[str, ...]
    distributions: dict[str, list[str]]


class ModuleCapture:
    """An interpreter started early to record, once, what a model imports when it loads."""

    def __init__(self, python: str | None = None) -> None:
        """Prepare a capture; ``python`` is its interpreter (default: this one)."""
        self._python = python or sys.executable
        self._process: subprocess.Popen[bytes] | None = None
        self._scan_line: list[bytes] = []
        self._reader: threading.Thread | None = None
        # A file, not a pipe: nobody reads its stderr while it waits, and a full pipe would
        # block it.
        self._stderr: Any = None
        self._scan: dict[str, list[str]] | None = None

    def start(self) -> None:
        """Start the interpreter now, to be ready when the model is logged."""
        if self._process is None:
            self._launch(self._python)

    def _launch(self, python: str) -> bool:
        """Start an interpreter (none when MLflow has no capture script); whether it runs."""
        if capture_script() is None:
            return False
        self._scan_line = []
        try:
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this call
            self._process = subprocess.Popen(
                [python, "-c", CAPTURE_SERVER, json.dumps(sys.path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=capture_environment(),
            )
        except Exception as exc:  # the capture must never fail a run
            logger.debug("Could not start the module capture: %s", exc)
            self._take_stderr()
            return False
        logger.debug("Module capture interpreter started (pid %d)", self._process.pid)
        stdout = self._process.stdout
        assert stdout is not None
        # A thread waits for the scan so that prepare() can give up after a while.
        self._reader = threading.Thread(
            target=lambda: self._scan_line.append(stdout.readline()),
            name="pipelineml-module-capture",
            daemon=True,
        )
        self._reader.start()
        return True

    def prepare(self, timeout: float = READY_SECONDS) -> bool:
        """Wait until the interpreter has scanned; whether it can capture.

        Never raises: one that is not ready in time or failed is stopped (reported at
        DEBUG), and the model's requirements come from MLflow's inference instead.
        """
        if self._scan is not None:
            return True
        if self._process is None or self._reader is None:
            return False
        self._reader.join(timeout)
        line = self._scan_line[0] if self._scan_line else b""
        try:
            if not line:
                alive = self._reader.is_alive()
                raise RuntimeError("not ready in time" if alive else "it exited early")
            scan = json.loads(line)
            if not isinstance(scan, dict):
                raise RuntimeError("it could not scan the installed distributions")
        except Exception as exc:
            stderr = self.close()
            logger.debug(
                "The module capture is not used (%s); MLflow infers the requirements. %s",
                exc,
                stderr.decode(errors="replace")[-2000:],
            )
            return False
        self._scan = {str(module): [str(d) for d in dists] for module, dists in scan.items()}
        return True

    def capture(self, model_path: str | os.PathLike[str]) -> Captured | None:
        """What the model saved at ``model_path`` imports when it loads.

        Returns:
            ``None`` when MLflow has no capture script, or no interpreter could start.

        Raises:
            KedroPipelineModelError: When the model failed to load in the capture, with what
                the capture printed.
        """
        # Not started, failed or late: a new interpreter, now (this one's own interpreter:
        # the one given to start() early may be what failed).
        if not self.prepare() and not (self._launch(sys.executable) and self.prepare()):
            return None
        process, self._process = self._process, None
        scan, self._scan = self._scan, None
        if process is None or scan is None:
            return None
        with tempfile.TemporaryDirectory(prefix="pipelineml-capture-") as folder:
            output, error = Path(folder, "modules.txt"), Path(folder, "errors.txt")
            args = capture_arguments(os.fspath(model_path), os.fspath(output), os.fspath(error))
            request = {"args": args, "env": capture_environment(), "cwd": os.getcwd()}
            try:
                process.communicate((json.dumps(request) + "\n").encode(), CAPTURE_SECONDS)
            except BaseException:
                # Timed out, or interrupted (Ctrl-C, SIGTERM): it must not outlive the run.
                process.kill()
                with contextlib.suppress(Exception):
                    process.communicate(timeout=10)
                self._take_stderr()
                raise
            stderr = self._take_stderr().decode("utf-8", errors="replace")
            if process.returncode != 0 or not output.is_file():
                raise KedroPipelineModelError(
                    "Loading the model to find what it imports failed (exit status "
                    f"{process.returncode}), so its requirements are unknown: "
                    f"{stderr.strip()[-3000:]}"
                )
            if error.is_file() and error.read_text(encoding="utf-8").strip():
                # MLflow logs these as warnings too (e.g. a failing input example).
                logger.warning("%s", error.read_text(encoding="utf-8").strip())
            modules = tuple(line for line in output.read_text().splitlines() if line)
        logger.debug("Module capture: the model imports %s", ", ".join(modules))
        return Captured(modules, scan)

    def close(self) -> bytes:
        """Stop the interpreter if it still runs (a failed run, or no capture needed).

        Returns:
            What it wrote to stderr.
        """
        process, self._process = self._process, None
        self._scan = None
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
