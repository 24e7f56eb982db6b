"""MlflowMetricsDataset: a JSON file of numbers that MlflowHook logs as metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from kedro.io import AbstractDataset, DatasetError

from pipelineml.hooks import MlflowMetricsDataset


def test_save_then_load_round_trips_numbers_as_floats(tmp_path: Path) -> None:
    """Saved metrics are written as JSON floats and loaded back."""
    dataset = MlflowMetricsDataset(filepath=str(tmp_path / "deep" / "metrics.json"))

    dataset.save({"accuracy": 0.9, "rows": 20})

    assert dataset.exists()
    assert dataset.load() == {"accuracy": 0.9, "rows": 20.0}
    assert json.loads((tmp_path / "deep" / "metrics.json").read_text()) == {
        "accuracy": 0.9,
        "rows": 20.0,
    }


def test_prefix_is_kept(tmp_path: Path) -> None:
    """The prefix given in the catalog is exposed for the hook (empty by default)."""
    assert MlflowMetricsDataset(str(tmp_path / "m.json"), prefix="test.").prefix == "test."
    assert MlflowMetricsDataset(str(tmp_path / "m.json")).prefix == ""


def test_built_from_catalog_configuration(tmp_path: Path) -> None:
    """The dataset is declared in catalog.yml by its public import path."""
    config = {
        "type": "pipelineml.hooks.MlflowMetricsDataset",
        "filepath": str(tmp_path / "m.json"),
        "prefix": "val.",
    }

    dataset = AbstractDataset.from_config("metrics", config)

    assert isinstance(dataset, MlflowMetricsDataset)
    assert dataset.prefix == "val."
    assert not dataset.exists()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("high", "str 'high'"),
        (None, "NoneType None"),
        (True, "bool True"),
        ([1.0], r"list \[1.0\]"),
    ],
)
def test_save_refuses_non_numbers_naming_the_key(tmp_path: Path, value: Any, shown: str) -> None:
    """A value that is not a number is refused, naming the metric and the value."""
    dataset = MlflowMetricsDataset(str(tmp_path / "m.json"))

    with pytest.raises(DatasetError, match=rf"Metric 'recall' must be a number, got {shown}"):
        dataset.save({"accuracy": 0.5, "recall": value})

    assert not dataset.exists()


def test_save_refuses_nan(tmp_path: Path) -> None:
    """NaN is refused, naming the metric."""
    dataset = MlflowMetricsDataset(str(tmp_path / "m.json"))

    with pytest.raises(DatasetError, match=r"Metric 'loss' must be a number, got float nan"):
        dataset.save({"loss": math.nan})


def test_save_refuses_something_else_than_a_dict(tmp_path: Path) -> None:
    """Only a {name: number} mapping can be saved."""
    dataset = MlflowMetricsDataset(str(tmp_path / "m.json"))

    with pytest.raises(DatasetError, match=r"dict of \{metric name: number\}, got list"):
        dataset.save([0.5])  # type: ignore[arg-type]
