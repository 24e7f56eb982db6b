"""What ``batch_predict`` runs where the rows are: one cached model per process.

A Dask job ships the pickled model once, as one task of the graph that every partition task
depends on; Dask moves it to each worker once, and ``cached_model`` unpickles it once per
worker process, keyed by its digest, for all the partitions that worker scores.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cloudpickle
import pandas as pd

from pipelineml.hooks.batch._frames import as_frame
from pipelineml.hooks.errors import BatchPredictError

__all__ = [
    "PartitionScorer",
    "cached_model",
    "describe_failure",
    "load_counts",
    "score",
    "score_partition",
]

# Models kept per process: the current job's, and one more for a job that overlaps it.
CACHE_SIZE = 2

_lock = threading.Lock()
_cache: OrderedDict[str, Any] = OrderedDict()
_loads: Counter[str] = Counter()


def cached_model(key: str, payload: bytes) -> Any:
    """The model pickled in ``payload``, unpickled once per process and kept by ``key``."""
    with _lock:
        model = _cache.get(key)
        if model is not None:
            _cache.move_to_end(key)
            return model
        model = cloudpickle.loads(payload)
        _cache[key] = model
        _loads[key] += 1
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return model


def load_counts() -> dict[str, int]:
    """``{model digest: times this process unpickled it}`` (``client.run`` reads it)."""
    with _lock:
        return dict(_loads)


# MLflow's schema errors start with the whole offending frame ("Failed to enforce schema of
# data '<frame>' with schema '<schema>'. Error: ..."); the part after "Error: " names the
# column and the problem.
_SCHEMA_PREFIX = "Failed to enforce schema"
_SCHEMA_ERROR = "Error: "


def describe_failure(where: str, rows: int, exc: BaseException) -> str:
    """One message naming ``where`` (a partition or chunk), its size and the model's error."""
    message = str(getattr(exc, "message", None) or exc)
    if message.startswith(_SCHEMA_PREFIX) and _SCHEMA_ERROR in message:
        message = (
            "input does not match the model's input schema: " + message.rsplit(_SCHEMA_ERROR, 1)[1]
        )
    notes = "".join(f" ({note})" for note in getattr(exc, "__notes__", ()))
    return f"{where} ({rows} rows) could not be scored: {type(exc).__name__}: {message}{notes}"


def score(
    model: Any,
    frame: pd.DataFrame,
    params: Mapping[str, Any] | None,
    dtypes: Mapping[Any, Any] | None,
) -> pd.DataFrame:
    """``model.predict(frame, params)`` as a frame on ``frame``'s index."""
    result = model.predict(frame, params=dict(params) if params else None)
    return as_frame(result, frame.index, dtypes)


def _report(topic: str | None, event: dict[str, Any]) -> None:
    if topic is None:
        return
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a distributed worker: nobody is listening
        return
    worker.log_event(topic, event)


@dataclass(frozen=True)
class PartitionScorer:
    """The per-job settings a partition task needs (small: the model travels apart).

    Attributes:
        key: The digest of the pickled model.
        params: ``predict``'s params.
        dtypes: ``{column: dtype}`` of the output (the job's ``meta``).
        topic: The Dask event topic progress is reported on.
        npartitions: How many partitions the job has.
    """

    key: str
    params: Mapping[str, Any] | None
    dtypes: Mapping[Any, Any]
    topic: str | None
    npartitions: int


def score_partition(
    frame: pd.DataFrame,
    payload: bytes,
    scorer: PartitionScorer,
    partition_info: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Score one partition on a worker; Dask passes ``partition_info`` (its number).

    Raises:
        BatchPredictError: Naming the partition, when its rows cannot be scored.
    """
    number = int(partition_info["number"]) if partition_info else -1
    try:
        model = cached_model(scorer.key, payload)
        result = score(model, frame, scorer.params, scorer.dtypes)
    except Exception as exc:
        _report(scorer.topic, {"partition": number, "failed": True})
        where = f"Partition {number} of {scorer.npartitions}"
        raise BatchPredictError(describe_failure(where, len(frame), exc), number) from exc
    _report(scorer.topic, {"partition": number, "rows": len(frame)})
    return result
