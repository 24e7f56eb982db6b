"""A generated Kedro project for the pre-flight, outcome and interruption tests.

``training`` (also ``__default__``) is a PipelineML: ``make_data`` -> ``raw_data`` (CSV),
``fit_scaler`` -> ``scaler``, ``fit_model`` -> ``model``. Inference: ``predict(instances,
scaler, model, params:threshold)`` -> ``scores`` -> ``finish`` (a ``SlowToPickle`` object)
-> ``predictions``. ``instances`` reads the file ``raw_data`` is saved to, so a fresh
project has its signature sample once training has written it.

Environment variables steer the run from the test (they reach the ``kedro run``
subprocess):

* ``PIPELINEML_TEST_PAUSE=<stage>``: at that stage the process writes
  ``data/paused-<stage>`` and sleeps, so a test can send a signal at a known moment.
  Stages: ``registry`` (loading the pipelines, before the MLflow run exists),
  ``make_data`` (inside the first training node), ``pickle`` (while MLflow pickles the
  model, i.e. during model logging, once its LoggedModel exists).
* ``PIPELINEML_TEST_FAIL_PREDICT=1``: ``predict`` raises, so the sample prediction made
  while logging the model fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests._support.kedro_project import kedro_cli_env, make_kedro_project
from tests._support.process import interpreter, launch

NODES_PY = '''\
"""Nodes of the generated project."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd


def pause(stage: str) -> None:
    """Write data/paused-<stage> and sleep when PIPELINEML_TEST_PAUSE names the stage."""
    if os.environ.get("PIPELINEML_TEST_PAUSE") == stage:
        Path("data", f"paused-{stage}").write_text(stage)
        time.sleep(120)


def make_data(n_rows: int) -> pd.DataFrame:
    """Rows 0, 1, ... n_rows - 1 in column x."""
    pause("make_data")
    return pd.DataFrame({"x": [float(i) for i in range(n_rows)]})


def fit_scaler(data: pd.DataFrame) -> float:
    """The mean of x."""
    return float(data["x"].mean())


def fit_model(data: pd.DataFrame, scaler: float, alpha: float) -> dict[str, float]:
    """An offset."""
    return {"offset": float(alpha)}


def predict(
    instances: pd.DataFrame, scaler: float, model: dict[str, float], threshold: float
) -> pd.DataFrame:
    """score = x - scaler + offset; fails on purpose when asked to."""
    if os.environ.get("PIPELINEML_TEST_FAIL_PREDICT"):
        raise RuntimeError("predict failed on purpose")
    score = (instances["x"] - scaler + model["offset"]).astype(float)
    return pd.DataFrame({"score": score, "positive": score > threshold}, index=instances.index)


class SlowToPickle:
    """A pass-through node whose pickling (when MLflow saves the model) can pause."""

    def __call__(self, scores: pd.DataFrame) -> pd.DataFrame:
        return scores

    def __reduce__(self) -> tuple[type, tuple[()]]:
        pause("pickle")
        return (SlowToPickle, ())
'''

REGISTRY_PY = '''\
"""Pipelines of the generated project."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from pipelineml.core import pipeline_ml_factory

from .nodes import SlowToPickle, fit_model, fit_scaler, make_data, pause, predict

KPM_KWARGS = {kpm_kwargs!r}
LOG_MODEL_KWARGS = {log_model_kwargs!r}


def register_pipelines() -> dict[str, Pipeline]:
    """training (a PipelineML, also __default__)."""
    pause("registry")
    training = pipeline_ml_factory(
        training=Pipeline(
            [
                node(make_data, "params:n_rows", "raw_data", name="make_data"),
                node(fit_scaler, "raw_data", "scaler", name="fit_scaler"),
                node(fit_model, ["raw_data", "scaler", "params:alpha"], "model", name="fit_model"),
            ]
        ),
        inference=Pipeline(
            [
                node(
                    predict,
                    ["instances", "scaler", "model", "params:threshold"],
                    "scores",
                    name="predict",
                ),
                node(SlowToPickle(), "scores", "predictions", name="finish"),
            ]
        ),
        input_name="instances",
        kpm_kwargs=KPM_KWARGS,
        log_model_kwargs=LOG_MODEL_KWARGS,
    )
    return {{"__default__": training, "training": training}}
'''

CATALOG: dict[str, dict[str, Any]] = {
    "raw_data": {"type": "pandas.CSVDataset", "filepath": "data/01_raw/raw_data.csv"},
    "instances": {"type": "pandas.CSVDataset", "filepath": "data/01_raw/raw_data.csv"},
    "scaler": {"type": "pickle.PickleDataset", "filepath": "data/06_models/scaler.pkl"},
    "model": {"type": "pickle.PickleDataset", "filepath": "data/06_models/model.pkl"},
}

PARAMETERS: dict[str, Any] = {"n_rows": 20, "alpha": 1.0, "threshold": 0.5}

#: The first file training writes: it must not exist after a run refused by the pre-flight.
TRAINING_OUTPUT = Path("data", "01_raw", "raw_data.csv")

#: Starts ``python -m kedro`` with SIGINT handled as in a terminal. A process started
#: from a non-interactive shell's background job inherits SIGINT ignored (and Python then
#: leaves it ignored); a user pressing Ctrl-C has it raise KeyboardInterrupt.
KEDRO_WITH_SIGINT = (
    "import runpy, signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "sys.argv = ['kedro', *sys.argv[1:]]\n"
    "runpy.run_module('kedro', run_name='__main__', alter_sys=True)\n"
)


def make_run_project(
    root: Path,
    *,
    catalog: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    kpm_kwargs: Mapping[str, Any] | None = None,
    log_model_kwargs: Mapping[str, Any] | None = None,
    mlflow_yml: Mapping[str, Any] | None = None,
) -> Path:
    """Write the project under ``root``; ``catalog``/``parameters`` replace the defaults."""
    return make_kedro_project(
        root,
        nodes_py=NODES_PY,
        pipeline_registry_py=REGISTRY_PY.format(
            kpm_kwargs=dict(kpm_kwargs or {}), log_model_kwargs=dict(log_model_kwargs or {})
        ),
        catalog=CATALOG if catalog is None else catalog,
        parameters=PARAMETERS if parameters is None else parameters,
        extra_conf={"mlflow.yml": mlflow_yml} if mlflow_yml is not None else None,
    )


def start_kedro_run(root: Path, log_path: Path, extra_env: Mapping[str, str], *args: str) -> Any:
    """``kedro run <args>`` in ``root`` as its own process group, output to ``log_path``."""
    env = {**kedro_cli_env(root), **extra_env}
    return launch(
        [os.fspath(interpreter()), "-c", KEDRO_WITH_SIGINT, "run", *args],
        log_path=log_path,
        env=env,
        cwd=root,
    )


def wait_for(path: Path, proc: subprocess.Popen[Any], timeout: float = 120) -> None:
    """Wait until ``path`` exists; fail if ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"kedro run exited ({proc.returncode}) before {path.name}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout} s")
        time.sleep(0.1)


def interrupt(proc: subprocess.Popen[Any], signum: signal.Signals, timeout: float = 60) -> int:
    """Send ``signum`` to ``proc`` alone and return its exit status."""
    proc.send_signal(signum)
    return proc.wait(timeout)
