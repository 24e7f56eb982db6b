"""The MemoryDataset runners register for free outputs that the catalog does not declare."""

from __future__ import annotations

import copy
from typing import Any

from kedro.io import MemoryDataset

from pipelineml.runners._copying import COPIERS, CopyMode, copy_inferred


class RuntimeMemoryDataset(MemoryDataset):
    """A ``MemoryDataset`` that infers its copy mode once per data type.

    Kedro's ``MemoryDataset`` re-infers the copy mode on every save and load, trying to
    import optional libraries (ibis) each time; when they are absent that failed import is
    most of the cost of a small in-memory run. Behaviour is otherwise the same.
    """

    def load(self) -> Any:
        if self._copy_mode is not None:
            return super().load()
        if not self._exists():
            return super().load()  # raises Kedro's own "not saved yet" error
        return copy_inferred(self._data)

    @classmethod
    def empty(cls, copy_mode: CopyMode | None) -> RuntimeMemoryDataset:
        """A new empty dataset, without re-running Kedro's constructor wrappers.

        Kedro wraps every dataset constructor to record its arguments with
        ``inspect.getcallargs``, which costs more than an in-memory run of a small pipeline;
        runners create these for every catalog they see, so they copy a prototype.
        """
        prototype = _PROTOTYPES.get(copy_mode)
        if prototype is None:
            prototype = _PROTOTYPES[copy_mode] = cls(copy_mode=copy_mode)
        return copy.copy(prototype)

    def save(self, data: Any) -> None:
        self.put(data)

    def put(self, data: Any) -> None:
        """Store ``data`` as ``save`` does, without the logging wrapper around dataset saves.

        Every ``AbstractDataset.save`` formats the dataset's repr for a DEBUG message, which
        costs more than an in-memory run of a small pipeline; runners call this instead.
        """
        mode = self._copy_mode
        self._data = copy_inferred(data) if mode is None else COPIERS[mode](data)


# Never written to: empty() hands out shallow copies.
_PROTOTYPES: dict[CopyMode | None, RuntimeMemoryDataset] = {}
