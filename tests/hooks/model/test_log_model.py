"""log_pipeline_model: one call logs the inference pipeline as an MLflow model."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from kedro.pipeline import Pipeline, node
from mlflow.models.model import ModelInfo
from mlflow.tracking import MlflowClient

from pipelineml.hooks import KedroPipelineModelError, log_pipeline_model
from pipelineml.runners import ThreadRunner
from tests._support import toy_nodes
from tests._support.mlflow_store import all_logged_models, own_store
from tests._support.observing_datasets import CountingCSVDataset
from tests._support.toy_model import (
    FAST_LOG,
    THRESHOLD,
    expected,
    frame,
    inference_pipeline,
    toy_pipeline_ml,
    trained_catalog,
)


@dataclass(frozen=True)
class Logged:
    """A model logged by a module fixture, and the store it went to."""

    info: ModelInfo
    run_id: str
    tracking_uri: str


@pytest.fixture(scope="module")
def default_log(tmp_path_factory: pytest.TempPathFactory, store_template: Path) -> Logged:
    """The toy PipelineML logged with log_pipeline_model's defaults inside an active run."""
    folder = tmp_path_factory.mktemp("default-log")
    catalog = trained_catalog(folder / "project")
    with own_store(folder, store_template) as uri, mlflow.start_run() as run:
        info = log_pipeline_model(toy_pipeline_ml(), catalog, **FAST_LOG)
    return Logged(info, run.info.run_id, uri)


@pytest.fixture(scope="module")
def registered_log(tmp_path_factory: pytest.TempPathFactory, store_template: Path) -> Logged:
    """The toy PipelineML with a ThreadRunner, logged with registered_model_name."""
    folder = tmp_path_factory.mktemp("registered-log")
    catalog = trained_catalog(folder / "project")
    pml = toy_pipeline_ml(kpm_kwargs={"runner": ThreadRunner(max_workers=2)})
    with own_store(folder, store_template) as uri, mlflow.start_run() as run:
        info = log_pipeline_model(pml, catalog, registered_model_name="toy-model", **FAST_LOG)
    return Logged(info, run.info.run_id, uri)


def test_returns_mlflow_model_info_named_model(default_log: Logged) -> None:
    """The result is MLflow's ModelInfo; the model is named 'model' and in the active run."""
    info = default_log.info

    assert isinstance(info, ModelInfo)
    assert info.name == "model"
    assert info.run_id == default_log.run_id
    model = MlflowClient(default_log.tracking_uri).get_logged_model(info.model_id)
    assert model.name == "model"
    assert model.source_run_id == default_log.run_id


def test_logged_model_predicts(default_log: Logged) -> None:
    """The logged model loads and predicts with pyfunc."""
    mlflow.set_tracking_uri(default_log.tracking_uri)

    loaded = mlflow.pyfunc.load_model(default_log.info.model_uri)

    pd.testing.assert_frame_equal(loaded.predict(frame([3, 9])), expected([3, 9]))


def test_auto_signature_inputs_come_from_a_sample_of_input_name(default_log: Logged) -> None:
    """signature='auto' infers the input and output schemas from a sample of input_name."""
    signature = default_log.info.signature

    assert signature is not None
    assert signature.inputs.input_names() == ["x"]
    assert [t.name for t in signature.inputs.input_types()] == ["double"]
    assert signature.outputs.input_names() == ["score", "positive"]


def test_auto_signature_params_are_inference_parameters_and_runner(default_log: Logged) -> None:
    """The params schema holds the inference parameters and 'runner' with their defaults."""
    params = {spec.name: spec.default for spec in default_log.info.signature.params.params}

    assert params == {"threshold": THRESHOLD, "runner": "SequentialRunner"}


def test_runner_param_defaults_to_the_configured_runner(registered_log: Logged) -> None:
    """The 'runner' param's default is the name of the model's configured runner."""
    params = {spec.name: spec.default for spec in registered_log.info.signature.params.params}

    assert params["runner"] == "ThreadRunner"


def test_registered_model_name_registers_a_version(registered_log: Logged) -> None:
    """registered_model_name registers the logged model as version 1."""
    client = MlflowClient(registered_log.tracking_uri, registry_uri=registered_log.tracking_uri)

    versions = client.search_model_versions("name='toy-model'")

    assert registered_log.info.registered_model_version == 1
    assert [int(v.version) for v in versions] == [1]
    assert versions[0].run_id == registered_log.run_id
    assert registered_log.info.model_id in str(versions[0].source)


def test_csv_sample_is_read_with_a_row_limit(tmp_path: Path, experiment: str) -> None:
    """A large CSV input_name is sampled (at most 100 rows read), never loaded whole."""
    big = tmp_path / "big.csv"
    frame([i % 17 for i in range(1000)]).to_csv(big, index=False)
    counting = {
        "type": "tests._support.observing_datasets.CountingCSVDataset",
        "filepath": big.as_posix(),
    }
    catalog = trained_catalog(tmp_path / "project", entries={"instances": counting})
    CountingCSVDataset.rows_loaded.clear()

    with mlflow.start_run():
        info = log_pipeline_model(toy_pipeline_ml(), catalog, **FAST_LOG)

    assert CountingCSVDataset.rows_loaded
    assert max(CountingCSVDataset.rows_loaded) <= 100
    assert info.signature.inputs.input_names() == ["x"]


