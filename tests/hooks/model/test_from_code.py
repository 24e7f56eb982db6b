"""Models logged from code: a loader, the pipeline as data, the code as source; no pickle.

Each model here is logged with ``log_pipeline_model`` into a SQLite store of the test's own
and read back as files; loading happens in this process or, where the point is a process
that never saw pipelineml, in a fresh interpreter.
"""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from kedro.pipeline import Pipeline, node

from pipelineml.core import pipeline_ml_factory
from pipelineml.hooks import KedroPipelineModelError, log_pipeline_model
from pipelineml.runners import CopyPolicy, ThreadRunner
from tests._support import toy_nodes
from tests._support.process import interpreter, subprocess_env
from tests._support.toy_model import (
    FAST_LOG,
    expected,
    frame,
    toy_pipeline_ml,
    trained_catalog,
    training_pipeline,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _no_project_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Kedro project is configured here: an earlier test of this process may have left
    its package in ``kedro.framework.project.PACKAGE_NAME``, which the model would then
    carry as the project's code."""
    from kedro.framework import project

    monkeypatch.setattr(project, "PACKAGE_NAME", None, raising=False)


def _logged(tmp_path: Path, pipeline: Any = None, **kwargs: Any) -> Path:
    catalog = trained_catalog(tmp_path / "project")
    info = log_pipeline_model(pipeline or toy_pipeline_ml(), catalog, **{**FAST_LOG, **kwargs})
    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=info.model_uri, dst_path=str(tmp_path / "model")
        )
    )


def _spec(model_dir: Path) -> dict[str, Any]:
    return dict(json.loads((model_dir / "artifacts" / "pipeline.json").read_text()))


def test_the_spec_describes_the_inference_pipeline_as_data(tmp_path: Path) -> None:
    """Nodes by import path, datasets as configs, parameters as values, and the rest."""
    spec = _spec(_logged(tmp_path))

    assert spec["format"] == 1
    assert spec["input_name"] == "instances"
    assert spec["output"] == "predictions"
    (predict,) = spec["nodes"]
    assert predict["function"] == "tests._support.toy_nodes:predict"
    assert predict["inputs"] == ["instances", "scaler", "model", "params:threshold"]
    assert predict["outputs"] == "predictions"
    assert predict["name"] == "predict"
    assert sorted(spec["datasets"]) == ["model", "scaler"]
    assert spec["datasets"]["model"]["config"] == {
        "type": "kedro_datasets.pickle.pickle_dataset.PickleDataset",
        "filepath": "artifacts/model.pkl",  # the model's own copy, re-pointed when it loads
        "backend": "pickle",
        "load_args": None,
        "save_args": None,
    }
    assert spec["datasets"]["model"]["location"].endswith("project/model.pkl")
    assert spec["parameters"] == {"params:threshold": 2.0}
    assert spec["runner"] is None
    assert spec["copy_policy"] == {"modes": None, "default": "assign"}
    assert spec["code_modules"] == ["tests"]
    assert set(spec["integrity"]) == {"artifacts", "code", "loader", "spec"}
    assert "pipelineml/hooks/model/_spec.py" in spec["integrity"]["code"]
    assert "tests/_support/toy_nodes.py" in spec["integrity"]["code"]


def test_logging_passes_no_python_object_to_mlflow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """MLflow's CloudPickle warning ("Passing a Python object as python_model") is gone."""
    with caplog.at_level(logging.WARNING):
        _logged(tmp_path)
    assert not [r for r in caplog.records if "CloudPickle" in r.getMessage()]


SCORE = textwrap.dedent(
    """
    import json, os, sys
    import mlflow.pyfunc
    import pandas as pd
    model = mlflow.pyfunc.load_model(sys.argv[1])
    frame = pd.DataFrame({"x": [1.0, 8.0]})
    print(json.dumps({
        "default": model.predict(frame)["score"].tolist(),
        "strict": model.predict(frame, params={"threshold": 0.0})["positive"].tolist(),
    }))
    """
)


def test_loads_and_scores_with_pickle_deserialization_disallowed(tmp_path: Path) -> None:
    """MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false, in a process that never imported
    pipelineml, the tests' code only reachable from the model's own folder."""
    model_dir = _logged(tmp_path)
    done = subprocess.run(
        [str(interpreter()), "-c", SCORE, str(model_dir)],
        cwd=tmp_path,
        env=subprocess_env(extra={"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    scores = json.loads(done.stdout.strip().splitlines()[-1])
    assert scores["default"] == expected([1.0, 8.0])["score"].tolist()
    assert scores["strict"] == expected([1.0, 8.0], threshold=0.0)["positive"].tolist()


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda d: d / "artifacts" / "pipeline.json", "pipeline spec"),
        (lambda d: d / "code" / "tests" / "_support" / "toy_nodes.py", "toy_nodes.py changed"),
        (lambda d: d / "code" / "pipelineml" / "hooks" / "errors.py", "errors.py changed"),
        (lambda d: d / "pipelineml_loader.py", "loader"),
    ],
    ids=["spec", "project code", "pipelineml code", "loader"],
)
def test_a_changed_file_is_refused_naming_it(tmp_path: Path, damage: Any, named: str) -> None:
    """The spec, the code and the loader are checked like the artifacts."""
    model_dir = _logged(tmp_path)
    target = damage(model_dir)
    # Still valid JSON or Python, only different: what is refused is the change itself.
    if target.suffix == ".json":
        spec = json.loads(target.read_text())
        spec["parameters"]["params:threshold"] = 99.0
        target.write_text(json.dumps(spec))
    else:
        target.write_text(target.read_text() + "\n# edited\n")
    with pytest.raises(KedroPipelineModelError, match=named):
        mlflow.pyfunc.load_model(str(model_dir))


