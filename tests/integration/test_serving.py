"""The logged model scores like the project's nodes, in-process and behind `mlflow models serve`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelineml.hooks import KedroPipelineModelError
from tests._support.servers import ModelServer, start_model_server, stop_model_server
from tests._support.trained_project import (
    STRICT_THRESHOLD,
    TrainedModel,
    assert_same_predictions,
    invoke,
    invoke_concurrently,
    load_and_predict,
    records_payload,
    served_predictions,
    split_payload,
    subprocess_environ,
    tracking,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loaded_model(trained_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The model loaded in this process with `mlflow.pyfunc.load_model(models:/m-...)`."""
    import mlflow

    with tracking(trained_model.tracking_uri):
        return mlflow.pyfunc.load_model(
            trained_model.model_uri, dst_path=os.fspath(tmp_path_factory.mktemp("loaded"))
        )


@pytest.fixture(scope="module")
def model_server(
    trained_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModelServer]:
    """`mlflow models serve -m models:/m-... --env-manager local` on 127.0.0.1."""
    # Without PYTHONPATH the server finds nothing of the project: the model carries its code.
    with subprocess_environ():
        server = start_model_server(
            trained_model.model_uri,
            tmp_path_factory.mktemp("model-server"),
            tracking_uri=trained_model.tracking_uri,
        )
    try:
        yield server
    finally:
        stop_model_server(server)


# --- in this process -------------------------------------------------------------------------


def test_load_model_predicts_like_the_nodes(trained_model: TrainedModel, loaded_model: Any) -> None:
    """load_model(models:/m-...).predict(df) equals the predict node on the fitted objects."""
    assert_same_predictions(loaded_model.predict(trained_model.sample), trained_model.expected())


def test_load_model_threshold_param_changes_decisions_like_the_nodes(
    trained_model: TrainedModel, loaded_model: Any
) -> None:
    """params={"threshold": 0.9} gives what the node gives with threshold 0.9."""
    strict = trained_model.expected(STRICT_THRESHOLD)
    # The sample must make the parameter visible, or this test would prove nothing.
    assert (strict["prediction"] != trained_model.expected()["prediction"]).any()

    actual = loaded_model.predict(trained_model.sample, params={"threshold": STRICT_THRESHOLD})

    assert_same_predictions(actual, strict)


@pytest.mark.parametrize("runner", ["ThreadRunner", "SequentialRunner"])
def test_load_model_runner_param_gives_the_same_predictions(
    trained_model: TrainedModel, loaded_model: Any, runner: str
) -> None:
    """params={"runner": ...} picks another runner without changing the predictions."""
    actual = loaded_model.predict(trained_model.sample, params={"runner": runner})

    assert_same_predictions(actual, trained_model.expected())


def test_load_model_is_a_kedro_pipeline_model_with_every_fitted_artifact(
    loaded_model: Any,
) -> None:
    """The pyfunc wraps a KedroPipelineModel carrying scaler, model and the threshold."""
    python_model = loaded_model.unwrap_python_model()

    assert type(python_model).__name__ == "KedroPipelineModel"
    assert python_model.artifact_names == ["model", "params:threshold", "scaler"]
    assert python_model.parameter_defaults == {"threshold": 0.5}


def test_unwrapped_model_refuses_an_unknown_parameter(
    trained_model: TrainedModel, loaded_model: Any
) -> None:
    """Called directly (no MLflow params filtering), an unknown parameter is an error."""
    python_model = loaded_model.unwrap_python_model()

    with pytest.raises(
        KedroPipelineModelError,
        match=r"Unknown parameter 'bogus'\. This model accepts: \['runner', 'threshold'\]",
    ):
        python_model.predict(None, trained_model.sample, {"bogus": 1})


def test_runs_uri_loads_the_same_model(trained_model: TrainedModel, tmp_path: Path) -> None:
    """runs:/<run_id>/model resolves to the logged model and predicts the same."""
    actual = load_and_predict(
        trained_model.runs_uri, trained_model.tracking_uri, trained_model.sample, tmp_path
    )

    assert_same_predictions(actual, trained_model.expected())


# --- behind `mlflow models serve` ------------------------------------------------------------


def test_served_dataframe_split_predicts_like_the_nodes(
    trained_model: TrainedModel, model_server: ModelServer
) -> None:
    """POST /invocations with dataframe_split answers the node's predictions."""
    response = invoke(model_server.url, split_payload(trained_model.sample))

    assert_same_predictions(served_predictions(response), trained_model.expected())


