"""The Dask client that work outside a Kedro run (batch scoring) uses.

The current ``distributed`` client when there is one; otherwise a client connected where
``DaskRunner`` would connect: ``address``, then dask's ``scheduler-address`` setting
(``DASK_SCHEDULER_ADDRESS``), else a ``LocalCluster`` started for this process with
``DaskRunner``'s defaults. Such a client is made the default client, as ``Client()``
makes itself, because the lazy collections built on it are computed later by the caller;
it is reused by later calls and closed at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipelineml.runners.dask_runner import (
    _DEFAULT_CLUSTER,
    DaskRunner,
    _import_distributed,
    _shutdown,
)
from pipelineml.runners.errors import ClusterConnectionError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["close_clients", "scheduler_client"]

_lock = threading.Lock()
# Address asked for ("" for a LocalCluster) -> (client, cluster or None).
_opened: dict[str, tuple[Any, Any]] = {}


def close_clients() -> None:
    """Close every client (and LocalCluster) ``scheduler_client`` opened."""
    with _lock:
        pairs = list(_opened.values())
        _opened.clear()
    for client, cluster in pairs:
        _shutdown(client, cluster)


atexit.register(close_clients)


def _current_client() -> Client | None:
    distributed = _import_distributed()
    try:
        client: Client = distributed.Client.current(allow_global=True)
    except ValueError:
        return None
    return client if client.status == "running" else None


def _connect(address: str | None, timeout: float, cluster_kwargs: Mapping[str, Any]) -> Any:
    distributed = _import_distributed()
    if address:
        try:
            client = distributed.Client(address, timeout=f"{timeout}s", set_as_default=True)
        except (OSError, TimeoutError) as exc:
            raise ClusterConnectionError(
                f"Could not reach the Dask scheduler at {address!r} within {timeout:g} s "
                f"({exc}). Start it with `dask scheduler`, or fix the address / "
                "DASK_SCHEDULER_ADDRESS."
            ) from exc
        return client, None
    kwargs = {**_DEFAULT_CLUSTER, **cluster_kwargs}
    kwargs.setdefault("n_workers", os.cpu_count() or 1)
    cluster = distributed.LocalCluster(**kwargs)
    return distributed.Client(cluster, set_as_default=True), cluster


def scheduler_client(
    address: str | None = None,
    *,
    timeout: float = 10.0,
    cluster_kwargs: Mapping[str, Any] | None = None,
) -> Client:
    """Return the client to submit work to, connecting as ``DaskRunner`` does if needed.

    Args:
        address: A scheduler address; used instead of the current client and dask's
            settings.
        timeout: Seconds to wait for a scheduler before failing.
        cluster_kwargs: Arguments for the ``LocalCluster`` started when nothing is
            configured.

    Raises:
        ClusterConnectionError: When the scheduler cannot be reached in ``timeout``; the
            message names its address.
    """
    if address is None:
        current = _current_client()
        if current is not None:
            return current
    # The same rule as DaskRunner: the argument, then dask's config and the environment.
    target = DaskRunner(address)._target_address() or ""
    with _lock:
        pair = _opened.get(target)
        if pair is not None and pair[0].status != "running":
            _shutdown(*_opened.pop(target))
            pair = None
        if pair is None:
            pair = _connect(target, timeout, cluster_kwargs or {})
            _opened[target] = pair
    client: Client = pair[0]
    return client