def test_byte_code_caches_do_not_count_as_changes(tmp_path: Path) -> None:
    """Python writes __pycache__ into code/ when it imports from there: still loads."""
    model_dir = _logged(tmp_path)
    cache = model_dir / "code" / "tests" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "x.cpython-311.pyc").write_bytes(b"cache")
    loaded = mlflow.pyfunc.load_model(str(model_dir))
    pd.testing.assert_frame_equal(loaded.predict(frame([3.0])), expected([3.0]))


def test_runner_and_copy_policy_come_back_with_their_settings(tmp_path: Path) -> None:
    """A ThreadRunner of 3 threads with a rule of its own, and the model's copy policy."""
    runner = ThreadRunner(max_workers=3, copy_policy={"model": "deepcopy"})
    pml = toy_pipeline_ml(kpm_kwargs={"runner": runner, "copy_mode": {"model": "copy"}})
    loaded = mlflow.pyfunc.load_model(str(_logged(tmp_path, pml))).unwrap_python_model()

    assert isinstance(loaded.runner, ThreadRunner)
    assert loaded.runner.max_workers == 3
    assert loaded.runner.copy_policy == CopyPolicy({"model": "deepcopy"})
    assert loaded.copy_policy == CopyPolicy({"model": "copy"}, default="assign")
    pd.testing.assert_frame_equal(loaded.predict(None, frame([2.0])), expected([2.0]))


def test_a_partial_of_an_importable_function_is_data_too(tmp_path: Path) -> None:
    """functools.partial with plain arguments is stored as the function plus its arguments."""
    inference = Pipeline(
        [
            node(
                functools.partial(toy_nodes.predict, threshold=-100.0),
                ["instances", "scaler", "model"],
                "predictions",
                name="predict",
            )
        ]
    )
    pml = pipeline_ml_factory(training_pipeline(), inference, input_name="instances")
    model_dir = _logged(tmp_path, pml)
    (spec_node,) = _spec(model_dir)["nodes"]
    assert spec_node["kwargs"] == {"threshold": -100.0}
    loaded = mlflow.pyfunc.load_model(str(model_dir))
    assert loaded.predict(frame([0.0]))["positive"].tolist() == [True]


def test_a_lambda_node_falls_back_to_the_pickled_format_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A node function without an import path: the pickled format, and a warning naming
    the node and the fix; the model still loads (pickles allowed) and scores."""
    inference = Pipeline(
        [
            node(
                # A lambda on purpose: it has no import path.
                lambda i, s, m, t: toy_nodes.predict(i, s, m, t),  # noqa: PLW0108
                ["instances", "scaler", "model", "params:threshold"],
                "predictions",
                name="predict_lambda",
            )
        ]
    )
    pml = pipeline_ml_factory(training_pipeline(), inference, input_name="instances")
    with caplog.at_level(logging.WARNING, logger="pipelineml"):
        model_dir = _logged(tmp_path, pml)
    warning = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("pipelineml"))
    assert "pickled format" in warning
    assert "node 'predict_lambda'" in warning
    assert "define it at the top level of a module" in warning
    assert (model_dir / "python_model.pkl").is_file()
    metadata = mlflow.models.Model.load(str(model_dir)).metadata
    assert metadata["pipelineml"]["format"] == "pickle"
    loaded = mlflow.pyfunc.load_model(str(model_dir))
    pd.testing.assert_frame_equal(loaded.predict(frame([1.0])), expected([1.0]))


def test_the_format_is_recorded_in_the_model_metadata(tmp_path: Path) -> None:
    """MLmodel says which format the model is in."""
    model_dir = _logged(tmp_path)
    assert mlflow.models.Model.load(str(model_dir)).metadata["pipelineml"]["format"] == "code"


def test_a_loaded_model_scores_in_a_process_that_cannot_import_the_project(
    tmp_path: Path,
) -> None:
    """Pickled after loading (as batch_predict sends it to Dask workers), the model carries
    the project's code by value: a process without the tests package scores with it."""
    import cloudpickle

    loaded = mlflow.pyfunc.load_model(str(_logged(tmp_path)))
    payload = tmp_path / "model.pickle"
    payload.write_bytes(cloudpickle.dumps(loaded))
    isolated = tmp_path / "isolated"
    isolated.mkdir()
    script = (
        "import pickle, sys, pandas as pd\n"
        "assert 'tests' not in sys.modules\n"
        "model = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "print(model.predict(pd.DataFrame({'x': [2.0]}))['score'].tolist())\n"
    )
    env = subprocess_env()
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(interpreter()), "-c", script, str(payload)],
        cwd=isolated,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == str(expected([2.0])["score"].tolist())


def test_an_inference_input_named_like_the_spec_keeps_the_pickled_format() -> None:
    """A dataset named __pipelineml__ (the spec's own key) cannot be data: said, not clobbered."""
    from pipelineml.hooks.model._from_code import pickled_format_reasons

    inference = Pipeline([node(toy_nodes.lookup, ["instances", "__pipelineml__"], "out")])
    reasons = pickled_format_reasons(inference, None, {})
    assert any("__pipelineml__" in reason for reason in reasons)
