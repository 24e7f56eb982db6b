"""The parts of batch_predict that need no cluster: frames, progress, argument checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from mlflow.types import ColSpec, DataType, Schema, TensorSpec

from pipelineml.hooks import BatchPredictError, MlflowModelDataset, batch_predict
from pipelineml.hooks.batch._frames import as_frame, meta_from_schema
from pipelineml.hooks.batch._progress import BatchProgress


class Doubler:
    """A model without metadata: returns twice column ``x`` as an array."""

    def predict(self, data: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        """2 x."""
        return data["x"].to_numpy() * 2


def test_meta_has_the_named_columns_and_dtypes_of_the_schema() -> None:
    """Named columns keep their names; MLflow types become pandas dtypes; the index is kept."""
    schema = Schema(
        [
            ColSpec(DataType.double, "score"),
            ColSpec(DataType.long, "label"),
            ColSpec(DataType.boolean, "flag"),
            ColSpec(DataType.string, "name"),
        ]
    )
    index = pd.Index([10, 11], name="row")

    meta = meta_from_schema(schema, index)

    assert meta is not None
    assert list(meta.columns) == ["score", "label", "flag", "name"]
    assert meta["score"].dtype == np.float64
    assert meta["label"].dtype == np.int64
    assert meta["flag"].dtype == bool
    assert meta["name"].dtype == pd.Series(["a"]).dtype
    assert len(meta) == 0
    assert meta.index.name == "row"


def test_meta_of_tensors_and_unnamed_columns() -> None:
    """A 1-D tensor is one 'prediction' column; a (-1, 3) tensor three numbered ones."""
    vector = meta_from_schema(Schema([TensorSpec(np.dtype("float32"), (-1,))]), pd.Index([]))
    matrix = meta_from_schema(Schema([TensorSpec(np.dtype("int64"), (-1, 3))]), pd.Index([]))
    unnamed = meta_from_schema(Schema([ColSpec(DataType.double)]), pd.Index([]))

    assert vector is not None
    assert list(vector.columns) == ["prediction"]
    assert vector["prediction"].dtype == np.float32
    assert matrix is not None
    assert list(matrix.columns) == ["prediction_0", "prediction_1", "prediction_2"]
    assert unnamed is not None
    assert list(unnamed.columns) == ["prediction"]
    assert meta_from_schema(None, pd.Index([])) is None


def test_results_become_frames_on_the_input_index() -> None:
    """Arrays, Series and reordered frames land on the input's index in the meta's order."""
    index = pd.Index([5, 7])
    dtypes = {"a": np.dtype("float64"), "b": np.dtype("int64")}

    from_frame = as_frame(pd.DataFrame({"b": [1, 2], "a": [0.5, 1.5]}), index, dtypes)
    from_array = as_frame(np.array([1.0, 2.0]), index)
    from_series = as_frame(pd.Series([3, 4], name="p"), index)

    assert list(from_frame.columns) == ["a", "b"]
    assert from_frame.index.equals(index)
    assert from_array["prediction"].tolist() == [1.0, 2.0]
    assert from_series.index.equals(index)
    assert list(from_series.columns) == ["p"]
    with pytest.raises(ValueError, match=r"returned 1 rows for 2 input rows"):
        as_frame(np.array([1.0]), index)
    with pytest.raises(ValueError, match=r"output schema names \['a', 'b'\]"):
        as_frame(pd.DataFrame({"z": [1, 2]}), index, dtypes)


def test_progress_counts_each_partition_once_and_logs_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A partition Dask ran twice counts once; the last one logs partitions, rows and rate."""
    caplog.set_level("INFO", logger="pipelineml.hooks.batch")
    progress = BatchProgress(2, bar=False, interval=3600)

    progress.on_event((0.0, {"partition": 0, "rows": 10}))
    progress.on_event((0.0, {"partition": 0, "rows": 10}))
    assert progress.done == 1
    assert not caplog.records
    progress.on_event((0.0, {"partition": 1, "rows": 5}))

    assert progress.closed
    assert progress.rows == 15
    assert "2/2 partitions, 15 rows" in caplog.records[-1].getMessage()
    assert "rows/s" in caplog.records[-1].getMessage()


def test_progress_bar_draws_and_stops() -> None:
    """With a bar, updates move it and a failed partition ends it."""
    progress = BatchProgress(3, bar=True)

    progress.update(0, 100)
    progress.fail(1)
    progress.update(2, 100)

    assert progress.closed
    assert progress.failed == {1}
    assert progress.done == 1


def test_pandas_frame_of_a_model_without_schema_is_scored() -> None:
    """A plain object with predict() works on pandas frames, chunked, index kept."""
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=[9, 8, 7])

    result = batch_predict(Doubler(), frame, chunk_size=2, progress=False)

    assert result["prediction"].tolist() == [2.0, 4.0, 6.0]
    assert result.index.tolist() == [9, 8, 7]


def test_dask_frame_of_a_model_without_schema_needs_meta() -> None:
    """Without an output schema or meta=, a Dask frame is refused before anything runs."""
    dd = pytest.importorskip("dask.dataframe")
    data = dd.from_pandas(pd.DataFrame({"x": [1.0, 2.0]}), npartitions=1)

    with pytest.raises(BatchPredictError, match=r"no output schema.*meta="):
        batch_predict(Doubler(), data)


@pytest.mark.parametrize(
    ("model", "data", "kwargs", "pattern"),
    [
        (Doubler(), [1, 2], {}, r"pandas or Dask DataFrame, got list"),
        (42, pd.DataFrame({"x": [1.0]}), {}, r"model URI or a loaded pyfunc model.*got int"),
        (Doubler(), pd.DataFrame({"x": [1.0]}), {"chunk_size": 0}, r"chunk_size must be 1"),
    ],
    ids=["data", "model", "chunk-size"],
)
def test_bad_arguments_are_refused(model: Any, data: Any, kwargs: Any, pattern: str) -> None:
    """Data that is not a frame, a model that is not one, a chunk size below 1."""
    with pytest.raises(BatchPredictError, match=pattern):
        batch_predict(model, data, **kwargs)


def test_dataset_needs_a_uri_and_reports_a_missing_folder(tmp_path: Path) -> None:
    """An empty model_uri is refused; a folder that is no model does not exist."""
    with pytest.raises(DatasetError, match=r"needs a model_uri"):
        MlflowModelDataset("")
    missing = MlflowModelDataset((tmp_path / "nothing").as_posix())

    assert not missing.exists()
    with pytest.raises(DatasetError, match=r"nothing.*tracking store"):
        missing.load()
