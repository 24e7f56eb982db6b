"""Kedro-style progress lines for runs made by ``kedro run`` (or any run with hooks).

Kedro's runners log "Completed N out of M tasks" through their own module's logger; ours
log the same lines through ``pipelineml.runners``, at INFO, and only when that logger is
enabled for INFO: the user's logging configuration decides, as for any library. Kedro's
default configuration shows INFO for ``kedro`` only; a project's ``conf/logging.yml`` shows
these lines with::

    loggers:
      pipelineml:
        level: INFO

Runs without a hook manager (models scoring through ``run_in_memory``) never get a
``Progress`` and log nothing above DEBUG.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pluggy import PluginManager

logger = logging.getLogger("pipelineml.runners")


class Progress:
    """Logs each finished node and the end of a run, as Kedro's runners word them."""

    __slots__ = ("count", "total")

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0

    def info(self, msg: str, *args: Any) -> None:
        """Log ``msg % args`` at INFO for the user watching ``kedro run``."""
        logger.info(msg, *args, stacklevel=2)

    def node_done(self, name: str) -> None:
        """One more node finished (callers serialise calls)."""
        self.count += 1
        logger.info("Completed node: %s", name)
        logger.info("Completed %d out of %d tasks", self.count, self.total)

    def finished(self, seconds: float) -> None:
        """The whole pipeline succeeded."""
        logger.info("Pipeline execution completed successfully in %.1f sec.", seconds)


def session_progress(hook_manager: PluginManager | None, total: int) -> Progress | None:
    """A ``Progress`` for a run with hooks whose lines would be shown, else ``None``."""
    if hook_manager is None or not logger.isEnabledFor(logging.INFO):
        return None
    return Progress(total)