def test_served_dataframe_records_predicts_like_the_nodes(
    trained_model: TrainedModel, model_server: ModelServer
) -> None:
    """POST /invocations with dataframe_records answers the node's predictions."""
    response = invoke(model_server.url, records_payload(trained_model.sample))

    assert_same_predictions(served_predictions(response), trained_model.expected())


def test_served_threshold_param_changes_decisions_like_the_nodes(
    trained_model: TrainedModel, model_server: ModelServer
) -> None:
    """params {"threshold": 0.9} in the request gives the node's decisions at 0.9."""
    body = {**split_payload(trained_model.sample), "params": {"threshold": STRICT_THRESHOLD}}

    response = invoke(model_server.url, body)

    assert_same_predictions(served_predictions(response), trained_model.expected(STRICT_THRESHOLD))


def test_served_runner_param_gives_the_same_predictions(
    trained_model: TrainedModel, model_server: ModelServer
) -> None:
    """params {"runner": "ThreadRunner"} answers the same predictions."""
    body = {**split_payload(trained_model.sample), "params": {"runner": "ThreadRunner"}}

    response = invoke(model_server.url, body)

    assert_same_predictions(served_predictions(response), trained_model.expected())


def test_served_request_cannot_start_a_dask_cluster(
    trained_model: TrainedModel, model_server: ModelServer
) -> None:
    """params {"runner": "DaskRunner"} is a 400 naming the allowed runners (#22, finding 1):
    no cluster, so no unauthenticated scheduler port, is started by a request."""
    body = {**split_payload(trained_model.sample), "params": {"runner": "DaskRunner"}}

    response = invoke(model_server.url, body)

    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Runner 'DaskRunner' is not allowed" in error["message"]
    assert "Allowed runners: SequentialRunner, ThreadRunner." in error["message"]
    log = model_server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "distributed.scheduler" not in log


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e309"])
def test_served_non_finite_parameter_gets_400_naming_it(
    trained_model: TrainedModel, model_server: ModelServer, literal: str
) -> None:
    """A threshold of NaN, Infinity or 1e309 (an overflow) is a 400 naming the parameter,
    not an answer in which every row is 0 or 1 (#22, finding 2)."""
    body = {**split_payload(trained_model.sample), "params": {"threshold": 0.5}}
    raw = json.dumps(body).replace('"threshold": 0.5', f'"threshold": {literal}').encode()

    response = invoke(model_server.url, raw)

    assert response.status_code == 400, response.text
    assert "Parameter 'threshold' got" in response.json()["message"]
    assert "NaN or infinite number is not accepted" in response.json()["message"]


def test_served_concurrent_requests_each_get_their_own_answer(
    trained_model: TrainedModel, model_server: ModelServer
) -> None:
    """Requests in flight together with different thresholds and runners do not mix."""
    thresholds = [0.3, 0.5, STRICT_THRESHOLD] * 4
    runners = ["SequentialRunner", "ThreadRunner"] * 6
    bodies = [
        {**split_payload(trained_model.sample), "params": {"threshold": t, "runner": r}}
        for t, r in zip(thresholds, runners, strict=True)
    ]

    responses = invoke_concurrently(model_server.url, bodies)

    for threshold, response in zip(thresholds, responses, strict=True):
        assert_same_predictions(served_predictions(response), trained_model.expected(threshold))


def _bad_json(_: Any) -> bytes:
    return b'{"dataframe_split": '


def _missing_column(sample: Any) -> dict[str, Any]:
    return split_payload(sample.drop(columns=["mean_radius"]))


def _string_in_numeric_column(sample: Any) -> dict[str, Any]:
    body = split_payload(sample)
    column = body["dataframe_split"]["columns"].index("mean_radius")
    body["dataframe_split"]["data"][0][column] = "abc"
    return body


def _unknown_runner(sample: Any) -> dict[str, Any]:
    return {**split_payload(sample), "params": {"runner": "ThredRunner"}}


def _import_path_as_runner(sample: Any) -> dict[str, Any]:
    return {**split_payload(sample), "params": {"runner": "os.system"}}


def _threshold_not_a_number(sample: Any) -> dict[str, Any]:
    return {**split_payload(sample), "params": {"threshold": "high"}}


def _no_input_field(sample: Any) -> dict[str, Any]:
    return {"rows": split_payload(sample)["dataframe_split"]}


