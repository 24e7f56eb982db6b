"""Batch scoring: a logged or registered model in the catalog, and large frames scored with it.

``MlflowModelDataset`` (``_model_dataset``) loads any model URI against given stores
(``_model_loading``); ``batch_predict`` (``_batch_predict``) scores a pandas frame in chunks,
or a Dask frame partition by partition on the cluster, where ``_worker`` keeps one
unpickled model per worker process; ``_frames`` shapes each result like the output schema,
``_progress`` shows the job's progress, and ``_output_marker`` makes the scored frame's
Parquet folder say when it is complete (``_SUCCESS``, written last).
"""

from __future__ import annotations

from pipelineml.hooks.batch._batch_predict import batch_predict
from pipelineml.hooks.batch._model_dataset import MlflowModelDataset

__all__ = ["MlflowModelDataset", "batch_predict"]
