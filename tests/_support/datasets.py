"""File datasets for the core tests, which must run with Kedro alone (no kedro-datasets)."""

from __future__ import annotations

import pickle
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, AbstractVersionedDataset, Version


class LocalPickle(AbstractDataset[Any, Any]):
    """Pickles data to a local file."""

    def __init__(self, filepath: str) -> None:
        self._filepath = Path(filepath)

    def load(self) -> Any:
        with self._filepath.open("rb") as stream:
            return pickle.load(stream)

    def save(self, data: Any) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        with self._filepath.open("wb") as stream:
            pickle.dump(data, stream)

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class VersionedLocalPickle(AbstractVersionedDataset[Any, Any]):
    """Pickles data to <filepath>/<version>/<name>, Kedro's versioned layout."""

    def __init__(self, filepath: str, version: Version | None = None) -> None:
        super().__init__(PurePosixPath(filepath), version)

    def load(self) -> Any:
        with Path(self._get_load_path()).open("rb") as stream:
            return pickle.load(stream)

    def save(self, data: Any) -> None:
        path = Path(self._get_save_path())
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as stream:
            pickle.dump(data, stream)

    def _exists(self) -> bool:
        return Path(self._get_load_path()).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}


class RemoteLike(AbstractDataset[Any, Any]):
    """Stands in for a dataset on object storage: only its configuration matters."""

    def __init__(self, filepath: str) -> None:
        self._filepath = filepath

    def load(self) -> Any:
        raise NotImplementedError

    def save(self, data: Any) -> None:
        raise NotImplementedError

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath}


class NoPath(AbstractDataset[Any, Any]):
    """A dataset without any filepath (a database table, say)."""

    def __init__(self, table: str) -> None:
        self._table = table

    def load(self) -> Any:
        return self._table

    def save(self, data: Any) -> None:
        raise NotImplementedError

    def _describe(self) -> dict[str, Any]:
        return {"table": self._table}
