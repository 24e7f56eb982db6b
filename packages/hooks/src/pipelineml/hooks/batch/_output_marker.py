"""A batch output folder says when it is complete: ``_SUCCESS``, written last.

Dask writes a Parquet folder one ``part.N.parquet`` file per partition, as each partition
is scored; a job that stops half-way (a lost scheduler, a killed process, a partition the
model cannot score) leaves some of them behind, and the folder looks like a smaller but
finished output. So the frame ``batch_predict`` returns writes Spark's marker: its
``to_parquet`` removes a ``_SUCCESS`` left by an earlier write *before* writing, and writes
a new one only after every partition was written. Readers (pyarrow, Dask, pandas, Spark)
skip files whose names start with ``_``, so the marker never shows up as data.

The marker is written through the folder's own filesystem (fsspec, from the path and the
``storage_options`` Dask is given, as Kedro's ``dask.ParquetDataset`` passes its
credentials and ``fs_args``), so an ``s3://`` folder is marked like a local one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import dask.dataframe as dd

from pipelineml.hooks.batch._lost_scheduler import reported_lost

__all__ = ["MARKER", "DataFrame", "Scoring", "marker_body", "model_origin"]

logger = logging.getLogger("pipelineml.hooks.batch")

#: The marker's file name (Spark's, Hadoop's): present only in a complete folder.
MARKER = "_SUCCESS"


def model_origin(model: Any, loaded: Any) -> dict[str, str]:
    """What the marker says of the model: the URI it was given by, its logged model id and
    run, as far as they are known."""
    metadata = getattr(loaded, "metadata", None)
    found = {
        "model_uri": model if isinstance(model, str) else None,
        "model_id": getattr(metadata, "model_id", None),
        "run_id": getattr(metadata, "run_id", None),
    }
    return {key: str(value) for key, value in found.items() if value}


def _unknown_rows() -> int | None:
    return None


def _all_done() -> list[int]:
    return []


@dataclass(frozen=True)
class Scoring:
    """What a scored frame knows of itself when it is written."""

    model: Mapping[str, str]
    partitions: int
    # The rows scored, once every partition reported (``None`` until then).
    rows: Callable[[], int | None] = field(default=_unknown_rows)
    # The scheduler it is scored on, and the partitions not reported done yet.
    address: str = ""
    not_done: Callable[[], list[int]] = field(default=_all_done)


def marker_body(scoring: Scoring, files: list[str], *, rows: int | None) -> bytes:
    """The marker's JSON: the model, the partitions, the rows if known, the files, when."""
    body = {
        "model": dict(scoring.model),
        "partitions": scoring.partitions,
        "rows": rows,
        "files": files,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return json.dumps(body, indent=2).encode()


@dataclass(frozen=True)
class _Folder:
    """An output folder on its filesystem."""

    fs: Any
    path: str

    @property
    def marker(self) -> str:
        return f"{self.path.rstrip('/')}/{MARKER}"

    def remove_marker(self) -> None:
        # info(), not exists(): a store that cannot be reached must fail here, before a
        # write that would then leave an earlier run's marker on new, partial files.
        try:
            self.fs.info(self.marker)
        except FileNotFoundError:
            return
        self.fs.rm_file(self.marker)

    def write_marker(self, scoring: Scoring, rows: int | None) -> None:
        root = self.path.rstrip("/")
        files = sorted(
            str(name)[len(root) :].lstrip("/")
            for name in self.fs.find(root)
            if not str(name).endswith(f"/{MARKER}")
        )
        self.fs.pipe_file(self.marker, marker_body(scoring, files, rows=rows))


def _folder(path: Any, kwargs: Mapping[str, Any]) -> _Folder | None:
    """Where ``to_parquet(path, **kwargs)`` writes, or ``None`` when fsspec cannot say (a
    pyarrow filesystem object)."""
    import fsspec
    from fsspec.core import url_to_fs

    given = kwargs.get("filesystem")
    if isinstance(given, fsspec.AbstractFileSystem):
        return _Folder(given, given._strip_protocol(str(path)))
    if given not in (None, "fsspec"):
        return None
    fs, root = url_to_fs(str(path), **dict(kwargs.get("storage_options") or {}))
    return _Folder(fs, root)


def _mark(written: Any, folder: _Folder, scoring: Scoring) -> Any:
    # Runs once every partition is written (a Dask task depending on the write, when
    # to_parquet(compute=False) returns the write to be computed later).
    folder.write_marker(scoring, scoring.rows())
    return written


class DataFrame(dd.DataFrame):
    """The lazy frame ``batch_predict`` returns: a Dask DataFrame whose ``to_parquet``
    marks the folder complete (``_SUCCESS``, written last).

    Named ``DataFrame`` like Dask's own: Kedro's ``MemoryDataset`` and pipelineml's runners
    infer the copy mode of a class by that name as ``assign``, as they do for Dask's frame,
    where another name would make them deep-copy it (and lose the marking).

    Anything derived from it (``assign``, a join...) is a plain Dask DataFrame again: its
    writes are not marked, since pipelineml no longer knows what they hold.
    """

    _pipelineml_scoring: Scoring

    @classmethod
    def of(cls, expr: Any, scoring: Scoring) -> DataFrame:
        """The frame of Dask expression ``expr`` (``map_partitions``'), marking its writes."""
        scored = cls(expr)
        # object's own setattr: Dask's would take a new attribute for a column.
        object.__setattr__(scored, "_pipelineml_scoring", scoring)
        return scored

    def __reduce__(self) -> tuple[Any, ...]:
        # Dask's own rebuilds a plain frame; the client's progress display stays here.
        return _rebuild, (self.expr, _shippable(self._pipelineml_scoring))

    def compute(self, **kwargs: Any) -> Any:
        """Dask's ``compute``; a lost scheduler is one ``ClusterConnectionError``."""
        # Dask's own compute (untyped).
        compute: Any = super().compute
        scoring = self._pipelineml_scoring
        return reported_lost(lambda: compute(**kwargs), scoring.address, scoring.not_done)

    def to_parquet(self, path: Any, **kwargs: Any) -> Any:
        """Dask's ``to_parquet``, between removing a stale ``_SUCCESS`` and writing one."""
        # Dask's own write, whatever the filesystem (its signature is untyped).
        write: Any = super().to_parquet
        scoring = self._pipelineml_scoring
        folder = _folder(path, kwargs)
        if folder is None:
            logger.warning(
                "batch_predict: the folder %s is written through a filesystem fsspec does "
                "not know, so no %s marks it complete; pass storage_options instead.",
                path,
                MARKER,
            )
            return reported_lost(lambda: write(path, **kwargs), scoring.address, scoring.not_done)
        folder.remove_marker()
        written = reported_lost(lambda: write(path, **kwargs), scoring.address, scoring.not_done)
        if not kwargs.get("compute", True):
            from dask.delayed import delayed

            # The marker task runs on a worker.
            return delayed(_mark, pure=False)(written, folder, _shippable(scoring))
        return _mark(written, folder, self._pipelineml_scoring)


def _shippable(scoring: Scoring) -> Scoring:
    # The client's progress display stays in this process.
    return replace(scoring, rows=_unknown_rows, not_done=_all_done)


def _rebuild(expr: Any, scoring: Scoring) -> DataFrame:
    return DataFrame.of(expr, scoring)
