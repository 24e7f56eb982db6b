"""The ``_SUCCESS`` marker of a scored frame's Parquet folder, on fsspec filesystems.

Dask's threaded scheduler writes here (no cluster needed): what is tested is where and when
the marker is written, through the folder's own filesystem.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe", reason="needs dask[dataframe]")
fsspec = pytest.importorskip("fsspec")

from pipelineml.hooks.batch._output_marker import (  # noqa: E402
    MARKER,
    Scoring,
    model_origin,
)
from pipelineml.hooks.batch._output_marker import DataFrame as ScoredFrame  # noqa: E402


def _scored(partitions: int = 3, **kwargs: Any) -> ScoredFrame:
    frame = dd.from_pandas(pd.DataFrame({"score": range(9)}), npartitions=partitions)
    return ScoredFrame.of(
        frame.expr, Scoring({"model_uri": "models:/clf@champion"}, partitions, **kwargs)
    )


@pytest.fixture
def memory_folder() -> Iterator[str]:
    """A folder on fsspec's memory:// filesystem (a store that is not the local disk)."""
    path = f"memory://pipelineml-{uuid.uuid4().hex[:8]}/scores"
    yield path
    fs = fsspec.filesystem("memory")
    if fs.exists(path):
        fs.rm(path, recursive=True)


def test_marker_is_written_through_the_folder_s_filesystem(memory_folder: str) -> None:
    """A memory:// folder gets its marker there, naming the files, partitions and rows."""
    _scored(rows=lambda: 9).to_parquet(memory_folder, storage_options={})

    fs = fsspec.filesystem("memory")
    body = json.loads(fs.cat_file(f"{memory_folder}/{MARKER}"))
    assert body["files"] == ["part.0.parquet", "part.1.parquet", "part.2.parquet"]
    assert (body["partitions"], body["rows"]) == (3, 9)
    assert body["model"] == {"model_uri": "models:/clf@champion"}
    assert body["written_at"].endswith("+00:00")


def test_stale_marker_is_removed_before_a_write_that_fails(memory_folder: str) -> None:
    """A write that raises leaves no marker, not even the one an earlier write left."""
    fs = fsspec.filesystem("memory")
    _scored().to_parquet(memory_folder, storage_options={})
    assert fs.exists(f"{memory_folder}/{MARKER}")

    def explode(part: pd.DataFrame) -> pd.DataFrame:
        if part.index[0] > 0:
            raise RuntimeError("partition refused")
        return part

    frame = _scored().map_partitions(explode, meta=_scored()._meta)
    failing = ScoredFrame.of(frame.expr, Scoring({}, 3))
    with pytest.raises(RuntimeError, match="partition refused"):
        failing.to_parquet(memory_folder, storage_options={})

    assert not fs.exists(f"{memory_folder}/{MARKER}")


def test_an_fsspec_filesystem_object_is_used_as_given(tmp_path: Path) -> None:
    """to_parquet(filesystem=<fsspec filesystem>) marks the folder on that filesystem."""
    _scored().to_parquet(tmp_path / "scores", filesystem=fsspec.filesystem("file"))

    assert json.loads((tmp_path / "scores" / MARKER).read_text())["partitions"] == 3


def test_a_filesystem_fsspec_does_not_know_is_written_unmarked_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A pyarrow filesystem: the data is written, no marker, and the log says why."""
    from pyarrow import fs as pafs

    _scored().to_parquet(tmp_path / "scores", filesystem=pafs.LocalFileSystem())

    assert sorted(p.name for p in (tmp_path / "scores").iterdir())[0] == "part.0.parquet"
    assert not (tmp_path / "scores" / MARKER).exists()
    assert "no _SUCCESS marks it complete" in caplog.text


def test_model_origin_keeps_what_is_known() -> None:
    """The marker names the URI given, and the loaded model's logged model id and run."""

    class Metadata:
        model_id = "m-123"
        run_id = None

    class Loaded:
        metadata = Metadata()

    assert model_origin("models:/clf/1", Loaded()) == {
        "model_uri": "models:/clf/1",
        "model_id": "m-123",
    }
    assert model_origin(Loaded(), Loaded()) == {"model_id": "m-123"}


def test_marking_survives_kedro_s_memory_dataset_and_pickling(tmp_path: Path) -> None:
    """Kedro hands the frame on as it is (assign); a pickled frame still marks its folder."""
    import pickle

    from kedro.io import MemoryDataset

    scored = _scored(rows=lambda: 9)
    handed = MemoryDataset()
    handed.save(scored)
    assert handed.load() is scored

    unpickled = pickle.loads(pickle.dumps(scored))
    assert type(unpickled) is type(scored)
    unpickled.to_parquet(tmp_path / "scores")
    body = json.loads((tmp_path / "scores" / MARKER).read_text())
    # The rows are counted by the progress display, which stays in the process it is in.
    assert (body["partitions"], body["rows"]) == (3, None)


def test_a_scored_frame_is_still_taken_for_a_dask_frame() -> None:
    """batch_predict accepts its own result as data (a subclass of Dask's frame)."""
    from pipelineml.hooks.batch._batch_predict import _is_dask_frame

    assert _is_dask_frame(_scored())
    assert not _is_dask_frame(pd.DataFrame({"score": [1]}))
