"""The example project's own tests: its nodes and how its pipelines are bound."""

from __future__ import annotations

import pandas as pd
import pytest
from breast_cancer.pipeline_registry import register_pipelines
from breast_cancer.pipelines.classifier import nodes

from pipelineml.core import PipelineML
from pipelineml.core.artifacts import artifact_names
from pipelineml.runners import SequentialRunner

SPLIT = {"test_size": 0.25, "random_state": 0, "sample_size": 5}


@pytest.fixture(scope="module")
def fitted() -> dict[str, object]:
    """Everything training produces, computed by calling the nodes."""
    raw = nodes.load_raw_data()
    train_x, test_x, train_y, test_y, instances = nodes.split_data(raw, SPLIT)
    imputer = nodes.fit_imputer(train_x)
    scaler = nodes.fit_scaler(train_x, imputer)
    model = nodes.train_model(train_x, train_y, imputer, scaler, {"C": 1.0, "max_iter": 500})
    return {
        "raw": raw,
        "test_x": test_x,
        "test_y": test_y,
        "instances": instances,
        "imputer": imputer,
        "scaler": scaler,
        "model": model,
    }


def test_raw_data_is_the_bundled_dataset(fitted: dict[str, object]) -> None:
    """569 tumours, 30 features and a 0/1 'malignant' target with 212 malignant cases."""
    raw = fitted["raw"]
    assert isinstance(raw, pd.DataFrame)
    assert raw.shape == (569, 31)
    assert raw[nodes.TARGET].sum() == 212


def test_scoring_sample_has_no_target(fitted: dict[str, object]) -> None:
    """The 'instances' sample looks like a request: features only, sample_size rows."""
    instances = fitted["instances"]
    assert isinstance(instances, pd.DataFrame)
    assert len(instances) == SPLIT["sample_size"]
    assert nodes.TARGET not in instances.columns


def test_threshold_decides_the_label(fitted: dict[str, object]) -> None:
    """A higher threshold never labels more tumours malignant."""
    scaled = nodes.scale(nodes.impute(fitted["test_x"], fitted["imputer"]), fitted["scaler"])
    low = nodes.predict(scaled, fitted["model"], 0.1)["malignant"].sum()
    high = nodes.predict(scaled, fitted["model"], 0.9)["malignant"].sum()
    assert low > high


def test_model_is_useful(fitted: dict[str, object]) -> None:
    """Test-set metrics are well above chance."""
    metrics = nodes.evaluate(
        fitted["test_x"],
        fitted["test_y"],
        fitted["imputer"],
        fitted["scaler"],
        fitted["model"],
        0.5,
    )
    assert set(metrics) == {"accuracy", "precision", "recall", "roc_auc"}
    assert metrics["roc_auc"] > 0.95


def test_evaluation_report_counts_every_test_row(fitted: dict[str, object]) -> None:
    """The confusion matrix adds up to the test rows and agrees with evaluate()'s recall;
    recall falls as the threshold rises, one value per step 10..90."""
    args = [fitted[k] for k in ("test_x", "test_y", "imputer", "scaler", "model")]
    report, recall_by_threshold = nodes.evaluation_report(*args, 0.5)
    metrics = nodes.evaluate(*args, 0.5)

    (tn, fp), (fn, tp) = report["matrix"]
    assert tn + fp + fn + tp == len(fitted["test_x"])
    assert tp / (tp + fn) == pytest.approx(metrics["recall"])
    assert report["labels"] == ["benign", "malignant"]
    assert list(recall_by_threshold) == list(range(10, 100, 10))
    values = list(recall_by_threshold.values())
    assert values == sorted(values, reverse=True)
    assert recall_by_threshold[50] == pytest.approx(metrics["recall"])


def test_training_is_a_pipeline_ml_with_three_fitted_objects() -> None:
    """'training' carries inference; the model travels with imputer, scaler, model, threshold."""
    pipelines = register_pipelines()
    training = pipelines["training"]
    assert isinstance(training, PipelineML)
    assert pipelines["__default__"] is training
    assert training.input_name == "instances"
    assert training.inference.outputs() == {"predictions"}
    assert artifact_names(training.inference, training.input_name) == [
        "imputer",
        "model",
        "params:threshold",
        "scaler",
    ]
    assert training.log_model_kwargs["registered_model_name"] == "breast_cancer_classifier"


def test_inference_pipeline_matches_the_evaluation_code(fitted: dict[str, object]) -> None:
    """Running the inference pipeline gives the predictions evaluate() scores."""
    inference = register_pipelines()["inference"]
    data = {
        "instances": fitted["test_x"],
        "imputer": fitted["imputer"],
        "scaler": fitted["scaler"],
        "model": fitted["model"],
        "params:threshold": 0.5,
    }
    predictions = SequentialRunner().run_in_memory(inference, data)["predictions"]
    expected = nodes.predict(
        nodes.scale(nodes.impute(fitted["test_x"], fitted["imputer"]), fitted["scaler"]),
        fitted["model"],
        0.5,
    )
    pd.testing.assert_frame_equal(predictions, expected)


def test_batch_scoring_pipeline_reads_the_champion_and_writes_scores() -> None:
    """batch_scoring: raw data -> scoring_table, then champion + table -> batch_scores."""
    pipeline = register_pipelines()["batch_scoring"]

    assert pipeline.inputs() == {"raw_data", "champion", "params:batch"}
    assert pipeline.outputs() == {"batch_scores"}


def test_scoring_table_is_shaped_like_the_training_features(fitted: dict[str, object]) -> None:
    """make_scoring_table: the feature columns, `rows` rows, unique row_id, deterministic."""
    from breast_cancer.pipelines.batch_scoring import nodes as batch_nodes

    raw = fitted["raw"]
    assert isinstance(raw, pd.DataFrame)
    batch = {"rows": 1000, "partitions": 4, "threshold": 0.5}

    table = batch_nodes.make_scoring_table(raw, batch)
    computed = table.compute(scheduler="sync")

    assert table.npartitions == 4
    assert list(computed.columns) == [c for c in raw.columns if c != nodes.TARGET]
    assert len(computed) == 1000
    assert computed.index.is_unique
    assert computed.index.name == "row_id"
    assert (computed >= 0).all().all()
    again = batch_nodes.make_scoring_table(raw, batch).compute(scheduler="sync")
    pd.testing.assert_frame_equal(computed, again)
