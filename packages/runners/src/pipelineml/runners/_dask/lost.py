"""A scheduler lost mid-run: recognised, reported once, and its client closed quietly.

When a client's connection to its scheduler drops, ``distributed`` cancels every future
of that client at once (reason ``scheduler-connection-lost``) and tries to reconnect for
the client's ``timeout``. A run waiting on those futures then gets a bare
``CancelledError``; closing the client afterwards makes ``distributed.client`` log the
reconnection it interrupts as an ERROR with a ``CancelledError`` traceback, and a client
left open logs "Failed to reconnect to scheduler" when its timeout runs out. pipelineml
turns the first into one ``ClusterConnectionError`` naming the address and what did not
run, and closes its own clients under a filter on that one logger (``quiet_reconnect``),
removed as soon as the close returns: no level of ``distributed``'s is ever changed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from pipelineml.runners.errors import ClusterConnectionError

__all__ = ["lost_scheduler_error", "quiet_reconnect", "scheduler_address", "scheduler_lost"]

# The logger distributed's client reports its reconnection on (``log_errors`` names the
# module of the coroutine, ``distributed.client``).
_CLIENT_LOGGER = "distributed.client"

# Why distributed cancels a client's futures when it loses the connection.
_LOST_REASON = "scheduler-connection-lost"

# What a lost connection surfaces as: futures cancelled by the client, a closed comm
# (an OSError subclass in distributed), a timed-out call.
_LOST_TYPES: tuple[type[BaseException], ...] = (
    asyncio.CancelledError,
    concurrent.futures.CancelledError,
    OSError,
    TimeoutError,
)


def scheduler_address(client: Any) -> str:
    """The address ``client`` talks to, or a description when it no longer knows it."""
    scheduler = getattr(client, "scheduler", None)
    address = getattr(scheduler, "address", None)
    return str(address) if address else "its scheduler address (unknown: client closed)"


def scheduler_lost(client: Any, exc: BaseException) -> bool:
    """Whether ``exc`` means that ``client`` lost its scheduler (not a node's own error)."""
    reasons = {getattr(exc, "reason", None)}
    # gather reports several cancelled futures as one error, grouped by reason.
    reasons.update(getattr(group, "reason", None) for group in getattr(exc, "error_groups", ()))
    if _LOST_REASON in reasons:
        return True
    # A node raising OSError or TimeoutError itself leaves the client running.
    return isinstance(exc, _LOST_TYPES) and getattr(client, "status", "running") != "running"


def lost_scheduler_error(
    who: str,
    address: str,
    not_done: Iterable[str],
    kind: str = "nodes",
    count: int | None = None,
) -> ClusterConnectionError:
    """The one error a run reports when its scheduler went away.

    Args:
        who: What was running (``"DaskRunner"``, ``"batch_predict"``).
        address: The scheduler's address.
        not_done: The nodes (or partitions) whose results did not arrive, in order.
        kind: What ``not_done`` lists.
        count: How many ``not_done`` stands for, when it lists ranges (``"3-39"``).
    """
    pending = list(not_done)
    listed = ", ".join(pending) if pending else "none"
    return ClusterConnectionError(
        f"{who} lost the Dask scheduler at {address}: {kind} not done "
        f"({len(pending) if count is None else count}): "
        f"{listed}. The scheduler process stopped or the network dropped; restart it "
        "(`dask scheduler`) and run again."
    )


class _ReconnectReports(logging.Filter):
    """Drops ``distributed.client``'s reports of a reconnection to a lost scheduler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "reconnect" in str(record.msg).lower():
            return False
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _LOST_TYPES)


class _Shared:
    """How many callers are inside ``quiet_reconnect``: the filter stays until the last
    one leaves."""

    lock = threading.Lock()
    users = 0
    filter = _ReconnectReports()


@contextmanager
def quiet_reconnect() -> Iterator[None]:
    """While inside, ``distributed.client`` does not report reconnecting to a lost
    scheduler; every other record of it, and every other logger, is untouched.

    The filter sits on that logger only while a lost client is being closed (two
    seconds at most, ``connection._CLOSE_TIMEOUT``); nested and concurrent uses share it.
    """
    target = logging.getLogger(_CLIENT_LOGGER)
    with _Shared.lock:
        _Shared.users += 1
        if _Shared.users == 1:
            target.addFilter(_Shared.filter)
    try:
        yield
    finally:
        with _Shared.lock:
            _Shared.users -= 1
            if _Shared.users == 0:
                target.removeFilter(_Shared.filter)
