"""Kedro-style progress lines for runs made by ``kedro run`` (or any run with hooks).

Kedro's runners log "Completed N out of M tasks" through the ``kedro`` logger, which
Kedro's default logging shows at INFO. Our runners log the same lines through
``pipelineml.runners``, which that default configuration leaves at the root's WARNING. So
in a run with a hook manager (a session run) these lines are handed to the handlers at
INFO unless the user's logging configuration set a level for ``pipelineml.runners`` or a
parent; no logger level is changed. Runs without a hook manager (models scoring through
``run_in_memory``) never get a ``Progress`` and log nothing above DEBUG.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pluggy import PluginManager

logger = logging.getLogger("pipelineml.runners")


def _level_configured(start: logging.Logger) -> bool:
    current: logging.Logger | None = start
    root = logging.getLogger()
    while current is not None and current is not root:
        if current.level != logging.NOTSET:
            return True
        current = current.parent
    return False


class Progress:
    """Logs each finished node and the end of a run, as Kedro's runners word them."""

    __slots__ = ("count", "forced", "total")

    def __init__(self, total: int, forced: bool) -> None:
        self.total = total
        self.count = 0
        # True when only the root's level would hide the lines: they bypass it.
        self.forced = forced

    def info(self, msg: str, *args: Any) -> None:
        """Log ``msg % args`` at INFO for the user watching ``kedro run``."""
        if not self.forced:
            logger.info(msg, *args, stacklevel=2)
            return
        fn, lno, func, _ = logger.findCaller(stacklevel=2)
        logger.handle(logger.makeRecord(logger.name, logging.INFO, fn, lno, msg, args, None, func))

    def node_done(self, name: str) -> None:
        """One more node finished (callers serialise calls)."""
        self.count += 1
        self.info("Completed node: %s", name)
        self.info("Completed %d out of %d tasks", self.count, self.total)

    def finished(self, seconds: float) -> None:
        """The whole pipeline succeeded."""
        self.info("Pipeline execution completed successfully in %.1f sec.", seconds)


def session_progress(hook_manager: PluginManager | None, total: int) -> Progress | None:
    """A ``Progress`` for a run with hooks, or ``None`` (no hooks, or INFO turned off)."""
    if hook_manager is None:
        return None
    if logger.isEnabledFor(logging.INFO):
        return Progress(total, forced=False)
    if _level_configured(logger) or logger.disabled:
        return None
    return Progress(total, forced=True)
