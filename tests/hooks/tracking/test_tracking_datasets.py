"""The tracking datasets on their own, bound to a real run of a SQLite store."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from kedro.io import AbstractDataset, DatasetError
from mlflow.tracking import MlflowClient

from pipelineml.hooks import (
    MlflowArtifactDataset,
    MlflowMetricDataset,
    MlflowMetricHistoryDataset,
)
from pipelineml.hooks.tracking._run_binding import RunBinding


@pytest.fixture
def binding(mlflow_isolation: str, tmp_path: Path) -> RunBinding:
    """A run of the test's store, in an experiment whose artifacts live in ``tmp_path``."""
    client = MlflowClient(mlflow_isolation)
    experiment = client.create_experiment("datasets", artifact_location=(tmp_path / "art").as_uri())
    run = client.create_run(experiment)
    return RunBinding(run.info.run_id, mlflow_isolation, mlflow_isolation)


def bound(dataset: Any, binding: RunBinding, name: str) -> Any:
    """``dataset`` bound to ``binding``'s run under catalog name ``name``."""
    dataset._bind_run(binding, name)
    return dataset


# ------------------------------------------------------------------- metric
def test_metric_key_defaults_to_the_catalog_name(binding: RunBinding) -> None:
    """Saved without a key, the metric is logged under the dataset's catalog name."""
    dataset = bound(MlflowMetricDataset(save_args={"step": 3}), binding, "accuracy")

    dataset.save(0.75)

    (metric,) = MlflowClient(binding.tracking_uri).get_metric_history(binding.run_id, "accuracy")
    assert (metric.value, metric.step) == (0.75, 3)
    assert dataset.load() == 0.75
    assert dataset.exists()


def test_metric_given_key_wins_and_run_id_reads_another_run(binding: RunBinding) -> None:
    """key names the metric; run_id makes load read that run even when bound elsewhere."""
    bound(MlflowMetricDataset(key="val.acc"), binding, "accuracy").save(1)
    other = MlflowClient(binding.tracking_uri).create_run("0").info.run_id
    reader = bound(MlflowMetricDataset(key="val.acc", run_id=binding.run_id), binding, "x")
    reader._binding = RunBinding(other, binding.tracking_uri, binding.registry_uri)

    assert reader.load() == 1.0
    assert not bound(MlflowMetricDataset(key="val.acc"), reader._binding, "y").exists()


@pytest.mark.parametrize(
    ("value", "shown"),
    [("high", "str 'high'"), (True, "bool True"), (math.nan, "float nan"), ([1.0], r"list \[")],
)
def test_metric_refuses_what_is_not_a_number(binding: RunBinding, value: Any, shown: str) -> None:
    """A bool, a string, NaN or a list is refused, naming the metric; nothing is logged."""
    dataset = bound(MlflowMetricDataset(), binding, "accuracy")

    with pytest.raises(DatasetError, match=rf"Metric 'accuracy' must be a number, got {shown}"):
        dataset.save(value)

    assert MlflowClient(binding.tracking_uri).get_run(binding.run_id).data.metrics == {}


def test_metric_save_args_are_checked() -> None:
    """Only save_args step, an integer >= 0, is accepted; a typo gets a suggestion."""
    with pytest.raises(DatasetError, match=r"save_args has 'stp'; accepted: step.*'step'"):
        MlflowMetricDataset(save_args={"stp": 1})
    with pytest.raises(DatasetError, match=r"must be an integer >= 0, got int -1"):
        MlflowMetricDataset(key="acc", save_args={"step": -1})
    with pytest.raises(DatasetError, match=r"non-empty string"):
        MlflowMetricDataset(key="")


def test_metric_load_of_a_missing_key_names_the_run_s_metrics(binding: RunBinding) -> None:
    """Loading a metric the run lacks names the run, its metrics and a close key."""
    bound(MlflowMetricDataset(), binding, "accuracy").save(0.5)

    with pytest.raises(DatasetError, match=r"has no metric 'acuracy'.*\['accuracy'\]"):
        bound(MlflowMetricDataset(key="acuracy"), binding, "typo").load()


def test_metric_without_a_run_to_read_says_so() -> None:
    """Neither run_id nor a kedro run: load says how to give it a run."""
    with pytest.raises(DatasetError, match=r"no MLflow run to read from: give it a run_id"):
        MlflowMetricDataset(key="accuracy").load()


def test_unbound_metric_save_is_dropped(mlflow_isolation: str) -> None:
    """Outside a tracked kedro run (tracking disabled), a valid save logs nothing."""
    MlflowMetricDataset(key="accuracy").save(0.5)

    assert MlflowClient(mlflow_isolation).search_runs(["0"]) == []


