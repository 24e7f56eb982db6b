"""Kedro's copy modes, applied without imports or type checks on the hot path."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from typing import Any, Literal

CopyMode = Literal["assign", "copy", "deepcopy"]
COPY_MODES: tuple[CopyMode, ...] = ("assign", "copy", "deepcopy")

# Kedro infers a copy mode from the data's type on every MemoryDataset save and load; the
# answer only depends on the type, so it is computed once per type.
_INFERRED: dict[type, CopyMode] = {}


def infer_copy_mode(data: Any) -> CopyMode:
    """The copy mode Kedro's MemoryDataset would pick for ``data``.

    pandas DataFrames and numpy arrays are copied, other DataFrame types and ibis tables
    are assigned, everything else is deep-copied.
    """
    kind = type(data)
    mode = _INFERRED.get(kind)
    if mode is None:
        mode = _infer_for_type(kind)
        _INFERRED[kind] = mode
    return mode


def _infer_for_type(kind: type) -> CopyMode:
    # A value of a pandas/numpy/ibis type can only exist if its module is imported.
    pandas = sys.modules.get("pandas")
    numpy = sys.modules.get("numpy")
    if (pandas is not None and issubclass(kind, pandas.DataFrame)) or (
        numpy is not None and issubclass(kind, numpy.ndarray)
    ):
        return "copy"
    if kind.__name__ == "DataFrame":
        return "assign"
    ibis = sys.modules.get("ibis")
    if ibis is not None and issubclass(kind, ibis.Table):
        return "assign"
    return "deepcopy"


def _assign(data: Any) -> Any:
    return data


def _shallow(data: Any) -> Any:
    return data.copy()


COPIERS: dict[CopyMode, Callable[[Any], Any]] = {
    "assign": _assign,
    "copy": _shallow,
    "deepcopy": copy.deepcopy,
}


def copy_inferred(data: Any) -> Any:
    """Copy ``data`` the way Kedro's MemoryDataset does when no copy mode is set."""
    return COPIERS[infer_copy_mode(data)](data)
