"""Runs whose process died without closing them: who owns a run, and closing orphans.

SIGINT and SIGTERM end a run as KILLED (``_interrupts``), but nothing can run after
``kill -9``, an out-of-memory kill or a lost machine: the run stays RUNNING and a model being
logged stays PENDING, forever. So each run records its owner (host, pid, and the process's
start time, which tells a live owner from another process that reuses its pid), and the next
``kedro run`` on the same store, on the same host, marks the runs whose owner is gone as
KILLED and their models that never became READY as FAILED, and says so in one line. A run
owned by another host cannot be checked from here and is left as it is.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import TYPE_CHECKING

from mlflow.entities import LoggedModelStatus, ViewType
from mlflow.exceptions import MlflowException

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

TAG_HOST = "pipelineml.owner.host"
TAG_PID = "pipelineml.owner.pid"
TAG_STARTED = "pipelineml.owner.started"
TAG_RECOVERED = "pipelineml.recovered"
# How many RUNNING runs of this host one start looks at (newest first).
_MAX_RUNS = 500


def _start_time(pid: int) -> str:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or ``""``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # The command name (field 2) may hold spaces; the fields after it may not.
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return ""
    return fields[19]  # field 22 of stat(5): starttime


def owner_tags() -> dict[str, str]:
    """The tags naming this process as the owner of the run it opens."""
    return {
        TAG_HOST: socket.gethostname(),
        TAG_PID: str(os.getpid()),
        TAG_STARTED: _start_time(os.getpid()),
    }


def _owner_gone(run: Run) -> bool:
    tags = run.data.tags
    try:
        pid = int(tags[TAG_PID])
    except (KeyError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, someone else's
    started = tags.get(TAG_STARTED, "")
    # Alive under that pid: the owner, unless the pid was reused by a later process.
    return bool(started) and _start_time(pid) not in ("", started)


def close_orphaned_runs(client: MlflowClient) -> None:
    """Mark KILLED the RUNNING runs on this store whose owner process on this host is gone,
    and FAILED their models that are not READY; one WARNING line says which."""
    host = socket.gethostname().replace("'", "")
    try:
        experiments = [e.experiment_id for e in client.search_experiments(ViewType.ACTIVE_ONLY)]
        runs = client.search_runs(
            experiments,
            filter_string=f"attributes.status = 'RUNNING' and tags.`{TAG_HOST}` = '{host}'",
            max_results=_MAX_RUNS,
        )
    except MlflowException as exc:
        logger.debug("Could not look for runs left RUNNING by dead processes: %s", exc)
        return
    orphans = [run for run in runs if _owner_gone(run)]
    failed_models = 0
    for run in orphans:
        run_id = run.info.run_id
        try:
            models = client.search_logged_models(
                [run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
            )
            for model in models:
                if model.status != LoggedModelStatus.READY:
                    client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
                    failed_models += 1
            client.set_tag(
                run_id,
                TAG_RECOVERED,
                f"marked KILLED at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}: its process "
                f"(pid {run.data.tags.get(TAG_PID)} on {host}) ended without closing it",
            )
            client.set_terminated(run_id, "KILLED")
        except MlflowException as exc:
            logger.debug("Could not close run %s left by a dead process: %s", run_id, exc)
    if orphans:
        also = f", and {failed_models} of their models not completely logged FAILED"
        logger.warning(
            "pipelineml: %d MLflow run(s) whose process ended without closing them "
            "(killed, or its machine lost) marked KILLED%s: %s",
            len(orphans),
            also if failed_models else "",
            ", ".join(run.info.run_id for run in orphans),
        )
