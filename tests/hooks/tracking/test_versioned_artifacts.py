"""Versioned inference inputs: the model holds exactly the version its run saved, or pinned.

Real Kedro projects on disk with ``versioned: true`` on a fitted object, run through
``KedroSession`` or ``kedro run``: the very first training run passes the pre-flight, the
model records the version it holds, a newer version saved by someone else before the model
is logged does not get in, a later run does not change an earlier model, and a version
pinned with ``--load-versions`` for an input training does not save is the one logged.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml

from tests._support.kedro_project import make_kedro_project, run_in_session, run_kedro_cli
from tests._support.mlflow_store import all_logged_models, sqlite_uri
from tests._support.toy_project import CATALOG, expected_scores, make_project

pytestmark = pytest.mark.slow

VERSIONED_MODEL = {
    "type": "pickle.PickleDataset",
    "filepath": "data/06_models/model.pkl",
    "versioned": True,
}

# A project hook standing for another process: after the last training node, it saves a
# newer version of the model (another offset) with a catalog of its own.
RIVAL_SETTINGS = '''\
"""A rival writer of the versioned model, between training and logging."""

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog


class RivalWriter:
    @hook_impl
    def after_node_run(self, node, catalog):
        if node.name == "evaluate":
            rival = DataCatalog.from_config(
                {"model": {"type": "pickle.PickleDataset",
                           "filepath": "data/06_models/model.pkl", "versioned": True}},
                save_version="9999-12-31T23.59.59.999Z",
            )
            rival.save("model", {"offset": 100.0})


HOOKS = (RivalWriter(),)
'''


def _versioned_project(root: Path, settings_py: str | None = None) -> Path:
    make_project(root, settings_py=settings_py)
    catalog = {**CATALOG, "model": VERSIONED_MODEL}
    (root / "conf" / "base" / "catalog.yml").write_text(yaml.safe_dump(catalog))
    return root


def _metadata(model: Any, tracking_uri: str, folder: Path) -> dict[str, Any]:
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{model.model_id}", dst_path=str(folder), tracking_uri=tracking_uri
    )
    return dict(yaml.safe_load((Path(local) / "MLmodel").read_text())["metadata"]["pipelineml"])


def _score(model: Any, rows: list[float]) -> list[float]:
    loaded = mlflow.pyfunc.load_model(f"models:/{model.model_id}")
    return list(loaded.predict(pd.DataFrame({"x": rows}))["score"])


def test_first_run_with_a_versioned_artifact_logs_the_version_it_saved(
    tmp_path: Path, tracking_env: str
) -> None:
    """The very first training run passes the pre-flight and records its version; a rival
    version saved before logging is not the one in the model."""
    root = _versioned_project(tmp_path / "project", settings_py=RIVAL_SETTINGS)

    run_in_session(root, ["training"])

    (model,) = all_logged_models(tracking_env)
    version = _metadata(model, tracking_env, tmp_path / "m")["artifacts"]["model"]["version"]
    versions = sorted(p.name for p in (root / "data/06_models/model.pkl").iterdir())
    assert versions == [version, "9999-12-31T23.59.59.999Z"]  # the rival's is the latest
    assert _score(model, [0.0, 5.0]) == pytest.approx(expected_scores([0.0, 5.0]))


def test_a_later_run_never_changes_an_earlier_model(tmp_path: Path, tracking_env: str) -> None:
    """Two runs, two versions: each model keeps scoring as its own run trained it."""
    root = _versioned_project(tmp_path / "project")

    run_in_session(root, ["training"])
    run_in_session(root, ["training"], extra_params={"alpha": 4.0})

    first, second = sorted(all_logged_models(tracking_env), key=lambda m: m.creation_timestamp)
    first_version = _metadata(first, tracking_env, tmp_path / "1")["artifacts"]["model"]
    second_version = _metadata(second, tracking_env, tmp_path / "2")["artifacts"]["model"]
    assert first_version["version"] < second_version["version"]
    assert _score(first, [1.0]) == pytest.approx(expected_scores([1.0], alpha=1.0))
    assert _score(second, [1.0]) == pytest.approx(expected_scores([1.0], alpha=4.0))


PINNED_NODES = """\
import pandas as pd


def fit(raw: pd.DataFrame, bias: float) -> dict:
    return {"slope": float(raw["x"].max()), "bias": bias}


def predict(instances: pd.DataFrame, model: dict, bias: float) -> pd.DataFrame:
    return pd.DataFrame({"score": instances["x"] * 0 + model["bias"] + bias})
"""

PINNED_REGISTRY = """\
from kedro.pipeline import Pipeline, node

from pipelineml.core import pipeline_ml_factory

from .nodes import fit, predict


def register_pipelines():
    training = pipeline_ml_factory(
        training=Pipeline([node(fit, ["raw", "bias"], "model", name="fit")]),
        inference=Pipeline([node(predict, ["instances", "model", "bias"], "scores", name="p")]),
        input_name="instances",
        log_model_kwargs={"pip_requirements": ["pandas"]},
    )
    return {"__default__": training, "training": training}
"""


def test_a_pinned_version_of_an_input_training_only_reads_is_the_one_logged(
    tmp_path: Path,
) -> None:
    """``kedro run --load-versions=bias:<old>``: the model holds and uses that version."""
    bias = {
        "type": "pickle.PickleDataset",
        "filepath": "data/06_models/bias.pkl",
        "versioned": True,
    }
    root = make_kedro_project(
        tmp_path / "project",
        nodes_py=PINNED_NODES,
        pipeline_registry_py=PINNED_REGISTRY,
        catalog={
            "raw": {"type": "pandas.CSVDataset", "filepath": "data/01_raw/raw.csv"},
            "instances": {"type": "pandas.CSVDataset", "filepath": "data/01_raw/raw.csv"},
            "model": {"type": "pickle.PickleDataset", "filepath": "data/06_models/model.pkl"},
            "bias": bias,
        },
    )
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(root / "data/01_raw/raw.csv", index=False)
    for version, value in (("2026-01-01T00.00.00.000Z", 1.0), ("2026-02-01T00.00.00.000Z", 2.0)):
        target = root / "data/06_models/bias.pkl" / version / "bias.pkl"
        target.parent.mkdir(parents=True)
        target.write_bytes(pickle.dumps(value))

    done = run_kedro_cli(
        root, "run", "--pipelines=training", "--load-versions=bias:2026-01-01T00.00.00.000Z"
    )

    assert done.returncode == 0, done.stdout + done.stderr
    tracking_uri = sqlite_uri(root / "mlflow.db")
    (model,) = all_logged_models(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)  # models:/m-... resolve in MLflow's current store
    sources = _metadata(model, tracking_uri, tmp_path / "m")["artifacts"]
    assert sources["bias"]["version"] == "2026-01-01T00.00.00.000Z"
    # model["bias"] (fitted from the pinned bias) + the pinned bias itself: 1 + 1.
    assert _score(model, [5.0]) == [2.0]