# (body builder, MLflow error_code, what the message must say), as MLflow 3.17 answers.
MALFORMED: dict[str, tuple[Callable[[Any], Any], str, str]] = {
    "bad-json": (
        _bad_json,
        "BAD_REQUEST",
        r"Invalid input\. Ensure that input is a valid JSON formatted string\. "
        r"Error: 'JSONDecodeError\('Expecting value",
    ),
    "missing-column": (
        _missing_column,
        "INVALID_PARAMETER_VALUE",
        r"Model is missing inputs \['mean_radius'\]",
    ),
    "string-in-numeric-column": (
        _string_in_numeric_column,
        "BAD_REQUEST",
        r"Failed to convert column mean_radius to type 'float64'\. "
        r"Error: 'ValueError\(\"could not convert string to float: 'abc'\"\)'",
    ),
    "unknown-runner": (
        _unknown_runner,
        "INVALID_PARAMETER_VALUE",
        # Not a runner the model allows: refused before any lookup (#22, finding 1).
        r"Runner 'ThredRunner' is not allowed for this model\. Allowed runners: "
        r"SequentialRunner, ThreadRunner\.",
    ),
    "import-path-as-runner": (
        _import_path_as_runner,
        "INVALID_PARAMETER_VALUE",
        r"Runner 'os\.system' is not allowed for this model\. Allowed runners: ",
    ),
    "threshold-not-a-number": (
        _threshold_not_a_number,
        "INVALID_PARAMETER_VALUE",
        r"Invalid parameters found: .*'threshold'.*Can not safely convert .*str.* to "
        r"`DataType\.double` for value `high`",
    ),
    "no-input-field": (
        _no_input_field,
        "BAD_REQUEST",
        r"The input must be a JSON dictionary with exactly one of the input fields",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_gets_400_saying_why_and_the_server_keeps_serving(
    trained_model: TrainedModel, model_server: ModelServer, case: str
) -> None:
    """A bad request is answered 400 with a message naming the fault; the next one is fine."""
    build, error_code, message = MALFORMED[case]

    response = invoke(model_server.url, build(trained_model.sample))

    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error_code"] == error_code, error
    assert re.search(message, error["message"], flags=re.DOTALL), error["message"]
    good = invoke(model_server.url, split_payload(trained_model.sample))
    assert_same_predictions(served_predictions(good), trained_model.expected())


def test_served_unknown_param_is_dropped_with_a_warning(
    trained_model: TrainedModel, model_server: ModelServer
) -> None:
    """MLflow drops a param missing from the signature (logging a warning) and answers 200."""
    body = {**split_payload(trained_model.sample), "params": {"bogus": 1}}

    response = invoke(model_server.url, body)

    assert_same_predictions(served_predictions(response), trained_model.expected())
    log = model_server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Unrecognized params ['bogus'] are ignored for inference" in log


def _nan_in_a_feature(sample: Any) -> dict[str, Any]:
    body = split_payload(sample)
    column = body["dataframe_split"]["columns"].index("mean_radius")
    body["dataframe_split"]["data"][0][column] = None  # NaN once parsed as float64
    return body


def test_served_node_failure_gets_400_naming_the_node_without_a_trace(
    trained_model: TrainedModel, model_server: ModelServer
) -> None:
    """A NaN the model cannot take: 400 naming node 'predict' and its message; trace in the log."""
    threaded = {**split_payload(trained_model.sample), "params": {"runner": "ThreadRunner"}}
    assert invoke(model_server.url, threaded).status_code == 200  # kedro.runner is imported
    response = invoke(model_server.url, _nan_in_a_feature(trained_model.sample))

    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error_code"] == "INVALID_PARAMETER_VALUE", error
    assert "Inference node 'predict' failed: ValueError: Input X contains NaN" in error["message"]
    assert "stack_trace" not in error
    assert "Traceback" not in response.text
    assert "<dynamic-code>" not in response.text
    # Requests naming a runner import kedro.runner in the server; the server's logging stays
    # its own (no Kedro rich handler wrapping lines), so the message is one whole line.
    log = model_server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Inference node 'predict' failed: ValueError: Input X contains NaN" in log
    assert "rich_logging.yml" not in log
    assert "Traceback (most recent call last)" in log
    assert "in predict" in log  # the frames are there
    good = invoke(model_server.url, split_payload(trained_model.sample))
    assert_same_predictions(served_predictions(good), trained_model.expected())


def test_loaded_model_node_failure_names_the_node_and_keeps_the_cause(
    trained_model: TrainedModel, loaded_model: Any
) -> None:
    """In process, predict raises InferenceNodeError naming the node, caused by its exception."""
    from pipelineml.hooks.errors import InferenceNodeError

    sample = trained_model.sample.copy()
    sample.loc[sample.index[0], "mean_radius"] = float("nan")
    with pytest.raises(
        InferenceNodeError, match=r"^Inference node 'predict' failed: ValueError"
    ) as info:
        loaded_model.predict(sample)
    assert info.value.node_name == "predict"
    assert isinstance(info.value.__cause__, ValueError)
    assert isinstance(info.value, ValueError)  # callers catching ValueError still work