def test_signature_none_logs_no_signature(tmp_path: Path, experiment: str) -> None:
    """signature=None logs the model without a signature."""
    catalog = trained_catalog(tmp_path / "project")

    with mlflow.start_run():
        info = log_pipeline_model(toy_pipeline_ml(), catalog, signature=None, **FAST_LOG)

    assert info.signature is None
    assert mlflow.models.get_model_info(info.model_uri).signature is None


def test_artifact_path_is_accepted_with_a_future_warning(tmp_path: Path, experiment: str) -> None:
    """artifact_path (MLflow 2's spelling) is used as the name, with a FutureWarning."""
    catalog = trained_catalog(tmp_path / "project")

    with mlflow.start_run(), pytest.warns(FutureWarning, match=r"artifact_path.*name="):
        info = log_pipeline_model(toy_pipeline_ml(), catalog, artifact_path="legacy", **FAST_LOG)

    assert info.name == "legacy"


def test_artifact_path_with_a_plain_pipeline(tmp_path: Path, experiment: str) -> None:
    """artifact_path names the model of a plain Pipeline too, with a FutureWarning."""
    catalog = trained_catalog(tmp_path / "project")

    with mlflow.start_run(), pytest.warns(FutureWarning, match=r"artifact_path.*name="):
        info = log_pipeline_model(
            inference_pipeline(),
            catalog,
            input_name="instances",
            artifact_path="legacy",
            signature=None,
            **FAST_LOG,
        )

    assert info.name == "legacy"


def test_artifact_path_in_the_pipeline_ml_is_used(tmp_path: Path, experiment: str) -> None:
    """A PipelineML built with log_model_kwargs artifact_path warns and logs under that name."""
    catalog = trained_catalog(tmp_path / "project")
    with pytest.warns(FutureWarning, match=r"artifact_path"):
        pml = toy_pipeline_ml(log_model_kwargs={"artifact_path": "legacy", **FAST_LOG})

    with mlflow.start_run():
        info = log_pipeline_model(pml, catalog, signature=None)

    assert info.name == "legacy"


def test_plain_pipeline_with_input_name(tmp_path: Path, experiment: str) -> None:
    """A plain inference Pipeline is logged with input_name=...; kpm_kwargs apply."""
    catalog = trained_catalog(tmp_path / "project")

    with mlflow.start_run():
        info = log_pipeline_model(
            inference_pipeline(),
            catalog,
            input_name="instances",
            kpm_kwargs={"copy_mode": "deepcopy"},
            **FAST_LOG,
        )
    loaded = mlflow.pyfunc.load_model(info.model_uri)

    assert loaded.unwrap_python_model().copy_policy.default == "deepcopy"
    pd.testing.assert_frame_equal(loaded.predict(frame([2])), expected([2]))


def test_plain_pipeline_without_input_name_is_refused(tmp_path: Path, experiment: str) -> None:
    """A plain Pipeline without input_name is refused before anything is logged."""
    catalog = trained_catalog(tmp_path / "project")

    with mlflow.start_run(), pytest.raises(KedroPipelineModelError, match=r"input_name"):
        log_pipeline_model(inference_pipeline(), catalog, **FAST_LOG)

    assert all_logged_models(mlflow.get_tracking_uri()) == []


def test_reserved_log_model_keyword_is_refused(tmp_path: Path, experiment: str) -> None:
    """log_model_kwargs cannot replace the python model or its artifacts; the key is named."""
    catalog = trained_catalog(tmp_path / "project")

    with pytest.raises(KedroPipelineModelError, match=r"\['artifacts'\]"):
        log_pipeline_model(toy_pipeline_ml(), catalog, artifacts={"x": "y"})


def test_pipeline_failing_on_the_sample_is_not_logged(tmp_path: Path, experiment: str) -> None:
    """When the inference pipeline fails on the sample, nothing is logged and the error says so."""
    catalog = trained_catalog(tmp_path / "project")
    failing = Pipeline([node(toy_nodes.fail_on_scoring, ["instances", "model"], "out", name="f")])

    with (
        mlflow.start_run(),
        pytest.raises(KedroPipelineModelError, match=r"failed on a sample of 'instances'"),
    ):
        log_pipeline_model(failing, catalog, input_name="instances", **FAST_LOG)

    assert all_logged_models(mlflow.get_tracking_uri()) == []


def test_no_sample_gives_a_params_only_signature(
    tmp_path: Path, experiment: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Without data for input_name, the signature has params only and a warning says so."""
    catalog = trained_catalog(tmp_path / "project", entries={"instances": None})

    with mlflow.start_run(), caplog.at_level(logging.WARNING):
        info = log_pipeline_model(toy_pipeline_ml(), catalog, **FAST_LOG)

    assert info.signature.inputs is None
    assert {p.name for p in info.signature.params.params} == {"threshold", "runner"}
    assert any("No sample of 'instances'" in r.getMessage() for r in caplog.records)


def test_run_id_logs_into_that_run_and_its_experiment(tmp_path: Path, experiment: str) -> None:
    """With run_id and no active run, the model belongs to that run and its experiment."""
    catalog = trained_catalog(tmp_path / "project")
    client = MlflowClient()
    other = client.create_experiment("other", artifact_location=(tmp_path / "o").as_uri())
    run = client.create_run(other)

    info = log_pipeline_model(toy_pipeline_ml(), catalog, run_id=run.info.run_id, **FAST_LOG)

    model = client.get_logged_model(info.model_id)
    assert model.source_run_id == run.info.run_id
    assert model.experiment_id == other
