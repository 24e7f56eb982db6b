"""The MemoryDataset runners register for free outputs that the catalog does not declare."""

from __future__ import annotations

import copy
from typing import Any

from kedro.io import DatasetError, MemoryDataset

from pipelineml.runners._copying import COPIERS, CopyMode, copy_inferred

_EMPTY: Any = object()


class RuntimeMemoryDataset(MemoryDataset):
    """A ``MemoryDataset`` that infers its copy mode once per data type.

    Kedro's ``MemoryDataset`` re-infers the copy mode on every save and load, trying to
    import optional libraries (ibis) each time; when they are absent that failed import is
    most of the cost of a small in-memory run. It behaves as a ``MemoryDataset`` otherwise
    (Kedro's runners and catalog treat it as one), keeping its data in attributes of its own
    through the dataset interface Kedro lets subclasses override (``load``, ``save``,
    ``_exists``, ``_release``, ``_describe``).
    """

    _mode: CopyMode | None
    _value: Any

    def load(self) -> Any:
        value = self._value
        if value is _EMPTY:
            raise DatasetError("Data for MemoryDataset has not been saved yet.")
        mode = self._mode
        return copy_inferred(value) if mode is None else COPIERS[mode](value)

    @classmethod
    def empty(cls, copy_mode: CopyMode | None) -> RuntimeMemoryDataset:
        """A new empty dataset, without re-running Kedro's constructor wrappers.

        Kedro wraps every dataset constructor to record its arguments with
        ``inspect.getcallargs``, which costs more than an in-memory run of a small pipeline;
        runners create these for every catalog they see, so they copy a prototype.
        """
        prototype = _PROTOTYPES.get(copy_mode)
        if prototype is None:
            prototype = cls(copy_mode=copy_mode)
            prototype._mode = copy_mode
            prototype._value = _EMPTY
            _PROTOTYPES[copy_mode] = prototype
        return copy.copy(prototype)

    def save(self, data: Any) -> None:
        self.put(data)

    def put(self, data: Any) -> None:
        """Store ``data`` as ``save`` does, without the logging wrapper around dataset saves.

        Every ``AbstractDataset.save`` formats the dataset's repr for a DEBUG message, which
        costs more than an in-memory run of a small pipeline; runners call this instead.
        """
        mode = self._mode
        self._value = copy_inferred(data) if mode is None else COPIERS[mode](data)

    def _exists(self) -> bool:
        return self._value is not _EMPTY

    def _release(self) -> None:
        self._value = _EMPTY

    def _describe(self) -> dict[str, Any]:
        value = self._value
        return {"data": None if value is _EMPTY else f"<{type(value).__name__}>"}


# Never written to: empty() hands out shallow copies.
_PROTOTYPES: dict[CopyMode | None, RuntimeMemoryDataset] = {}
