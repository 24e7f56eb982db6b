"""`mlflow models predict --env-manager local` scores the logged model like the project's nodes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests._support.trained_project import (
    STRICT_THRESHOLD,
    TrainedModel,
    assert_same_predictions,
    clean_env,
    split_payload,
)

pytestmark = pytest.mark.slow

PREDICT_TIMEOUT = 300


def models_predict(
    trained_model: TrainedModel,
    model_uri: str,
    input_path: Path,
    content_type: str,
    workdir: Path,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run `mlflow models predict` (this venv's bin first on PATH) from ``workdir``."""
    output = workdir / "out.json"
    env = clean_env(
        Path(sys.executable),
        {"MLFLOW_TRACKING_URI": trained_model.tracking_uri, "TMPDIR": os.fspath(workdir)},
    )
    command = [
        os.fspath(Path(sys.executable).parent / "mlflow"),
        "models",
        "predict",
        "-m",
        model_uri,
        "-i",
        os.fspath(input_path),
        "-t",
        content_type,
        "--env-manager",
        "local",
        "-o",
        os.fspath(output),
    ]
    result = subprocess.run(
        command,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=PREDICT_TIMEOUT,
        check=False,
    )
    return result, output


def read_predictions(output: Path) -> pd.DataFrame:
    """The ``{"predictions": [...]}`` file written by ``-o``."""
    return pd.DataFrame(json.loads(output.read_text(encoding="utf-8"))["predictions"])


@pytest.mark.parametrize("uri_kind", ["logged-model", "runs"])
def test_csv_input_predicts_like_the_nodes(
    trained_model: TrainedModel, tmp_path: Path, uri_kind: str
) -> None:
    """-i x.csv -t csv writes the node's predictions to -o out.json."""
    model_uri = trained_model.model_uri if uri_kind == "logged-model" else trained_model.runs_uri
    csv = tmp_path / "x.csv"
    trained_model.sample.to_csv(csv, index=False)

    result, output = models_predict(trained_model, model_uri, csv, "csv", tmp_path)

    assert result.returncode == 0, result.stderr[-8000:]
    assert_same_predictions(read_predictions(output), trained_model.expected())


def test_json_input_with_params_changes_decisions_like_the_nodes(
    trained_model: TrainedModel, tmp_path: Path
) -> None:
    """-t json with "params": {"threshold": 0.9} gives the node's decisions at 0.9."""
    request = tmp_path / "x.json"
    body = {**split_payload(trained_model.sample), "params": {"threshold": STRICT_THRESHOLD}}
    request.write_text(json.dumps(body), encoding="utf-8")

    result, output = models_predict(
        trained_model, trained_model.model_uri, request, "json", tmp_path
    )

    assert result.returncode == 0, result.stderr[-8000:]
    assert_same_predictions(read_predictions(output), trained_model.expected(STRICT_THRESHOLD))


def test_unknown_runner_fails_the_command_naming_it(
    trained_model: TrainedModel, tmp_path: Path
) -> None:
    """A runner the model does not allow in "params" exits non-zero, says which runners it
    allows, and writes no output."""
    request = tmp_path / "x.json"
    body = {**split_payload(trained_model.sample), "params": {"runner": "ThredRunner"}}
    request.write_text(json.dumps(body), encoding="utf-8")

    result, output = models_predict(
        trained_model, trained_model.model_uri, request, "json", tmp_path
    )

    assert result.returncode != 0
    # Kedro's rich logging wraps long lines.
    stderr = " ".join(result.stderr.split())
    assert "Runner 'ThredRunner' is not allowed for this model" in stderr
    assert "Allowed runners: SequentialRunner, ThreadRunner." in stderr
    assert not output.exists()
