"""``MlflowMetricDataset`` and ``MlflowMetricHistoryDataset``: what a node returns, as a
metric of the run of the ``kedro run``."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from mlflow.entities import Metric

from pipelineml.core._names import did_you_mean
from pipelineml.hooks.tracking._run_binding import RunBound

__all__ = ["MlflowMetricDataset", "MlflowMetricHistoryDataset", "metric_value"]

logger = logging.getLogger(__name__)

_SAVE_ARGS = ("step",)


def metric_value(name: str, value: Any, step: int | None = None) -> float:
    """``value`` as an MLflow metric value (``step`` only names it in the error).

    Raises:
        DatasetError: When it is not a real number (a bool is not one), or is NaN.
    """
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(float(value)):
        at = f" at step {step}" if step is not None else ""
        raise DatasetError(
            f"Metric '{name}'{at} must be a number, got {type(value).__name__} {value!r}."
        )
    return float(value)


def _step(name: str, step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, Integral) or int(step) < 0:
        raise DatasetError(
            f"The step of metric '{name}' must be an integer >= 0, got "
            f"{type(step).__name__} {step!r}."
        )
    return int(step)


class _MetricDataset(RunBound):
    """The key of a metric: given, or the dataset's catalog name."""

    def __init__(self, key: str | None, run_id: str | None) -> None:
        super().__init__()
        if key is not None and (not isinstance(key, str) or not key):
            raise DatasetError(
                f"{type(self).__name__} key must be a non-empty string or omitted (the "
                f"catalog name is used), got {key!r}."
            )
        self._key = key
        self._run_id = run_id

    @property
    def key(self) -> str | None:
        """The MLflow metric key: the one given, else the catalog name (once known)."""
        return self._key or self._name

    @property
    def run_id(self) -> str | None:
        """The run ``load`` reads from (``None``: the run of the ``kedro run``)."""
        return self._run_id

    def _key_or_fail(self) -> str:
        key = self.key
        if key is None:
            raise DatasetError(
                f"{type(self).__name__} has no key: give it one (key: ...) or use it from a "
                "catalog in a kedro run, where its catalog name is the key."
            )
        return key

    def _untracked(self) -> bool:
        """Whether no run takes the save (tracking is off for this pipeline in mlflow.yml,
        or no kedro run is tracked): the value is dropped, as it has nowhere to go."""
        if self._binding is not None:
            return False
        logger.info(
            "%s not logged to MLflow: no MLflow run of a kedro run is in progress",
            self._label(),
        )
        return True

    def _log(self, metrics: list[Metric]) -> None:
        assert self._binding is not None  # checked by _untracked
        self._binding.client().log_batch(self._binding.run_id, metrics=metrics)

    def _history(self) -> list[Metric]:
        key = self._key_or_fail()
        client, run_id = self._client_for(self._run_id)
        history = client.get_metric_history(run_id, key)
        if not history:
            raise DatasetError(
                f"{self._label()}: run {run_id} has no metric '{key}'. Its metrics: "
                f"{sorted(client.get_run(run_id).data.metrics) or 'none'}."
                f"{did_you_mean(key, client.get_run(run_id).data.metrics)}"
            )
        return sorted(history, key=lambda m: (m.step, m.timestamp))

    def _exists(self) -> bool:
        if self.key is None or (self._run_id is None and self._binding is None):
            return False
        client, run_id = self._client_for(self._run_id)
        return bool(client.get_metric_history(run_id, self.key))

    def _describe(self) -> dict[str, Any]:
        return {"key": self.key, "run_id": self._run_id}


class MlflowMetricDataset(_MetricDataset, AbstractDataset[float, float]):
    """One number a node returns, logged as a metric of the run of the ``kedro run``.

    The key is the dataset's catalog name unless ``key`` is given. A save logs at once,
    from wherever the node runs (a thread, a Dask worker), into the session's run, so a
    value saved before a later node fails stays in the run. ``load`` returns the metric's
    last value: in the run of this ``kedro run``, or in run ``run_id``.

    Example (``catalog.yml``):
        ```yaml
        accuracy:
          type: pipelineml.hooks.MlflowMetricDataset
          save_args:
            step: 1
        ```
    """

    __module__ = "pipelineml.hooks"  # its public import path

    def __init__(
        self,
        key: str | None = None,
        run_id: str | None = None,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            key: The metric's key; the catalog name when omitted.
            run_id: The run ``load`` reads from; the run of the ``kedro run`` when omitted
                (a save always logs into the run of the ``kedro run``).
            save_args: ``step`` (an integer >= 0, default 0): the step the value is
                logged at.
            metadata: Free-form metadata, ignored by Kedro.

        Raises:
            DatasetError: For an empty key, an unknown save argument or a bad step.
        """
        super().__init__(key, run_id)
        args = dict(save_args or {})
        for unknown in sorted(set(args) - set(_SAVE_ARGS)):
            raise DatasetError(
                f"MlflowMetricDataset save_args has '{unknown}'; accepted: "
                f"{', '.join(_SAVE_ARGS)}.{did_you_mean(unknown, _SAVE_ARGS)}"
            )
        self._step = _step(key or "MlflowMetricDataset", args.get("step", 0))
        self.metadata = metadata

    def load(self) -> float:
        return float(self._history()[-1].value)

    def save(self, data: float) -> None:
        key = self._key or self._name or "MlflowMetricDataset"
        value = metric_value(key, data)
        if self._untracked():
            return
        self._log([Metric(key, value, int(time.time() * 1000), self._step)])

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "step": self._step}


class MlflowMetricHistoryDataset(_MetricDataset, AbstractDataset[Any, list[float]]):
    """A value per step, logged as one metric of the run of the ``kedro run``.

    A node returns a list (its values are steps 0, 1, ... n-1) or a ``{step: value}``
    dict. The key is the dataset's catalog name unless ``key`` is given. ``load`` returns
    the values as a list in step order, from the run of this ``kedro run`` or run
    ``run_id``.

    Example (``catalog.yml``):
        ```yaml
        loss_history:
          type: pipelineml.hooks.MlflowMetricHistoryDataset
        ```
    """

    __module__ = "pipelineml.hooks"  # its public import path

    def __init__(
        self,
        key: str | None = None,
        run_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            key: The metric's key; the catalog name when omitted.
            run_id: The run ``load`` reads from; the run of the ``kedro run`` when omitted.
            metadata: Free-form metadata, ignored by Kedro.
        """
        super().__init__(key, run_id)
        self.metadata = metadata

    def load(self) -> list[float]:
        return [float(m.value) for m in self._history()]

    def save(self, data: Sequence[float] | Mapping[int, float]) -> None:
        key = self._key or self._name or "MlflowMetricHistoryDataset"
        if hasattr(data, "tolist") and getattr(data, "ndim", None) == 1:
            data = data.tolist()  # a 1-D NumPy array or pandas Series of values
        if isinstance(data, Mapping):
            steps = [(_step(key, step), value) for step, value in data.items()]
        elif isinstance(data, Sequence) and not isinstance(data, str | bytes):
            steps = list(enumerate(data))
        else:
            raise DatasetError(
                f"{self._label()} saves a list of numbers (steps 0..n-1) or a "
                f"{{step: number}} dict, got {type(data).__name__}."
            )
        if not steps:
            raise DatasetError(f"{self._label()} got an empty history: nothing to log.")
        timestamp = int(time.time() * 1000)
        metrics = [
            Metric(key, metric_value(key, value, step), timestamp, step) for step, value in steps
        ]
        if not self._untracked():
            self._log(metrics)
