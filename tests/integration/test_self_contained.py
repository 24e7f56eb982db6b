"""The logged model loads, predicts and serves in a venv without the Kedro project installed."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests._support.servers import ModelServer, start_model_server, stop_model_server
from tests._support.trained_project import (
    STRICT_THRESHOLD,
    TrainedModel,
    assert_same_predictions,
    clean_env,
    invoke,
    served_predictions,
    split_payload,
    subprocess_environ,
)

pytestmark = pytest.mark.slow

SCRIPT_TIMEOUT = 300

# Run by the venv's python, from a folder outside the project, without PYTHONPATH.
PREDICT_SCRIPT = """\
import importlib.util
import json
import multiprocessing
import os
import sys


def kedro_pipeline_model_file():
    # What a process started after the load (spawn copies sys.path) imports.
    return importlib.util.find_spec("pipelineml.hooks.model._kedro_pipeline_model").origin


def main():
    import mlflow
    import pandas as pd

    model_uri, sample_csv, dst_path, output, package, threshold, preimport = sys.argv[1:8]
    if preimport == "preimport":
        import pipelineml.hooks.model._kedro_pipeline_model
    model = mlflow.pyfunc.load_model(model_uri, dst_path=dst_path)
    import pipelineml.hooks

    sample = pd.read_csv(sample_csv)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child_file = pool.apply(kedro_pipeline_model_file)
    result = {
        "default": model.predict(sample).to_dict(orient="list"),
        "strict": model.predict(sample, params={"threshold": float(threshold)}).to_dict(
            orient="list"
        ),
        "project_origin": getattr(importlib.util.find_spec(package), "origin", None),
        "prefix": sys.prefix,
        "model_dir": os.path.realpath(dst_path),
        "pipelineml_hooks": pipelineml.hooks.__file__,
        "kedro_pipeline_model": sys.modules["pipelineml.hooks.model._kedro_pipeline_model"].__file__,
        "child_kedro_pipeline_model": child_file,
    }
    with open(output, "w", encoding="utf-8") as stream:
        json.dump(result, stream)


if __name__ == "__main__":
    main()
"""


def run_in_venv(
    python: Path, args: list[str], cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python args...`` from ``cwd`` with the venv's clean environment."""
    return subprocess.run(
        [os.fspath(python), *args],
        cwd=cwd,
        env=clean_env(python, extra_env),
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )


def predict_in_venv(
    trained_model: TrainedModel, python: Path, workdir: Path, preimport: bool
) -> dict[str, Any]:
    """What PREDICT_SCRIPT reports after loading the model in the venv from ``workdir``."""
    script = workdir / "predict.py"
    script.write_text(PREDICT_SCRIPT, encoding="utf-8")
    sample_csv = workdir / "sample.csv"
    trained_model.sample.to_csv(sample_csv, index=False)
    output = workdir / "predictions.json"
    (workdir / "model").mkdir()

    result = run_in_venv(
        python,
        [
            os.fspath(script),
            trained_model.model_uri,
            os.fspath(sample_csv),
            os.fspath(workdir / "model"),
            os.fspath(output),
            trained_model.package_name,
            str(STRICT_THRESHOLD),
            "preimport" if preimport else "fresh",
        ],
        cwd=workdir,
        extra_env={"MLFLOW_TRACKING_URI": trained_model.tracking_uri},
    )

    assert result.returncode == 0, result.stderr[-8000:]
    report: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    return report


