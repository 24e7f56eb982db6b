"""A loaded KedroPipelineModel survives pickling; the logged python_model.pkl holds no data."""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path
from typing import Any

import cloudpickle
import joblib
import mlflow
import pandas as pd
import pytest
from mlflow.pyfunc.model import PythonModelContext

from pipelineml.hooks import KedroPipelineModel
from tests._support.toy_model import expected, frame, make_catalog, toy_pipeline_ml, trained_catalog


def _predict(model: Any, data: pd.DataFrame) -> pd.DataFrame:
    # Module level, so that a spawned process can import it.
    result: pd.DataFrame = model.predict(data)
    return result


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_loaded_model_scores_after_a_pickle_round_trip(logged_toy: Path, dumps: Any) -> None:
    """A model from mlflow.pyfunc.load_model, pickled and unpickled, still scores."""
    loaded = mlflow.pyfunc.load_model(str(logged_toy))

    restored = pickle.loads(dumps(loaded))

    pd.testing.assert_frame_equal(restored.predict(frame([1, 6])), expected([1, 6]))
    pd.testing.assert_frame_equal(
        restored.predict(frame([1, 6]), params={"threshold": 0.0}),
        expected([1, 6], threshold=0.0),
    )


def test_loaded_model_scores_in_a_spawned_process(logged_toy: Path) -> None:
    """multiprocessing (spawn) pickles the loaded model into a fresh interpreter that scores."""
    loaded = mlflow.pyfunc.load_model(str(logged_toy))

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result = pool.apply(_predict, (loaded, frame([0, 3, 8])))

    pd.testing.assert_frame_equal(result, expected([0, 3, 8]))


def test_loaded_model_scores_in_joblib_workers(logged_toy: Path) -> None:
    """joblib's process backend (loky) sends the loaded model to its workers, which score."""
    loaded = mlflow.pyfunc.load_model(str(logged_toy))
    chunks = [[0, 1], [5, 9]]

    results = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_predict)(loaded, frame(chunk)) for chunk in chunks
    )

    for result, chunk in zip(results, chunks, strict=True):
        pd.testing.assert_frame_equal(result, expected(chunk))


def test_a_model_logged_from_code_has_no_pickle_of_pipelineml_or_kedro(logged_toy: Path) -> None:
    """No python_model.pkl: the loader, the spec and the artifacts' own files only."""
    assert not (logged_toy / "python_model.pkl").exists()
    assert (logged_toy / "pipelineml_loader.py").is_file()
    pickles = sorted(p.name for p in logged_toy.rglob("*.pkl"))
    assert pickles == ["model.pkl", "scaler.pkl"]  # the fitted objects, in their datasets' format


def test_model_built_from_a_catalog_never_pickles_its_loaded_data(tmp_path: Path) -> None:
    """A model with a training catalog drops loaded artifacts from its pickle, even once loaded."""
    model = KedroPipelineModel(toy_pipeline_ml(), trained_catalog(tmp_path / "project"))
    paths = model.extract_pipeline_artifacts(tmp_path / "parameters")
    model.load_context(PythonModelContext(artifacts=paths, model_config={}))

    restored = pickle.loads(cloudpickle.dumps(model))

    assert restored._loaded is None
    assert model.predict(None, frame([2])).equals(expected([2]))


def test_unloaded_model_still_pickles_without_a_catalog(tmp_path: Path) -> None:
    """A model that was never loaded pickles (as at logging time) with neither catalog nor data."""
    model = KedroPipelineModel(toy_pipeline_ml(), make_catalog(tmp_path))

    restored = pickle.loads(pickle.dumps(model))

    assert restored._catalog is None
    assert restored._loaded is None