# ------------------------------------------------------------------- history
def test_history_of_a_list_and_of_a_step_dict(binding: RunBinding) -> None:
    """A list is steps 0..n-1, a dict gives the steps; load returns values in step order."""
    client = MlflowClient(binding.tracking_uri)
    bound(MlflowMetricHistoryDataset(), binding, "loss").save([3.0, 2.0, 1.0])
    bound(MlflowMetricHistoryDataset(key="val"), binding, "v").save({20: 2.0, 0: 0.5})

    assert sorted((m.step, m.value) for m in client.get_metric_history(binding.run_id, "loss")) == [
        (0, 3.0),
        (1, 2.0),
        (2, 1.0),
    ]
    assert bound(MlflowMetricHistoryDataset(), binding, "loss").load() == [3.0, 2.0, 1.0]
    assert bound(MlflowMetricHistoryDataset(key="val"), binding, "v").load() == [0.5, 2.0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (0.5, r"saves a list of numbers .* got float"),
        ("abc", r"saves a list of numbers .* got str"),
        ([], r"empty history"),
        ([1.0, None], r"Metric 'loss' at step 1 must be a number, got NoneType None"),
        ({"a": 1.0}, r"The step of metric 'loss' must be an integer >= 0, got str 'a'"),
    ],
)
def test_history_refuses_bad_values(binding: RunBinding, data: Any, message: str) -> None:
    """Not a list or dict, empty, a bad value or a bad step: refused, nothing logged."""
    with pytest.raises(DatasetError, match=message):
        bound(MlflowMetricHistoryDataset(), binding, "loss").save(data)

    assert MlflowClient(binding.tracking_uri).get_metric_history(binding.run_id, "loss") == []


# ------------------------------------------------------------------- artifact
def test_artifact_save_logs_the_file_under_artifact_path(
    binding: RunBinding, tmp_path: Path
) -> None:
    """The wrapped dataset writes its file, which is logged as <artifact_path>/<name>."""
    target = tmp_path / "out" / "cm.json"
    dataset = bound(
        MlflowArtifactDataset(
            {"type": "json.JSONDataset", "filepath": str(target)}, artifact_path="plots"
        ),
        binding,
        "cm",
    )

    dataset.save({"tp": 3})

    assert json.loads(target.read_text()) == {"tp": 3}
    local = MlflowClient(binding.tracking_uri).download_artifacts(
        binding.run_id, "plots/cm.json", str(tmp_path / "dl")
    )
    assert json.loads(Path(local).read_text()) == {"tp": 3}
    assert dataset.load() == {"tp": 3}


def test_artifact_of_a_folder_dataset_logs_the_folder(binding: RunBinding, tmp_path: Path) -> None:
    """A dataset writing a folder (PartitionedDataset) logs the folder, loaded back by run_id."""
    config = {
        "type": "partitions.PartitionedDataset",
        "path": str(tmp_path / "parts"),
        "dataset": "json.JSONDataset",
        "filename_suffix": ".json",
    }
    bound(MlflowArtifactDataset(config), binding, "parts").save({"a": {"v": 1}, "b": {"v": 2}})

    paths = MlflowClient(binding.tracking_uri).list_artifacts(binding.run_id, "parts")
    assert sorted(p.path for p in paths) == ["parts/a.json", "parts/b.json"]
    reader = MlflowArtifactDataset(config, run_id=binding.run_id)
    # Partitions load lazily, from the downloaded copy, which lives as long as the dataset.
    loaded = reader.load()
    assert {k: v() for k, v in loaded.items()} == {"a": {"v": 1}, "b": {"v": 2}}


def test_artifact_from_catalog_configuration(tmp_path: Path) -> None:
    """Declared in catalog.yml by its public path, the wrapped type string resolved by Kedro."""
    dataset = AbstractDataset.from_config(
        "report",
        {
            "type": "pipelineml.hooks.MlflowArtifactDataset",
            "dataset": {"type": "text.TextDataset", "filepath": str(tmp_path / "r.txt")},
        },
    )

    dataset.save("hello")

    assert isinstance(dataset, MlflowArtifactDataset)
    assert dataset.artifact == "r.txt"
    assert (tmp_path / "r.txt").read_text() == "hello"


@pytest.mark.parametrize(
    ("dataset", "artifact_path", "message"),
    [
        ("json.JSONDataset", None, r"wraps 'json.JSONDataset' without a local file"),
        ({"filepath": "x.json"}, None, r"must be a dataset type or a configuration with a 'type'"),
        (
            {"type": "json.JSONDataset", "filepath": "s3://bucket/x.json"},
            None,
            r"logs local files; .* 's3://bucket/x.json' is on 's3'",
        ),
        ({"type": "json.JSONDataset", "filepath": "x.json"}, "/abs", r"relative folder"),
        ({"type": "NoSuchDataset", "filepath": "x.json"}, None, r"cannot build its dataset"),
    ],
)
def test_artifact_refuses_what_it_cannot_log(
    dataset: Any, artifact_path: str | None, message: str
) -> None:
    """No local file, no type, a remote file, an absolute artifact_path, an unknown type."""
    with pytest.raises(DatasetError, match=message):
        MlflowArtifactDataset(dataset, artifact_path=artifact_path)


def test_artifact_load_of_a_run_without_it_names_the_artifact(
    binding: RunBinding, tmp_path: Path
) -> None:
    """run_id of a run that never logged the file: the error names the artifact and run."""
    dataset = MlflowArtifactDataset(
        {"type": "json.JSONDataset", "filepath": str(tmp_path / "cm.json")},
        artifact_path="plots",
        run_id=binding.run_id,
    )

    assert not dataset.exists()
    with pytest.raises(DatasetError, match=r"cannot read 'plots/cm.json' from MLflow run "):
        dataset.load()
