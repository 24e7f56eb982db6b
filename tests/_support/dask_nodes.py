"""Node functions for the DaskRunner tests; importable by worker processes (PYTHONPATH)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl


def add_one(x: int) -> int:
    """x + 1."""
    return x + 1


def double(x: int) -> int:
    """2 x."""
    return 2 * x


def total(*values: int) -> int:
    """The sum of the inputs."""
    return sum(values)


def with_pid(x: int) -> dict[str, int]:
    """The value and the pid of the process that ran the node."""
    return {"value": x, "pid": os.getpid()}


def malloc_environ() -> tuple[str | None, str | None]:
    """``MALLOC_TRIM_THRESHOLD_`` and ``OMP_NUM_THREADS`` as this process got them."""
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")


def fail(x: int) -> int:
    """Always raises, with a recognisable message."""
    raise KeyError(f"node failed on purpose with {x}")


def slow(x: int, seconds: float = 3.0) -> int:
    """Sleeps, to still be running when something else fails."""
    time.sleep(seconds)
    return x


def die_once(x: int, marker: str) -> int:
    """Kills its worker process the first time (no marker file yet), succeeds after."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os._exit(1)
    return x + 100


def flaky_once(x: int, marker: str) -> int:
    """Raises the first time (no marker file yet), succeeds after."""
    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise RuntimeError("transient failure")
    return x + 1000


class RecordingHook:
    """Appends 'hook node dataset pid' lines to a file, from whichever process runs it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _write(self, *parts: Any) -> None:
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(" ".join(map(str, [*parts, os.getpid()])) + "\n")

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """Record the node about to run."""
        self._write("before_node_run", node.name, "-")

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Any) -> None:
        """Record each saved dataset."""
        self._write("after_dataset_saved", node.name, dataset_name)


def current_task() -> str:
    """The key of the Dask task running this code (on a worker)."""
    from distributed import get_worker

    return str(get_worker().get_current_task())


def append_task(keys: list[str]) -> list[str]:
    """``keys`` plus the key of the Dask task running this node."""
    return [*keys, current_task()]


class TaskRecordingHook:
    """Appends 'hook, node, task key, pid' lines (tab-separated: default node names and
    task keys hold spaces) to a file for each node hook, from the process running it.

    Nodes that share a Dask task record the same key: what a test of fusion looks at.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def _write(self, hook: str, node: Any) -> None:
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(f"{hook}\t{node.name}\t{current_task()}\t{os.getpid()}\n")

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """Record the node about to run."""
        self._write("before_node_run", node)

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        """Record the node that ran."""
        self._write("after_node_run", node)

    @hook_impl
    def on_node_error(self, node: Any) -> None:
        """Record the node that raised."""
        self._write("on_node_error", node)


def read_task_records(path: Path) -> list[tuple[str, str, str, int]]:
    """The ``(hook, node, task key, pid)`` lines a ``TaskRecordingHook`` wrote."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        hook, name, key, pid = line.split("\t")
        records.append((hook, name, key, int(pid)))
    return records


def with_task_column(frame: Any) -> Any:
    """``frame`` plus a column ``task_<n>`` (n: its column count) holding this task's key."""
    return frame.assign(**{f"task_{len(frame.columns)}": current_task()})
