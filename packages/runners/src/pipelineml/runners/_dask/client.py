"""The Dask client that work outside a Kedro run (batch scoring) uses.

The current ``distributed`` client when there is one; otherwise a client connected where
``DaskRunner`` would connect: ``address``, then dask's ``scheduler-address`` setting
(``DASK_SCHEDULER_ADDRESS``), else a ``LocalCluster`` started for this process with
``DaskRunner``'s defaults. Such a client is made the default client, as ``Client()``
makes itself, because the lazy collections built on it are computed later by the caller;
it is reused by later calls and closed at interpreter exit.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pipelineml.runners._dask.connection import (
    connect,
    import_distributed,
    opened,
    target_address,
)

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["close_clients", "scheduler_client"]

# Serialises connecting, so that two threads asking at once share one client.
_connecting = threading.Lock()


# In the registry DaskRunner shares, these clients are recorded by address.
_OWNER = "scheduler_client"


def close_clients() -> None:
    """Close every client (and LocalCluster) ``scheduler_client`` opened."""
    opened.close_all(_OWNER)


def _current_client() -> Client | None:
    distributed = import_distributed()
    try:
        client: Client = distributed.Client.current(allow_global=True)
    except ValueError:
        return None
    return client if client.status == "running" else None


def scheduler_client(
    address: str | None = None,
    *,
    timeout: float = 10.0,
    cluster_kwargs: Mapping[str, object] | None = None,
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
    target = target_address(address) or ""
    key = (_OWNER, target)
    with _connecting:
        pair = opened.get(key)
        if pair is not None and pair[0].status != "running":
            opened.close(key)
            pair = None
        if pair is None:
            pair = connect(
                target,
                timeout=timeout,
                cluster_kwargs=cluster_kwargs or {},
                set_as_default=True,
                who="batch_predict",
            )
            opened.add(key, pair)
    client: Client = pair[0]
    return client


# Their public import path (docs and tracebacks name them by it).
close_clients.__module__ = "pipelineml.runners"
scheduler_client.__module__ = "pipelineml.runners"
