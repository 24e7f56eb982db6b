"""Training fixtures of the end-to-end tests: a generated Kedro project trained with the CLI.

The project is the scikit-learn example of ``tests._support.kedro_project`` (its nodes,
catalog and parameters) with its own ``pipeline_registry.py``: the training pipeline fits a
``StandardScaler`` and a ``LogisticRegression`` and writes a metric through
``MlflowMetricsDataset``; the inference pipeline scores ``instances`` with both fitted
objects and the ``threshold`` parameter. ``kedro run --pipeline=training`` runs in a
subprocess, so the MLflow hook runs exactly as it does for a user, and the model is found
through the ``pipelineml.model_uri`` tag it puts on the run.

Expected predictions never come from MLflow: they are computed by calling the project's own
``predict`` node function on the fitted objects training persisted in ``data/06_models``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests

from tests._support.kedro_project import (
    SKLEARN_CATALOG,
    SKLEARN_NODES_PY,
    SKLEARN_PARAMETERS,
    make_kedro_project,
    run_kedro_cli,
    unique_package_name,
)
from tests._support.process import subprocess_env

MODEL_URI_TAG = "pipelineml.model_uri"
DEFAULT_THRESHOLD = float(SKLEARN_PARAMETERS["threshold"])
# A threshold far enough from the default to flip some decisions of the sample.
STRICT_THRESHOLD = 0.9
SAMPLE_ROWS = 40
HTTP_TIMEOUT = 60.0

# The sklearn example's nodes plus one that evaluates the fitted model, so that training
# also logs a metric (through MlflowMetricsDataset, like a user would).
NODES_PY = (
    SKLEARN_NODES_PY
    + '''

def evaluate(
    data: pd.DataFrame, scaler: StandardScaler, model: LogisticRegression
) -> dict[str, float]:
    """Accuracy of the fitted model on its training data."""
    features = scaler.transform(data.loc[:, FEATURES])
    return {"accuracy": float(model.score(features, data[TARGET]))}
'''
)

REGISTRY_PY = '''\
"""Pipelines of the end-to-end test project: "training" is a PipelineML."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from pipelineml.core import pipeline_ml_factory

from .nodes import evaluate, fit_model, fit_scaler, make_data, predict

LOG_MODEL_KWARGS = {log_model_kwargs!r}


def register_pipelines() -> dict[str, Pipeline]:
    """Register "training" (a PipelineML, also the default) and "inference"."""
    training = Pipeline(
        [
            node(make_data, ["params:n_rows", "params:seed"], "raw_data", name="make_data"),
            node(fit_scaler, "raw_data", "scaler", name="fit_scaler"),
            node(
                fit_model,
                ["raw_data", "scaler", "params:model_options"],
                "model",
                name="fit_model",
            ),
            node(evaluate, ["raw_data", "scaler", "model"], "metrics", name="evaluate"),
        ]
    )
    inference = Pipeline(
        [
            node(
                predict,
                ["instances", "scaler", "model", "params:threshold"],
                "predictions",
                name="predict",
            )
        ]
    )
    training_ml = pipeline_ml_factory(
        training=training,
        inference=inference,
        input_name="instances",
        log_model_kwargs=LOG_MODEL_KWARGS,
    )
    return {{"training": training_ml, "inference": inference, "__default__": training_ml}}
