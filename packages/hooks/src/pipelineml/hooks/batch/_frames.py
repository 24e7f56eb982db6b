"""The frames ``batch_predict`` returns: empty ones from an output schema, filled ones from
whatever a model's ``predict`` gave back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mlflow.types import Schema

__all__ = ["PREDICTION", "as_frame", "meta_from_schema"]

#: The column of an output without names (a Series, an array, a list).
PREDICTION = "prediction"


def _column_names(count: int, names: list[Any]) -> list[Any]:
    if names and all(name is not None for name in names):
        return names
    return [PREDICTION] if count == 1 else [f"{PREDICTION}_{i}" for i in range(count)]


def _dtype(kind: Any) -> Any:
    from mlflow.types import DataType

    if isinstance(kind, DataType):
        if kind == DataType.string:
            # What pandas itself infers for strings (object before pandas 3, str after).
            return pd.Series(["x"]).dtype
        return kind.to_pandas()
    if isinstance(kind, np.dtype):
        return kind
    return np.dtype(object)  # arrays, objects and maps of MLflow's richer types


def meta_from_schema(schema: Schema | None, index: pd.Index[Any]) -> pd.DataFrame | None:
    """An empty frame with the columns and dtypes of ``schema``, on an empty ``index``.

    Returns:
        ``None`` when there is no schema to read.
    """
    if schema is None or not schema.inputs:
        return None
    if schema.is_tensor_spec():
        spec = schema.inputs[0]
        shape = tuple(getattr(spec, "shape", None) or (-1,))
        width = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        names = _column_names(width, [] if width > 1 else [spec.name])
        columns = {name: pd.Series([], dtype=spec.type) for name in names}
    else:
        names = _column_names(len(schema.inputs), [spec.name for spec in schema.inputs])
        columns = {
            name: pd.Series([], dtype=_dtype(spec.type))
            for name, spec in zip(names, schema.inputs, strict=True)
        }
    return pd.DataFrame(columns, index=index[:0])


def as_frame(
    result: Any, index: pd.Index[Any], dtypes: Mapping[Any, Any] | None = None
) -> pd.DataFrame:
    """``result`` of ``predict`` as a frame on ``index``, cast to ``dtypes`` when given.

    A frame with the columns of ``dtypes`` in another order is reordered; one with other
    names but as many columns is renamed by position (a model returning unnamed columns).

    Raises:
        ValueError: When ``result`` has another number of rows or columns than expected.
    """
    if isinstance(result, pd.DataFrame):
        frame = result
    elif isinstance(result, pd.Series):
        frame = result.to_frame(PREDICTION if result.name is None else result.name)
    else:
        values = np.asarray(result)
        if values.ndim == 1:
            frame = pd.DataFrame({PREDICTION: values})
        else:
            values = values.reshape(len(values), -1)
            frame = pd.DataFrame(values, columns=_column_names(values.shape[1], []))
    if len(frame) != len(index):
        raise ValueError(f"the model returned {len(frame)} rows for {len(index)} input rows")
    if not frame.index.equals(index):
        frame = frame.set_axis(index, axis=0)
    if dtypes is None:
        return frame
    names = list(dtypes)
    if list(frame.columns) != names:
        if set(frame.columns) == set(names):
            frame = frame.loc[:, names]
        elif len(frame.columns) != len(names):
            raise ValueError(
                f"the model returned columns {list(frame.columns)}, its output schema names {names}"
            )
        else:
            frame = frame.set_axis(names, axis=1)
    if any(frame[name].dtype != dtype for name, dtype in dtypes.items()):
        frame = frame.astype(dict(dtypes))
    return frame
