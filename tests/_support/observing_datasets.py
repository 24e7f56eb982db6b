"""Custom Kedro datasets that let the hooks tests observe how artifacts are handled.

They are referenced from catalogs by their import path
(``tests._support.observing_datasets.X``), the way a project references its own datasets, so ``KedroPipelineModel`` rebuilds them through
``AbstractDataset.from_config`` like any other dataset type.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
from kedro.io import AbstractDataset
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.pickle import PickleDataset

_lock = threading.Lock()


class RecordingPickleDataset(PickleDataset):
    """A ``PickleDataset`` that records every instantiation and load, with its filepath.

    ``events`` is class-level so it survives the dataset being rebuilt from its
    configuration; tests clear it with ``RecordingPickleDataset.reset()``.
    """

    events: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, *, filepath: str, backend: str = "pickle") -> None:
        with _lock:
            self.events.append(("init", Path(filepath).resolve().as_posix()))
        super().__init__(filepath=filepath, backend=backend)
        self._recorded_path = Path(filepath).resolve().as_posix()

    def load(self) -> Any:
        with _lock:
            self.events.append(("load", self._recorded_path))
        return super().load()

    @classmethod
    def reset(cls) -> None:
        """Forget every recorded event."""
        with _lock:
            cls.events.clear()

    @classmethod
    def paths(cls, kind: str) -> list[str]:
        """The filepaths of the recorded events of one kind (``init`` or ``load``)."""
        with _lock:
            return [path for event, path in cls.events if event == kind]


class CountingCSVDataset(CSVDataset):
    """A ``pandas.CSVDataset`` that records how many rows each load returned."""

    rows_loaded: ClassVar[list[int]] = []

    # An explicit signature: Kedro records a dataset's __init__ arguments for to_config(),
    # and an inherited __init__ would be recorded as *args/**kwargs.
    def __init__(
        self,
        *,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(filepath=filepath, load_args=load_args, save_args=save_args)

    def load(self) -> pd.DataFrame:
        frame = super().load()
        with _lock:
            self.rows_loaded.append(len(frame))
        return frame


class FolderDataset(AbstractDataset[dict[str, str], dict[str, str]]):
    """Saves ``{name: text}`` as one file per entry in a directory (a folder artifact)."""

    def __init__(self, filepath: str) -> None:
        self._filepath = Path(filepath)

    def load(self) -> dict[str, str]:
        return {
            file.name: file.read_text(encoding="utf-8")
            for file in sorted(self._filepath.iterdir())
            if file.is_file()
        }

    def save(self, data: dict[str, str]) -> None:
        self._filepath.mkdir(parents=True, exist_ok=True)
        for name, text in data.items():
            (self._filepath / name).write_text(text, encoding="utf-8")

    def _exists(self) -> bool:
        return self._filepath.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath.as_posix()}


class NoFilepathDataset(AbstractDataset[Any, Any]):
    """A persisted dataset without a ``filepath`` (a database table, say)."""

    def __init__(self, table: str) -> None:
        self._table = table

    def load(self) -> Any:
        return {"table": self._table}

    def save(self, data: Any) -> None:
        raise NotImplementedError("read-only")

    def _describe(self) -> dict[str, Any]:
        return {"table": self._table}