'''

CATALOG: dict[str, Any] = {
    **SKLEARN_CATALOG,
    "metrics": {
        "type": "pipelineml.hooks.MlflowMetricsDataset",
        "filepath": "data/08_reporting/metrics.json",
    },
}


def write_project(
    root: Path,
    *,
    tracking_uri: str | None = None,
    registered_model_name: str | None = None,
) -> tuple[Path, str]:
    """Write the end-to-end project; returns ``(root, package_name)``.

    Args:
        root: Project root.
        tracking_uri: Written to ``conf/base/mlflow.yml`` as ``server.tracking_uri``; without
            it the project has no ``mlflow.yml`` and the hook reads ``MLFLOW_TRACKING_URI``.
        registered_model_name: Passed to ``pipeline_ml_factory(log_model_kwargs=...)``.
    """
    package = unique_package_name("e2e_project")
    log_model_kwargs = (
        {"registered_model_name": registered_model_name} if registered_model_name else None
    )
    extra_conf = {"mlflow.yml": {"server": {"tracking_uri": tracking_uri}}} if tracking_uri else {}
    make_kedro_project(
        root,
        package,
        nodes_py=NODES_PY,
        pipeline_registry_py=REGISTRY_PY.format(log_model_kwargs=log_model_kwargs),
        catalog=CATALOG,
        parameters=SKLEARN_PARAMETERS,
        extra_conf=extra_conf,
    )
    return root, package


# mlflow.set_experiment() (called by other tests of the session) writes MLFLOW_EXPERIMENT_ID
# into os.environ for good; inherited by a `kedro run`, it changes where MLflow puts what the
# hook logs. PYTHONPATH could make the project importable where it must not be.
INHERITED_VARIABLES = (
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_ID",
    "PYTHONPATH",
)


@contextlib.contextmanager
def subprocess_environ() -> Iterator[pytest.MonkeyPatch]:
    """``os.environ`` without INHERITED_VARIABLES while helpers start subprocesses from it."""
    with pytest.MonkeyPatch.context() as patch:
        for name in INHERITED_VARIABLES:
            patch.delenv(name, raising=False)
        yield patch


def kedro_train(root: Path, *extra_args: str) -> subprocess.CompletedProcess[str]:
    """``python -m kedro run --pipeline=training [extra_args]`` in ``root``; must succeed."""
    with subprocess_environ():
        result = run_kedro_cli(root, "run", "--pipeline=training", *extra_args)
    assert result.returncode == 0, (
        f"kedro run failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    )
    return result


def _load_nodes(root: Path, package: str) -> ModuleType:
    # Loaded from its file under a private name: the project's package is never put on
    # this process's sys.path, so nothing here can make the model look self-contained.
    path = root / "src" / package / "nodes.py"
    spec = importlib.util.spec_from_file_location(f"_expected_{package}_nodes", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class TrainedModel:
    """One ``kedro run --pipeline=training`` and the model it logged.

    Attributes:
        root: Project root.
        package_name: The project's Python package (also its MLflow experiment name).
        tracking_uri: Where the run went.
        experiment_id: The run's experiment.
        run_id: The MLflow run.
        model_uri: The run's ``pipelineml.model_uri`` tag (``models:/m-...``).
        sample: Rows of the training data to score (features and target, as training saw).
        fitted: The scaler and model training persisted, read right after the run.
        nodes: The project's ``nodes`` module, loaded from its file.
    """

    root: Path
    package_name: str
    tracking_uri: str
    experiment_id: str
    run_id: str
    model_uri: str
    sample: pd.DataFrame
    fitted: tuple[Any, Any]
    nodes: ModuleType

    @property
    def runs_uri(self) -> str:
        """``runs:/<run_id>/model``, the MLflow 2 way to name the same model."""
        return f"runs:/{self.run_id}/model"

    def expected(self, threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
        """The project's ``predict`` node called on ``sample`` and the fitted objects."""
        scaler, model = self.fitted
        result: pd.DataFrame = self.nodes.predict(self.sample, scaler, model, threshold)
        return result


def training_runs(tracking_uri: str, experiment_name: str) -> list[Any]:
    """Every run of ``experiment_name`` (oldest first); empty when it does not exist."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    runs = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time ASC"], max_results=100
    )
    return list(runs)


def collect_trained_model(root: Path, package: str, tracking_uri: str, run: Any) -> TrainedModel:
    """Describe ``run`` (a training run of the project) and capture what training fitted."""
    tags = dict(run.data.tags)
    assert MODEL_URI_TAG in tags, f"run {run.info.run_id} logged no model: {tags}"
    models_dir = root / "data" / "06_models"
    fitted = (
        pickle.loads((models_dir / "scaler.pkl").read_bytes()),
        pickle.loads((models_dir / "model.pkl").read_bytes()),
    )
    sample = pd.read_csv(root / "data" / "01_raw" / "raw_data.csv").head(SAMPLE_ROWS)
    return TrainedModel(
        root=root,
        package_name=package,
        tracking_uri=tracking_uri,
        experiment_id=str(run.info.experiment_id),
        run_id=run.info.run_id,
        model_uri=tags[MODEL_URI_TAG],
        sample=sample,
        fitted=fitted,
        nodes=_load_nodes(root, package),
    )


def train_project(
    root: Path,
    tracking_uri: str,
    *,
    via: str = "mlflow.yml",
    registered_model_name: str | None = None,
) -> TrainedModel:
    """Write the project, train it once through the Kedro CLI and return its only run.

    Args:
        root: Project root.
        tracking_uri: The tracking store or server.
        via: ``"mlflow.yml"`` (``server.tracking_uri``) or ``"env"``
            (``MLFLOW_TRACKING_URI`` in the CLI's environment).
        registered_model_name: Passed to ``pipeline_ml_factory(log_model_kwargs=...)``.
    """
    assert via in {"mlflow.yml", "env"}, via
    root, package = write_project(
        root,
        tracking_uri=tracking_uri if via == "mlflow.yml" else None,
        registered_model_name=registered_model_name,
    )
    with pytest.MonkeyPatch.context() as patch:
        if via == "env":
            patch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        else:
            # mlflow.yml must be what decides, whatever this process inherited.
            patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("MLFLOW_REGISTRY_URI", raising=False)
        kedro_train(root)
    runs = training_runs(tracking_uri, package)
    assert len(runs) == 1, [r.info for r in runs]
    return collect_trained_model(root, package, tracking_uri, runs[0])


@contextlib.contextmanager
def tracking(uri: str) -> Iterator[None]:
    """Point this process's MLflow tracking and registry URIs at ``uri`` for the block.

    ``mlflow.set_tracking_uri`` also writes ``MLFLOW_TRACKING_URI`` into ``os.environ``;
    both the globals and the environment are put back afterwards.
    """
    import mlflow

    is_set = mlflow.is_tracking_uri_set()  # type: ignore[no-untyped-call]
    previous = mlflow.get_tracking_uri() if is_set else None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.delenv("MLFLOW_REGISTRY_URI", raising=False)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            yield
        finally:
            mlflow.set_registry_uri(None)  # type: ignore[arg-type]
            mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]


def load_and_predict(
    model_uri: str, tracking_uri: str, data: pd.DataFrame, dst: Path, **predict: Any
) -> pd.DataFrame:
    """``mlflow.pyfunc.load_model(model_uri).predict(data, **predict)`` against ``tracking_uri``."""
    import mlflow

    dst.mkdir(parents=True, exist_ok=True)
    with tracking(tracking_uri):
        model = mlflow.pyfunc.load_model(model_uri, dst_path=os.fspath(dst))
        result: pd.DataFrame = model.predict(data, **predict)
    return result


# --- comparing predictions ------------------------------------------------------------------


def assert_same_predictions(actual: Any, expected: pd.DataFrame) -> None:
    """Same columns, same 0/1 decisions, scores equal to within float rounding."""
    frame = pd.DataFrame(actual)
    assert list(frame.columns) == ["score", "prediction"], frame.columns
    assert len(frame) == len(expected)
    assert np.allclose(
        frame["score"].to_numpy(dtype=float),
        expected["score"].to_numpy(dtype=float),
        rtol=1e-9,
        atol=1e-12,
    )
    assert frame["prediction"].astype(int).tolist() == expected["prediction"].astype(int).tolist()


# --- HTTP against `mlflow models serve` -------------------------------------------------------


def split_payload(data: pd.DataFrame) -> dict[str, Any]:
    """``{"dataframe_split": ...}`` of ``data`` (JSON-native values)."""
    return {"dataframe_split": json.loads(data.to_json(orient="split", index=False))}


def records_payload(data: pd.DataFrame) -> dict[str, Any]:
    """``{"dataframe_records": ...}`` of ``data`` (JSON-native values)."""
    return {"dataframe_records": json.loads(data.to_json(orient="records"))}


def invoke(url: str, body: Mapping[str, Any] | bytes) -> requests.Response:
    """POST ``body`` (a JSON document, or raw bytes sent as JSON) to ``<url>/invocations``."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    with requests.Session() as session:
        # Never through a proxy from the environment: the server is on 127.0.0.1.
        session.trust_env = False
        return session.post(
            f"{url}/invocations",
            data=data,
            headers={"Content-Type": "application/json"},
            timeout=HTTP_TIMEOUT,
        )


def served_predictions(response: requests.Response) -> pd.DataFrame:
    """The predictions of a 200 answer as a DataFrame."""
    assert response.status_code == 200, response.text
    return pd.DataFrame(response.json()["predictions"])


def invoke_concurrently(
    url: str, bodies: Sequence[Mapping[str, Any]], workers: int = 6
) -> list[requests.Response]:
    """POST every body from ``workers`` threads at once; answers in the order of ``bodies``."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda body: invoke(url, body), bodies))


# --- a virtualenv without the project ---------------------------------------------------------

PACKAGES_DIR = Path(__file__).resolve().parents[2] / "packages"
# What the node functions and their datasets need, pinned to this environment's versions
# so that the pickles training wrote load exactly as they do here.
VENV_LIBRARIES = (
    "pandas",
    "numpy",
    "scikit-learn",
    "mlflow",
    "cloudpickle",
    "kedro",
)
VENV_KEDRO_DATASETS = "kedro-datasets[pandas-csvdataset,pickle-pickledataset]"
VENV_INSTALL_TIMEOUT = 900


def clean_env(python: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The quiet environment of ``python`` (its bin first on PATH) without INHERITED_VARIABLES."""
    env = subprocess_env(python)
    for name in INHERITED_VARIABLES:
        env.pop(name, None)
    env.update(extra or {})
    return env


def make_venv(where: Path) -> Path:
    """Create a venv with the three pipelineml packages and the nodes' libraries; return its python.

    The packages are installed from ``packages/*`` (built as wheels, not editable); nothing
    of any generated Kedro project is installed. uv makes the venv (from the interpreter
    this test venv was made from) and installs into it: pip took two minutes here, most of
    it resolving; ``--reinstall-package`` rebuilds our packages from today's sources, since
    uv's cache of a local folder is keyed on its pyproject.toml alone.
    """
    uv = shutil.which("uv", path=os.fspath(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed in the test environment (noxfile TEST_DEPS has it)")
    info = sys.version_info
    base = Path(sys.base_prefix) / "bin" / f"python{info.major}.{info.minor}"
    subprocess.run(
        [uv, "venv", "--quiet", "--python", os.fspath(base), os.fspath(where)],
        check=True,
        timeout=120,
        capture_output=True,
    )
    python = where / "bin" / "python"
    pins = [f"{name}=={version(name)}" for name in VENV_LIBRARIES]
    pins.append(f"{VENV_KEDRO_DATASETS}=={version('kedro-datasets')}")
    ours = ("core", "runners", "hooks")
    command = [
        uv,
        "pip",
        "install",
        "--quiet",
        "--python",
        os.fspath(python),
        *(arg for name in ours for arg in ("--reinstall-package", f"pipelineml-{name}")),
        *(os.fspath(PACKAGES_DIR / name) for name in ours),
        *pins,
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=VENV_INSTALL_TIMEOUT,
        env=clean_env(python),
        cwd=where,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"Installing pipelineml into {where} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return python
