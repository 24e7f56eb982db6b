"""Type aliases of the runners' boundaries (imported under ``TYPE_CHECKING`` only)."""

from __future__ import annotations

from typing import Any, Protocol

from kedro.io import CatalogProtocol

# Any catalog Kedro hands a runner (DataCatalog, SharedMemoryDataCatalog, user classes).
Catalog = CatalogProtocol[Any, Any]


class Names(Protocol):
    """Something that says whether it holds a dataset: a catalog, or a dict of data."""

    def __contains__(self, name: str, /) -> bool: ...
