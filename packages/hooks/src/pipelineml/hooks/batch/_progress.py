"""Progress of a batch job: rich's progress bar in a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

__all__ = ["BatchProgress"]

logger = logging.getLogger("pipelineml.hooks.batch")

#: Seconds between two log lines when there is no terminal to draw a bar in.
LOG_INTERVAL = 10.0


class BatchProgress:
    """Counts partitions (or chunks) done and rows scored, and shows it.

    Each partition counts once, even when Dask runs it again after losing a worker.
    """

    def __init__(
        self,
        total: int,
        what: str = "partitions",
        *,
        bar: bool | None = None,
        interval: float = LOG_INTERVAL,
        lazy: bool = False,
    ) -> None:
        """Start counting.

        Args:
            total: How many partitions the job has.
            what: The unit shown (``partitions`` or ``chunks``).
            bar: Draw a progress bar; by default only when stderr is a terminal.
            interval: Seconds between log lines when no bar is drawn.
            lazy: The work starts later than now (a lazy Dask result): the clock starts
                when the first partition is reported, and rates leave that one out.
        """
        self.total = total
        self.what = what
        self.rows = 0
        self.failed: set[int] = set()
        self._done: set[int] = set()
        self._lock = threading.Lock()
        self._interval = interval
        self._lazy = lazy
        self._uncounted = 0
        self._started = time.monotonic()
        self._last_log = self._started
        self._closed = False
        self._bar: Any = None
        self._task: Any = None
        # The bar appears with the first scored partition: a lazy result may be computed
        # much later, or never.
        self._wants_bar = bar if bar is not None else sys.stderr.isatty()

    def _start_bar(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            TextColumn("batch_predict"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(self.what),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
        )
        self._task = self._bar.add_task("scoring", total=self.total, rate="")
        self._bar.start()

    @property
    def done(self) -> int:
        """How many partitions were scored."""
        return len(self._done)

    def not_done(self) -> list[int]:
        """The partitions not reported scored, in order."""
        with self._lock:
            return sorted(set(range(self.total)) - self._done)

    def _rate(self) -> float:
        elapsed = time.monotonic() - self._started
        counted = self.rows - self._uncounted
        return counted / elapsed if elapsed > 0 and counted > 0 else 0.0

    def _line(self) -> str:
        return (
            f"batch_predict: {self.done}/{self.total} {self.what}, {self.rows:,} rows, "
            f"{self._rate():,.0f} rows/s"
        )

    def update(self, partition: int, rows: int) -> None:
        """Count ``partition`` (of ``rows`` rows) as scored."""
        with self._lock:
            if self._closed or partition in self._done:
                return
            if not self._done:
                if self._lazy:
                    # When it started is unknown: count from the end of the first one.
                    self._started = self._last_log = time.monotonic()
                    self._uncounted = rows
                if self._wants_bar:
                    self._start_bar()
            self._done.add(partition)
            self.rows += rows
            finished = self.done >= self.total
            if self._bar is not None:
                self._bar.update(
                    self._task, completed=self.done, rate=f"{self._rate():,.0f} rows/s"
                )
            elif finished or time.monotonic() - self._last_log >= self._interval:
                self._last_log = time.monotonic()
                logger.info(self._line())
        if finished:
            self.close()

    def fail(self, partition: int) -> None:
        """Count ``partition`` as failed, which ends the display."""
        with self._lock:
            self.failed.add(partition)
        logger.info("batch_predict: %s %d failed; %s", self.what[:-1], partition, self._line())
        self.close()

    def on_event(self, event: tuple[float, Any]) -> None:
        """Handle one Dask event ``(timestamp, {"partition": i, "rows": n | "failed": True})``."""
        message = event[1]
        if not isinstance(message, dict) or "partition" not in message:
            return
        if message.get("failed"):
            self.fail(int(message["partition"]))
        else:
            self.update(int(message["partition"]), int(message.get("rows", 0)))

    @property
    def closed(self) -> bool:
        """Whether the job finished, failed or was abandoned."""
        return self._closed

    def close(self) -> None:
        """Stop the bar (if any); later updates are ignored."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            bar, self._bar = self._bar, None
        if bar is not None:
            bar.stop()
