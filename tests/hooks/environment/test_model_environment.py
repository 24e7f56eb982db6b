"""What a logged model needs to rebuild its environment: its own code, installable pins."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pytest
from kedro.pipeline import Pipeline, node

from pipelineml.core import pipeline_ml_factory
from pipelineml.hooks import KedroPipelineModelError, log_pipeline_model
from pipelineml.hooks.environment._distributions import pipelineml_dependencies
from tests._support.local_distribution import MODULE, install_local_distribution
from tests._support.mlflow_store import own_store
from tests._support.toy_model import (
    FAST_LOG,
    expected,
    frame,
    toy_pipeline_ml,
    trained_catalog,
    training_pipeline,
)

pytestmark = pytest.mark.slow

LOCAL_PACKAGE = MODULE
NODES_MODULE = "pml_env_test_nodes"
NODES_SOURCE = f"""\
import pandas as pd

import {LOCAL_PACKAGE}


def predict(instances, scaler, model, threshold):
    shifted = {LOCAL_PACKAGE}.shift(instances["x"], model["offset"] - scaler)
    return pd.DataFrame({{"score": shifted, "positive": shifted > threshold}})
"""


def _download(model_uri: str, where: Path) -> Path:
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(where)))


def _requirements(model_dir: Path) -> list[str]:
    return (model_dir / "requirements.txt").read_text(encoding="utf-8").splitlines()


def _digests(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def inferred_model(tmp_path_factory: pytest.TempPathFactory, store_template: Path) -> Path:
    """The toy model logged with MLflow's inference (no explicit requirements), downloaded."""
    folder = tmp_path_factory.mktemp("inferred")
    catalog = trained_catalog(folder / "project")
    # A store of its own whose experiment keeps the artifacts in folder (a new store made
    # from here would put its Default experiment's artifacts in the checkout).
    with own_store(folder, store_template):
        with mlflow.start_run():
            info = log_pipeline_model(toy_pipeline_ml(), catalog)
        return _download(info.model_uri, folder / "downloaded")


def test_model_carries_the_imported_pipelineml_code(inferred_model: Path) -> None:
    """code/pipelineml/<package> holds exactly the files Python imported pipelineml from."""
    for package in ("core", "runners", "hooks"):
        spec = importlib.util.find_spec(f"pipelineml.{package}")
        assert spec is not None
        assert spec.submodule_search_locations is not None
        source = Path(next(iter(spec.submodule_search_locations)))

        assert _digests(inferred_model / "code" / "pipelineml" / package) == _digests(source)


def test_inferred_requirements_pin_kedro_and_never_pipelineml(inferred_model: Path) -> None:
    """kedro, its and pandas' dependencies pinned to this environment; no pipelineml name."""
    pinned = dict(line.split(";")[0].split("==", 1) for line in _requirements(inferred_model))

    assert not [name for name in pinned if name.startswith("pipelineml")]
    for name in ("kedro", "kedro-datasets", "pandas", "numpy", "cloudpickle", "omegaconf"):
        assert pinned.get(name) == version(name), name
    assert "tests" not in pinned


def test_python_env_and_conda_env_point_to_the_same_pins(inferred_model: Path) -> None:
    """python_env.yaml installs requirements.txt; conda.yaml's pip list is the same list."""
    import yaml

    python_env = yaml.safe_load((inferred_model / "python_env.yaml").read_text(encoding="utf-8"))
    conda = yaml.safe_load((inferred_model / "conda.yaml").read_text(encoding="utf-8"))
    pip_lists = [dep["pip"] for dep in conda["dependencies"] if isinstance(dep, dict)]

    assert python_env["dependencies"] == ["-r requirements.txt"]
    assert pip_lists == [_requirements(inferred_model)]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (f"pipelineml-core=={version('pipelineml-core')}", "pipelineml's own code travels"),
        ("-e ./src", "an editable install"),
        ("./wheels/helper-1.0-py3-none-any.whl", "a local path"),
        ("helper @ file:///opt/helper-1.0.tar.gz", "a local file"),
    ],
)
def test_explicit_requirements_that_cannot_install_are_refused(
    tmp_path: Path, line: str, reason: str
) -> None:
    """pip_requirements naming pipelineml, an editable or a local file: refused, named."""
    catalog = trained_catalog(tmp_path / "project")

    with mlflow.start_run(), pytest.raises(KedroPipelineModelError) as raised:
        log_pipeline_model(toy_pipeline_ml(), catalog, pip_requirements=["pandas", line])

    assert f"pip_requirements: '{line}': {reason}" in str(raised.value)
    assert mlflow.search_logged_models(output_format="list") == []


def test_explicit_conda_env_is_validated_too(tmp_path: Path) -> None:
    """A conda_env whose pip list names pipelineml-hooks is refused the same way."""
    catalog = trained_catalog(tmp_path / "project")
    conda_env = {"dependencies": ["python=3.11", {"pip": ["pandas", "pipelineml-hooks"]}]}

    with (
        mlflow.start_run(),
        pytest.raises(KedroPipelineModelError, match="conda_env: 'pipelineml-hooks'"),
    ):
        log_pipeline_model(toy_pipeline_ml(), catalog, conda_env=conda_env)


def test_explicit_requirements_win_when_installable(tmp_path: Path) -> None:
    """Given pip_requirements are the model's requirements, as given (plus MLflow's own pin)."""
    catalog = trained_catalog(tmp_path / "project")

    with mlflow.start_run():
        info = log_pipeline_model(toy_pipeline_ml(), catalog, **FAST_LOG)

    lines = _requirements(_download(info.model_uri, tmp_path / "downloaded"))
    assert lines[1:] == FAST_LOG["pip_requirements"]
    assert lines[0].startswith("mlflow==")


