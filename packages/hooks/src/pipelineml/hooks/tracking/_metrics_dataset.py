"""``MlflowMetricsDataset``: a JSON file of metrics that ``MlflowHook`` logs to the run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from pipelineml.hooks.tracking._metric_datasets import metric_value

__all__ = ["MlflowMetricsDataset"]


class MlflowMetricsDataset(AbstractDataset[Mapping[str, float], dict[str, float]]):
    """Saves ``{metric name: number}`` to a local JSON file; the hook logs it to MLflow.

    Nodes only return a dict. After a successful run, ``MlflowHook`` reads every
    ``MlflowMetricsDataset`` the pipeline wrote and logs its values as metrics of the run,
    from the session's process, so it works the same with every runner (Dask included).

    Example (``catalog.yml``):
        ```yaml
        metrics:
          type: pipelineml.hooks.MlflowMetricsDataset
          filepath: data/08_reporting/metrics.json
        ```
    """

    __module__ = "pipelineml.hooks"  # its public import path

    def __init__(
        self, filepath: str, prefix: str | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        """Create the dataset.

        Args:
            filepath: The local JSON file.
            prefix: Prepended to every metric name (``"test."`` gives ``test.accuracy``).
            metadata: Free-form metadata, ignored by Kedro.
        """
        self._filepath = Path(filepath)
        self._prefix = prefix or ""
        self.metadata = metadata

    @property
    def prefix(self) -> str:
        """Prepended to every metric name when it is logged."""
        return self._prefix

    def load(self) -> dict[str, float]:
        with self._filepath.open(encoding="utf-8") as stream:
            data: dict[str, float] = json.load(stream)
        return data

    def save(self, data: Mapping[str, float]) -> None:
        if not isinstance(data, Mapping):
            raise DatasetError(
                f"MlflowMetricsDataset saves a dict of {{metric name: number}}, got "
                f"{type(data).__name__}."
            )
        clean: dict[str, float] = {}
        for key, value in data.items():
            clean[str(key)] = metric_value(str(key), value)
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        with self._filepath.open("w", encoding="utf-8") as stream:
            json.dump(clean, stream, indent=2, sort_keys=True)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath.as_posix(), "prefix": self._prefix}
