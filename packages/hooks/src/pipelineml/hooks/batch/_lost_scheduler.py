"""A scheduler lost while ``batch_predict``'s frame is computed: one clear error.

``batch_predict`` returns a lazy frame, so the work runs when the caller writes or computes
it; distributed then fails that call with a ``FutureCancelledError`` whose reason is
``scheduler-connection-lost``, naming a task key. The scored frame's ``to_parquet`` and
``compute`` turn that into the ``ClusterConnectionError`` ``DaskRunner`` raises for the same
loss, naming the scheduler's address and the partitions whose results never arrived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

# The runners' own test of a lost scheduler and its message: one wording for both.
from pipelineml.runners._dask.lost import lost_scheduler_error, scheduler_lost

__all__ = ["partition_ranges", "reported_lost"]

T = TypeVar("T")


def partition_ranges(numbers: Iterable[int]) -> list[str]:
    """``[0, 1, 2, 5, 7, 8]`` as ``["0-2", "5", "7-8"]``: thousands of partitions stay short."""
    ranges: list[str] = []
    start = previous = None
    for number in sorted(set(numbers)):
        if previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            ranges.append(f"{start}-{previous}" if previous != start else f"{start}")
        start = previous = number
    if start is not None:
        ranges.append(f"{start}-{previous}" if previous != start else f"{start}")
    return ranges


def reported_lost(call: Callable[[], T], address: str, not_done: Callable[[], Iterable[int]]) -> T:
    """``call()``, with a lost scheduler reported as one ``ClusterConnectionError``.

    Args:
        call: The write or compute of the scored frame.
        address: The scheduler the frame was scored on.
        not_done: The partitions whose results had not arrived, asked once it failed.
    """
    try:
        return call()
    except Exception as exc:
        # The reason alone decides (no client at hand here): a partition's own OSError
        # stays that partition's error.
        if not scheduler_lost(None, exc):
            raise
        pending = list(not_done())
        error = lost_scheduler_error(
            "batch_predict",
            address,
            partition_ranges(pending),
            kind="partitions",
            count=len(pending),
        )
    # Outside the except block: distributed's cancellation is not chained to it.
    raise error
