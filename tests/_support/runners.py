"""Running pipelineml's runners and Kedro's side by side: factories, hook recorders,
recording datasets, comparisons, and ``managed`` to close whichever runner a test built.

Nothing here imports dask, distributed, cloudpickle or mlflow: ``nox -s isolation`` runs
``tests/runners`` where only Kedro, kedro-datasets and pandas are installed.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

import kedro.runner
import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.framework.hooks.manager import _create_hook_manager
from kedro.io import AbstractDataset, DatasetError

from pipelineml.runners import DaskRunner, SequentialRunner, ThreadRunner

Call = tuple[str, str, str | None]
Event = tuple[str, str, Any]

_MISSING = object()

#: How each kind of runner is built, Kedro's and ours side by side. Thread runners get more
#: than one worker so that the pool path (not the in-order fallback) runs.
KEDRO_RUNNERS: dict[str, Callable[[], kedro.runner.AbstractRunner]] = {
    "sequential": kedro.runner.SequentialRunner,
    "sequential-async": partial(kedro.runner.SequentialRunner, is_async=True),
    "thread": partial(kedro.runner.ThreadRunner, max_workers=4),
}
OUR_RUNNERS: dict[str, Callable[[], SequentialRunner | ThreadRunner]] = {
    "sequential": SequentialRunner,
    "sequential-async": partial(SequentialRunner, is_async=True),
    "thread": partial(ThreadRunner, max_workers=4),
}
#: Kinds whose node order is deterministic, so hook calls compare as one ordered list.
ORDERED_KINDS = frozenset({"sequential"})


def freeze(value: Any) -> Any:
    """A hashable, comparable stand-in for ``value`` (DataFrames compare by content)."""
    if isinstance(value, pd.DataFrame):
        return (
            "DataFrame",
            tuple(value.columns),
            tuple(tuple(row) for row in value.itertuples(index=False)),
        )
    if isinstance(value, Mapping):
        return ("dict", tuple(sorted((repr(k), freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(freeze(item) for item in value))
    if isinstance(value, set | frozenset):
        return ("set", frozenset(freeze(item) for item in value))
    return value


class RecordingDataset(AbstractDataset[Any, Any]):
    """An in-memory, non-ephemeral dataset writing its saves, loads, releases and confirms to a journal.

    Saves are journaled with a frozen copy of the data, so generator chunks can be compared
    one by one. Data is kept across ``release()`` so a test can still inspect it.
    """

    def __init__(self, label: str, journal: list[Event], data: Any = _MISSING) -> None:
        self._label = label
        self._journal = journal
        self._data = data

    def load(self) -> Any:
        self._journal.append(("load", self._label, None))
        if self._data is _MISSING:
            raise DatasetError(f"Nothing was saved to '{self._label}' yet")
        return copy.deepcopy(self._data)

    def save(self, data: Any) -> None:
        self._journal.append(("save", self._label, freeze(data)))
        self._data = copy.deepcopy(data)

    def _exists(self) -> bool:
        return self._data is not _MISSING

    def _release(self) -> None:
        self._journal.append(("release", self._label, None))

    def confirm(self) -> None:
        """Record that the runner confirmed this dataset."""
        self._journal.append(("confirm", self._label, None))

    def _describe(self) -> dict[str, Any]:
        return {"label": self._label}


class HookRecorder:
    """A Kedro hook plugin recording ``(hook, node name, dataset name)`` for every node and dataset hook.

    ``overrides`` maps node names to what ``before_node_run`` returns for them (Kedro merges
    a returned dict into the node's inputs).
    """

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        self.calls: list[Call] = []
        self.errors: list[Exception] = []
        self.is_async: list[bool] = []
        self._overrides = dict(overrides or {})
        self._lock = threading.Lock()

    def _record(self, hook: str, node: Any, dataset: str | None = None) -> None:
        with self._lock:
            self.calls.append((hook, node.name, dataset))

    def for_node(self, name: str) -> list[Call]:
        """The calls about node ``name``, in the order they happened."""
        return [call for call in self.calls if call[1] == name]

    @hook_impl
    def before_node_run(self, node: Any, is_async: bool) -> Any:
        self._record("before_node_run", node)
        self.is_async.append(is_async)
        return self._overrides.get(node.name)

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        self._record("after_node_run", node)

    @hook_impl
    def on_node_error(self, error: Exception, node: Any) -> None:
        self._record("on_node_error", node)
        self.errors.append(error)

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        self._record("before_dataset_loaded", node, dataset_name)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        self._record("after_dataset_loaded", node, dataset_name)

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, node: Any) -> None:
        self._record("before_dataset_saved", node, dataset_name)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Any) -> None:
        self._record("after_dataset_saved", node, dataset_name)


def make_hook_manager(*plugins: object) -> Any:
    """A Kedro hook manager with ``plugins`` registered (no entry-point plugins)."""
    manager = _create_hook_manager()
    for plugin in plugins:
        manager.register(plugin)
    return manager


def per_key(items: Iterable[tuple[Any, ...]], index: int) -> dict[Any, list[tuple[Any, ...]]]:
    """Group ``items`` by ``item[index]``, keeping each group's order."""
    groups: dict[Any, list[tuple[Any, ...]]] = {}
    for item in items:
        groups.setdefault(item[index], []).append(item)
    return groups


def assert_same_calls(ours: list[Any], theirs: list[Any], *, ordered: bool, index: int) -> None:
    """Equal as a list when ``ordered``; otherwise equal per ``item[index]`` and as a multiset."""
    if ordered:
        assert ours == theirs
    else:
        assert per_key(ours, index) == per_key(theirs, index)
        assert Counter(ours) == Counter(theirs)


def peak_concurrency(intervals: Iterable[tuple[float, float]]) -> int:
    """The largest number of ``[start, end]`` intervals that overlap at one instant."""
    edges = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
        # At equal times an end comes first: touching intervals do not overlap.
        key=lambda edge: (edge[0], edge[1]),
    )
    active = peak = 0
    for _, step in edges:
        active += step
        peak = max(peak, active)
    return peak


def managed(runner: Any) -> AbstractContextManager[Any]:
    """``runner`` as a context manager: ours close on leaving, Kedro's have nothing to close.

    Kedro's runners create their executors per run; pipelineml's keep pools and clients
    between runs and release them in ``close()``.
    """
    if isinstance(runner, SequentialRunner | ThreadRunner | DaskRunner | AbstractContextManager):
        return runner
    if not type(runner).__module__.startswith("kedro."):
        raise TypeError(f"not a pipelineml or Kedro runner: {runner!r}")
    return contextlib.nullcontext(runner)
