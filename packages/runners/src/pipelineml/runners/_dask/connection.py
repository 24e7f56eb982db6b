"""Connecting to a Dask scheduler, and closing what was opened, quietly, whatever the order.

``DaskRunner`` and batch scoring (``client``) connect the same way: an address
given, else dask's ``scheduler-address`` setting (the ``DASK_SCHEDULER_ADDRESS``
environment variable), else a ``LocalCluster`` started with the defaults below: on
127.0.0.1, with TLS and a certificate of its own. What they open is recorded in one
registry and closed by ``close()`` or at interpreter exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pipelineml.runners._dask.lost import quiet_reconnect
from pipelineml.runners.errors import ClusterConnectionError

logger = logging.getLogger("pipelineml.runners.dask")

# Who opened it, and its own key there (a runner's id, an address).
Key = tuple[str, Hashable]

DEFAULT_CLUSTER: Mapping[str, Any] = {
    "processes": True,
    "threads_per_worker": 1,
    "host": "127.0.0.1",
    # The scheduler always serves HTTP (health, metrics); keep it on loopback.
    "dashboard_address": "127.0.0.1:0",
}

# Dask's nanny gives every worker MALLOC_TRIM_THRESHOLD_=65536 (its config
# distributed.nanny.pre-spawn-environ), so that glibc hands freed memory back at once. Setting
# it also switches off glibc's adaptive mmap threshold: every array over 128 KiB is then a
# fresh mapping, zero-filled page by page, and pandas work on 100k-row partitions spends
# about as much system time faulting pages in as user time on the work (figure 7: five to
# six times the page faults, 10 to 35% longer jobs). The LocalCluster started here leaves
# glibc's defaults, unless the setting was changed from Dask's value; the environment
# variable, when set in this process, is inherited by the workers and still wins.
_TRIM_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
_DASK_TRIM_DEFAULT = 65536

# A client closing on a scheduler that is already gone waits this long at most.
_CLOSE_TIMEOUT = 2.0


def import_distributed() -> Any:
    """``distributed``, or an ImportError that says which extra to install."""
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - exercised in the isolation session
        raise ImportError(
            "DaskRunner needs dask.distributed: pip install 'pipelineml-runners[dask]'"
        ) from exc
    return distributed


def target_address(address: str | None) -> str | None:
    """The scheduler to connect to: ``address``, else dask's config; ``None``: start one."""
    if address:
        return address
    import dask

    configured = dask.config.get("scheduler-address", None) or os.environ.get(
        "DASK_SCHEDULER_ADDRESS"
    )
    return str(configured) if configured else None


def connect(
    address: str | None,
    *,
    timeout: float,
    cluster_kwargs: Mapping[str, Any],
    set_as_default: bool,
    who: str,
) -> tuple[Any, Any]:
    """``(client, cluster)``: connected to ``address``, or to a new LocalCluster (``None``).

    Raises:
        ClusterConnectionError: When the scheduler cannot be reached in ``timeout``; the
            message names ``who`` asked and the address.
    """
    distributed = import_distributed()
    if address:
        try:
            client = distributed.Client(
                address, timeout=f"{timeout}s", set_as_default=set_as_default
            )
        except (OSError, TimeoutError) as exc:
            raise ClusterConnectionError(
                f"{who} could not reach the Dask scheduler at {address!r} within "
                f"{timeout:g} s ({exc}). Start it with `dask scheduler`, or fix the address "
                "/ DASK_SCHEDULER_ADDRESS."
            ) from exc
        return client, None
    kwargs = {**DEFAULT_CLUSTER, **cluster_kwargs}
    kwargs.setdefault("n_workers", os.cpu_count() or 1)
    if "security" not in kwargs:
        # A scheduler runs whatever its clients send, and loopback is shared by every
        # process of the machine: with a certificate made for this cluster alone (TLS,
        # client certificates required), only this process and its workers can connect.
        kwargs["security"] = distributed.Security.temporary()
    with _glibc_malloc_defaults():
        cluster = distributed.LocalCluster(**kwargs)
    return distributed.Client(cluster, set_as_default=set_as_default), cluster


@contextmanager
def _glibc_malloc_defaults() -> Iterator[None]:
    """Start workers without Dask's ``MALLOC_TRIM_THRESHOLD_`` (see ``_TRIM_SETTING``)."""
    import dask

    if str(dask.config.get(_TRIM_SETTING, None)) != str(_DASK_TRIM_DEFAULT):
        yield  # unset already, or a value of the user's own
        return
    with dask.config.set({_TRIM_SETTING: None}):
        yield


def shutdown(client: Any, cluster: Any) -> None:
    """Close ``client``, then ``cluster`` (either may be ``None``); never raises.

    A client whose scheduler is already gone is given ``_CLOSE_TIMEOUT`` seconds, not
    distributed's default wait for a reconnection that cannot come, and the reconnection
    it interrupts is not reported as a traceback (``lost.quiet_reconnect``); everything
    else distributed logs meanwhile goes where the user's logging configuration sends it.
    """
    if client is not None:
        if client.status == "running":
            _close(client)
        else:
            with quiet_reconnect():
                _close(client, timeout=_CLOSE_TIMEOUT)
    if cluster is not None:
        _close(cluster)


def _close(closable: Any, **kwargs: Any) -> None:
    try:
        closable.close(**{k: v for k, v in kwargs.items() if v is not None})
    except Exception:
        logger.debug("Error while closing %r", closable, exc_info=True)


class OpenedClients:
    """The clients (and LocalClusters) pipelineml opened, closed at the latest at exit.

    Closing them when their owner is garbage-collected would run on whatever thread
    triggers the collection, Dask's event-loop thread included, where a synchronous close
    deadlocks; so owners close them explicitly, and the rest close at interpreter exit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: dict[Key, tuple[Any, Any]] = {}

    def get(self, key: Key) -> tuple[Any, Any] | None:
        with self._lock:
            return self._pairs.get(key)

    def add(self, key: Key, pair: tuple[Any, Any]) -> None:
        with self._lock:
            self._pairs[key] = pair

    def close(self, key: Key) -> None:
        """Close what is recorded under ``key`` (nothing if there is none)."""
        with self._lock:
            pair = self._pairs.pop(key, None)
        if pair is not None:
            shutdown(*pair)

    def close_all(self, owner: str | None = None) -> None:
        """Close everything recorded (or only under keys ``(owner, ...)``)."""
        with self._lock:
            keys = [k for k in self._pairs if owner is None or k[0] == owner]
            pairs = [self._pairs.pop(k) for k in keys]
        for pair in pairs:
            shutdown(*pair)


opened = OpenedClients()
atexit.register(opened.close_all)