def test_dask_models_pin_distributed() -> None:
    """A model scored on Dask needs distributed; one that is not, does not."""
    assert {"kedro", "cloudpickle", "distributed"} <= pipelineml_dependencies(dask=True)
    assert "distributed" not in pipelineml_dependencies(dask=False)
    assert "kedro" in pipelineml_dependencies(dask=False)


# --- a distribution installed from a local path -------------------------------------------


@pytest.fixture
def local_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``pml-local-helper`` pip-installed from a local folder into a site dir on the path.

    pip writes its PEP 610 ``direct_url.json`` (``file://...``) as for any local install.
    The node module using it is not installed, so it is pickled by value.
    """
    from mlflow.utils import requirements_utils

    site = install_local_distribution(tmp_path / "helper")
    nodes_dir = tmp_path / "nodes"
    nodes_dir.mkdir()
    (nodes_dir / f"{NODES_MODULE}.py").write_text(NODES_SOURCE, encoding="utf-8")
    for folder in (site, nodes_dir):
        monkeypatch.syspath_prepend(os.fspath(folder))
    # MLflow's capture runs in a subprocess that must see them too.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([os.fspath(site), os.fspath(nodes_dir)]))
    # MLflow maps modules to distributions once per process; map again with the new site.
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)
    yield site
    for name in (LOCAL_PACKAGE, NODES_MODULE):
        sys.modules.pop(name, None)


def _scores_in_a_fresh_process(model_dir: Path, cwd: Path) -> list[float]:
    """The model's scores for x = 1, 7, loaded by a new interpreter without PYTHONPATH."""
    script = (
        "import json, sys, mlflow, pandas as pd\n"
        "model = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "print(json.dumps(model.predict(pd.DataFrame({'x': [1.0, 7.0]}))['score'].tolist()))\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script, os.fspath(model_dir)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    scores: list[float] = json.loads(result.stdout.splitlines()[-1])
    return scores


def _local_pipeline_ml(**log_model_kwargs: Any) -> Any:
    nodes = importlib.import_module(NODES_MODULE)
    inference = Pipeline(
        [
            node(
                nodes.predict,
                ["instances", "scaler", "model", "params:threshold"],
                "predictions",
                name="predict",
            )
        ]
    )
    return pipeline_ml_factory(
        training=training_pipeline(),
        inference=inference,
        input_name="instances",
        log_model_kwargs=log_model_kwargs or None,
    )


def test_distribution_from_a_local_path_is_refused_with_the_fixes(
    local_distribution: Path, tmp_path: Path
) -> None:
    """Logging names the distribution, where it came from, its folder and both fixes."""
    catalog = trained_catalog(tmp_path / "project")

    with mlflow.start_run(), pytest.raises(KedroPipelineModelError) as raised:
        log_pipeline_model(_local_pipeline_ml(), catalog)

    message = str(raised.value)
    assert "  - pml-local-helper: installed from file://" in message
    assert os.fspath(local_distribution / LOCAL_PACKAGE) in message
    assert '"code_paths"' in message
    assert '"extra_pip_requirements": ["pml-local-helper==<version on your index>"]' in message
    ready = [
        m for m in mlflow.search_logged_models(output_format="list") if str(m.status) == "READY"
    ]
    assert ready == []


def test_code_paths_ship_a_local_distribution_inside_the_model(
    local_distribution: Path, tmp_path: Path
) -> None:
    """With code_paths, the model logs, does not pin it, and loads where it is not installed."""
    catalog = trained_catalog(tmp_path / "project")
    pipeline_ml = _local_pipeline_ml(code_paths=[os.fspath(local_distribution / LOCAL_PACKAGE)])

    with mlflow.start_run():
        info = log_pipeline_model(pipeline_ml, catalog)

    model_dir = _download(info.model_uri, tmp_path / "downloaded")
    assert not [line for line in _requirements(model_dir) if "local-helper" in line]
    scores = _scores_in_a_fresh_process(model_dir, tmp_path)
    assert scores == expected([1.0, 7.0])["score"].tolist()


def test_extra_pip_requirements_name_an_installable_source_for_it(
    local_distribution: Path, tmp_path: Path
) -> None:
    """The user's requirement for the distribution is kept, once, and not refused."""
    catalog = trained_catalog(tmp_path / "project")
    pipeline_ml = _local_pipeline_ml(extra_pip_requirements=["pml-local-helper==0.3.0"])

    with mlflow.start_run():
        info = log_pipeline_model(pipeline_ml, catalog)

    lines = _requirements(_download(info.model_uri, tmp_path / "downloaded"))
    assert [line for line in lines if "local-helper" in line] == ["pml-local-helper==0.3.0"]


def test_loaded_toy_scores(inferred_model: Path) -> None:
    """The model logged with inferred requirements loads and scores here."""
    model = mlflow.pyfunc.load_model(os.fspath(inferred_model))

    assert (
        model.predict(frame([1.0, 7.0]))["score"].tolist() == expected([1.0, 7.0])["score"].tolist()
    )


def test_installed_project_package_is_neither_pinned_nor_refused(
    local_distribution: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Kedro project's package, pip-installed from its folder, travels by value only."""
    from kedro.framework import project

    monkeypatch.setattr(project, "PACKAGE_NAME", LOCAL_PACKAGE, raising=False)
    catalog = trained_catalog(tmp_path / "project")

    with mlflow.start_run():
        info = log_pipeline_model(_local_pipeline_ml(), catalog)

    model_dir = _download(info.model_uri, tmp_path / "downloaded")
    assert not [line for line in _requirements(model_dir) if "local-helper" in line]
    scores = _scores_in_a_fresh_process(model_dir, tmp_path)
    assert scores == expected([1.0, 7.0])["score"].tolist()