@pytest.fixture(scope="module")
def venv_predictions(
    trained_model: TrainedModel, pipelineml_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """PREDICT_SCRIPT in a fresh interpreter: nothing of pipelineml imported before the load."""
    workdir = tmp_path_factory.mktemp("outside-the-project")
    return predict_in_venv(trained_model, pipelineml_venv, workdir, preimport=False)


@pytest.fixture(scope="module")
def preimported_predictions(
    trained_model: TrainedModel, pipelineml_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """PREDICT_SCRIPT after ``import pipelineml.hooks.model._kedro_pipeline_model`` (installed)."""
    workdir = tmp_path_factory.mktemp("preimported")
    return predict_in_venv(trained_model, pipelineml_venv, workdir, preimport=True)


@pytest.fixture(scope="module")
def venv_model_server(
    trained_model: TrainedModel, pipelineml_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModelServer]:
    """`<venv>/bin/python -m mlflow models serve` of the model (the venv's bin first on PATH)."""
    with subprocess_environ():
        server = start_model_server(
            trained_model.model_uri,
            tmp_path_factory.mktemp("venv-model-server"),
            tracking_uri=trained_model.tracking_uri,
            python=pipelineml_venv,
        )
    try:
        yield server
    finally:
        stop_model_server(server)


def test_project_package_is_not_importable_in_the_venv(
    trained_model: TrainedModel, pipelineml_venv: Path, tmp_path: Path
) -> None:
    """`import <project package>` fails in the venv, and works once its src is on the path."""
    statement = f"import {trained_model.package_name}"

    missing = run_in_venv(pipelineml_venv, ["-c", statement], cwd=tmp_path)
    # The control: the same name imports when the project's source is reachable.
    found = run_in_venv(
        pipelineml_venv,
        ["-c", statement],
        cwd=tmp_path,
        extra_env={"PYTHONPATH": os.fspath(trained_model.root / "src")},
    )

    assert missing.returncode != 0
    assert f"No module named '{trained_model.package_name}'" in missing.stderr
    assert found.returncode == 0, found.stderr


def test_venv_has_pipelineml_installed_not_linked_to_the_repository(
    preimported_predictions: dict[str, Any], pipelineml_venv: Path
) -> None:
    """The script ran in the venv, with pipelineml.hooks from its site-packages."""
    venv = pipelineml_venv.parent.parent

    assert Path(preimported_predictions["prefix"]) == venv
    assert Path(preimported_predictions["pipelineml_hooks"]).is_relative_to(venv)
    # The project's package is not installed in the venv: what imports is the model's copy.
    origin = Path(preimported_predictions["project_origin"]).resolve()
    assert origin.is_relative_to(Path(preimported_predictions["model_dir"])), origin


def test_fresh_process_runs_the_pipelineml_code_inside_the_model(
    venv_predictions: dict[str, Any], pipelineml_venv: Path
) -> None:
    """Loaded first thing in a process, the model's code/pipelineml wins over the installed one."""
    module_file = Path(venv_predictions["kedro_pipeline_model"])
    child_file = Path(venv_predictions["child_kedro_pipeline_model"])

    assert module_file.parts[-5:] == (
        "code",
        "pipelineml",
        "hooks",
        "model",
        "_kedro_pipeline_model.py",
    )
    assert child_file == module_file  # a process started afterwards runs the same copy
    assert not module_file.is_relative_to(pipelineml_venv.parent.parent)


def test_process_that_imported_pipelineml_keeps_its_own(
    trained_model: TrainedModel,
    preimported_predictions: dict[str, Any],
    pipelineml_venv: Path,
) -> None:
    """A process that imported pipelineml before the load scores with that copy, correctly."""
    module_file = Path(preimported_predictions["kedro_pipeline_model"])
    child_file = Path(preimported_predictions["child_kedro_pipeline_model"])

    assert module_file.is_relative_to(pipelineml_venv.parent.parent)
    # A process started afterwards (Dask workers...) runs the same copy, not the model's.
    assert child_file == module_file
    assert_same_predictions(
        pd.DataFrame(preimported_predictions["default"]), trained_model.expected()
    )


def test_model_predicts_like_the_nodes_without_the_project(
    trained_model: TrainedModel, venv_predictions: dict[str, Any]
) -> None:
    """load_model(...).predict in the venv equals the node's predictions, at both thresholds."""
    assert_same_predictions(pd.DataFrame(venv_predictions["default"]), trained_model.expected())
    assert_same_predictions(
        pd.DataFrame(venv_predictions["strict"]), trained_model.expected(STRICT_THRESHOLD)
    )


def test_model_serves_from_the_venv(
    trained_model: TrainedModel, venv_model_server: ModelServer
) -> None:
    """The venv's `mlflow models serve` answers the node's predictions over HTTP."""
    body = {**split_payload(trained_model.sample), "params": {"threshold": STRICT_THRESHOLD}}

    response = invoke(venv_model_server.url, body)

    assert_same_predictions(served_predictions(response), trained_model.expected(STRICT_THRESHOLD))
