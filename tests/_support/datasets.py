"""File datasets for the core tests, which must run with Kedro alone (no kedro-datasets)."""

from __future__ import annotations

import pickle
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
from kedro.io import AbstractDataset, AbstractVersionedDataset, Version
from kedro.io.core import get_protocol_and_path


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


class FsspecPickle(AbstractVersionedDataset[Any, Any]):
    """Pickles data to a file, or to pickle files in a folder, on any fsspec filesystem, with
    credentials and fs_args as kedro-datasets' datasets take them (its filesystem is ``_fs``).

    ``folder=True`` saves a dict as one file per key in the folder ``filepath``.
    """

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        folder: bool = False,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        args = {k: v for k, v in (fs_args or {}).items() if not k.startswith("open_args")}
        self._fs = fsspec.filesystem(protocol, **(credentials or {}), **args)
        self._folder = folder
        super().__init__(
            PurePosixPath(path),
            version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def load(self) -> Any:
        path = str(self._get_load_path())
        if self._folder:
            return {
                PurePosixPath(p).stem: pickle.loads(self._fs.cat_file(p))
                for p in sorted(self._fs.find(path))
            }
        return pickle.loads(self._fs.cat_file(path))

    def save(self, data: Any) -> None:
        path = str(self._get_save_path())
        if self._folder:
            for key, value in data.items():
                self._fs.pipe_file(f"{path}/{key}.pkl", pickle.dumps(value))
        else:
            self._fs.pipe_file(path, pickle.dumps(data))

    def _exists(self) -> bool:
        return bool(self._fs.exists(str(self._get_load_path())))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "protocol": self._protocol}
