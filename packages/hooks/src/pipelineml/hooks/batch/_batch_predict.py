"""``batch_predict``: score a pandas frame in chunks, or a Dask frame on the cluster."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cloudpickle
import pandas as pd

from pipelineml.hooks.batch._frames import meta_from_schema
from pipelineml.hooks.batch._model_loading import load_pyfunc
from pipelineml.hooks.batch._progress import BatchProgress
from pipelineml.hooks.batch._worker import PartitionScorer, describe_failure, score, score_partition
from pipelineml.hooks.errors import BatchPredictError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["batch_predict"]

logger = logging.getLogger("pipelineml.hooks.batch")

#: Rows scored per call when a pandas frame is scored in this process.
DEFAULT_CHUNK_SIZE = 100_000

# Progress displays of Dask jobs whose events may still arrive, by topic; finished ones are
# unsubscribed from the caller's thread at the next call (never from Dask's event loop).
_watched: dict[str, tuple[Client, BatchProgress]] = {}
_watched_lock = threading.Lock()


def _is_dask_frame(data: Any) -> bool:
    # Dask's own classes, or a subclass of them (a ScoredFrame scored again).
    dask_class = any(kind.__module__.startswith("dask.") for kind in type(data).__mro__)
    return dask_class and hasattr(data, "map_partitions")


def _model(model: Any, tracking_uri: str | None, registry_uri: str | None) -> Any:
    if isinstance(model, str | os.PathLike):
        return load_pyfunc(os.fspath(model), tracking_uri, registry_uri, error=BatchPredictError)
    if not callable(getattr(model, "predict", None)):
        raise BatchPredictError(
            "batch_predict needs a model URI or a loaded pyfunc model (for example from "
            f"MlflowModelDataset or mlflow.pyfunc.load_model), got {type(model).__name__}."
        )
    return model


def _output_meta(model: Any, index: pd.Index[Any], meta: Any) -> pd.DataFrame:
    if meta is not None:
        frame = pd.DataFrame(meta).iloc[:0]
        return frame.set_axis(index[:0], axis=0)
    metadata = getattr(model, "metadata", None)
    schema = metadata.get_output_schema() if metadata is not None else None
    found = meta_from_schema(schema, index)
    if found is None:
        raise BatchPredictError(
            "The model has no output schema, so the columns of its predictions are unknown "
            "without computing a partition: log it with a signature, or pass meta= (an empty "
            "DataFrame with the output's columns and dtypes)."
        )
    return found


def _forget_finished() -> None:
    with _watched_lock:
        finished = [topic for topic, (_, progress) in _watched.items() if progress.closed]
        pairs = [(topic, _watched.pop(topic)[0]) for topic in finished]
    for topic, client in pairs:
        if client.status == "running":
            client.unsubscribe_topic(topic)


def _predict_pandas(
    model: Any,
    data: pd.DataFrame,
    params: Mapping[str, Any] | None,
    chunk_size: int,
    progress: bool | None,
) -> pd.DataFrame:
    if len(data) <= chunk_size:
        try:
            return score(model, data, params, None)
        except Exception as exc:
            raise BatchPredictError(describe_failure("Chunk 0 of 1", len(data), exc), 0) from exc
    starts = range(0, len(data), chunk_size)
    display = BatchProgress(len(starts), "chunks", bar=progress)
    parts: list[pd.DataFrame] = []
    try:
        for number, start in enumerate(starts):
            chunk = data.iloc[start : start + chunk_size]
            try:
                parts.append(score(model, chunk, params, None))
            except Exception as exc:
                display.fail(number)
                where = f"Chunk {number} of {len(starts)} (rows {start}-{start + len(chunk) - 1})"
                raise BatchPredictError(describe_failure(where, len(chunk), exc), number) from exc
            display.update(number, len(chunk))
    finally:
        display.close()
    return pd.concat(parts)


def _predict_dask(
    model: Any,
    origin: dict[str, str],
    data: Any,
    params: Mapping[str, Any] | None,
    meta: Any,
    address: str | None,
    timeout: float,
    progress: bool | None,
) -> Any:
    from dask.delayed import delayed

    from pipelineml.hooks.batch._output_marker import DataFrame as ScoredFrame
    from pipelineml.hooks.batch._output_marker import Scoring
    from pipelineml.runners import scheduler_client
    from pipelineml.runners._dask.shipping import RUNNER_DISTRIBUTIONS, prepare_cluster

    output = _output_meta(model, data._meta.index, meta)
    client = scheduler_client(address, timeout=timeout)
    # The scheduler unpickles the graph and the workers run it: both need pipelineml's code.
    prepare_cluster(client, distributions=(*RUNNER_DISTRIBUTIONS, "pipelineml-hooks[dask]"))
    try:
        payload = cloudpickle.dumps(model)
    except Exception as exc:
        raise BatchPredictError(
            f"The model cannot be pickled to be sent to the Dask workers: {exc}"
        ) from exc
    key = hashlib.sha256(payload).hexdigest()[:16]
    topic = f"pipelineml-batch-{uuid.uuid4().hex[:12]}"
    display = BatchProgress(data.npartitions, bar=progress, lazy=True)
    _forget_finished()
    with _watched_lock:
        _watched[topic] = (client, display)
    client.subscribe_topic(topic, display.on_event)
    scorer = PartitionScorer(
        key=key,
        params=dict(params) if params else None,
        dtypes=output.dtypes.to_dict(),
        topic=topic,
        npartitions=data.npartitions,
    )
    # One graph key holds the pickled model: Dask moves it to each worker once, and every
    # partition task of that worker reads it from there.
    shipped = delayed(payload, name=f"pipelineml-model-{key}")
    scored = data.map_partitions(
        score_partition, shipped, scorer, meta=output, token=f"batch-predict-{key}"
    )
    npartitions = data.npartitions

    def rows() -> int | None:
        return display.rows if display.done == npartitions else None

    scoring = Scoring(origin, npartitions, rows, client.scheduler.address, display.not_done)
    return ScoredFrame.of(scored.expr, scoring)


def batch_predict(
    model: Any,
    data: Any,
    params: Mapping[str, Any] | None = None,
    *,
    meta: Any = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    address: str | None = None,
    timeout: float = 10.0,
    progress: bool | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> Any:
    """Score ``data`` with ``model``: a pandas frame here, a Dask frame on the cluster.

    Args:
        model: A model URI (``models:/clf@champion``, ``runs:/...``, a folder...) or a
            loaded pyfunc model (from ``MlflowModelDataset`` or ``mlflow.pyfunc.load_model``).
        data: A pandas DataFrame, scored in chunks of ``chunk_size`` rows in this process;
            or a Dask DataFrame, scored partition by partition on the Dask cluster.
        params: ``predict``'s params (inference parameters by short name, ``runner``).
        meta: The output's columns and dtypes (an empty DataFrame) for a Dask frame; by
            default read from the model's output schema.
        chunk_size: Rows per ``predict`` call for a pandas frame.
        address: A scheduler address; by default the current Dask client, else what
            ``DaskRunner`` would use (``DASK_SCHEDULER_ADDRESS`` / dask's
            ``scheduler-address``, else a ``LocalCluster`` kept for this process).
        timeout: Seconds to wait for the scheduler.
        progress: Draw a progress bar (default: when stderr is a terminal; otherwise the
            progress is logged every few seconds on ``pipelineml.hooks.batch``).
        tracking_uri: The tracking store a model URI is looked up in (default: MLflow's).
        registry_uri: The registry a model URI is looked up in (default: MLflow's).

    Returns:
        For a pandas frame, a DataFrame equal to ``model.predict(data, params)`` row for
        row, on ``data``'s index. For a Dask frame, a lazy Dask DataFrame with the same
        partitions and index; each worker process unpickles the model once and scores all
        its partitions with it, when the result is computed or written.

    Raises:
        BatchPredictError: When the model cannot be loaded or has no output schema (Dask,
            without ``meta``), or a chunk/partition cannot be scored (the message names its
            index, the column or node at fault, and the model's message).
        ClusterConnectionError: When the scheduler cannot be reached (naming its address).
    """
    if chunk_size < 1:
        raise BatchPredictError(f"chunk_size must be 1 or more, got {chunk_size}.")
    dask_frame = _is_dask_frame(data)
    if not dask_frame and not isinstance(data, pd.DataFrame):
        raise BatchPredictError(
            f"batch_predict scores a pandas or Dask DataFrame, got {type(data).__name__}."
        )
    loaded = _model(model, tracking_uri, registry_uri)
    if dask_frame:
        # Imported here: it imports dask.dataframe, which the pandas path does without.
        from pipelineml.hooks.batch._output_marker import model_origin

        origin = model_origin(model, loaded)
        return _predict_dask(loaded, origin, data, params, meta, address, timeout, progress)
    return _predict_pandas(loaded, data, params, chunk_size, progress)


# Their public import path (pickles and tracebacks name them by it).
batch_predict.__module__ = "pipelineml.hooks"
