"""A model logged from code loads across Kedro versions: the newest ours declares, the lowest.

A model in the pickled format held Kedro's own objects (``Pipeline``, ``Node``), pickled:
another Kedro could not always read them. Logged from code, the model holds data that the
Kedro where it loads rebuilds. A venv with the lowest Kedro ``packages/*/pyproject.toml``
declare (and pipelineml from this checkout, built by uv) logs one model and loads the other;
this test process (the newest Kedro) does the same the other way round; both give the
nodes' predictions.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests._support.deploy import INSTALL_TIMEOUT, check_command, run_command, uv_executable
from tests._support.mlflow_store import sqlite_uri
from tests._support.process import subprocess_env
from tests._support.toy_model import FAST_LOG, expected, frame, toy_pipeline_ml, trained_catalog
from tests._support.trained_project import tracking

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
X = [1.0, 6.0, 9.0]


def lowest_kedro() -> str:
    """The lowest Kedro the packages declare (``kedro>=X``)."""
    project = tomllib.loads((REPO / "packages" / "hooks" / "pyproject.toml").read_text())
    for line in project["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == "kedro":
            (spec,) = [s for s in requirement.specifier if s.operator == ">="]
            return spec.version
    raise AssertionError("pipelineml-hooks declares no kedro")


@pytest.fixture(scope="module")
def lowest_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the lowest declared Kedro, this checkout's pipelineml and what the toy
    model needs, at this process's MLflow."""
    where = tmp_path_factory.mktemp("lowest-kedro") / "venv"
    env = subprocess_env()
    env.pop("VIRTUAL_ENV", None)
    check_command(
        run_command(
            [uv_executable(), "venv", "--python", sys.executable, where], env, where.parent
        ),
        "uv venv",
    )
    python = where / "bin" / "python"
    check_command(
        run_command(
            [
                uv_executable(),
                "pip",
                "install",
                "--python",
                python,
                "-e",
                REPO / "packages" / "core",
                "-e",
                REPO / "packages" / "runners",
                "-e",
                REPO / "packages" / "hooks",
                f"kedro=={lowest_kedro()}",
                f"mlflow=={version('mlflow')}",
                "kedro-datasets[pandas-csvdataset,pickle-pickledataset]",
                "pandas",
            ],
            env,
            where.parent,
        ),
        "installing the lowest Kedro",
    )
    return python


# In the lowest-Kedro venv: log the toy model, load the newest's, answer both.
OTHER_SIDE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import kedro, mlflow
    import pandas as pd
    from pipelineml.hooks import log_pipeline_model
    from tests._support.toy_model import FAST_LOG, toy_pipeline_ml, trained_catalog

    folder = Path(sys.argv[1])
    mlflow.set_tracking_uri(sys.argv[2])
    info = log_pipeline_model(toy_pipeline_ml(), trained_catalog(folder / "project"), **FAST_LOG)
    local = mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(folder / "m"))
    other = mlflow.pyfunc.load_model(sys.argv[3])
    frame = pd.DataFrame({"x": json.loads(sys.argv[4])})
    print(json.dumps({
        "kedro": kedro.__version__,
        "model": local,
        "scores": other.predict(frame)["score"].tolist(),
    }))
    """
)


def test_models_load_across_the_lowest_and_the_newest_kedro(
    lowest_python: Path, tmp_path: Path
) -> None:
    """Logged with the newest Kedro, loaded with the lowest; and the other way round."""
    import kedro

    tracking_uri = sqlite_uri(tmp_path / "newest" / "mlflow.db")
    # A fresh store's Default experiment keeps its artifacts in ./mlruns: here, not the checkout.
    with contextlib.chdir(tmp_path / "newest"), tracking(tracking_uri):
        info = mlflow_log(tmp_path / "newest")
        newest_model = mlflow.artifacts.download_artifacts(
            info.model_uri, dst_path=str(tmp_path / "newest" / "m")
        )
    env = subprocess_env(lowest_python, {"PYTHONPATH": os.fspath(REPO)})
    done = subprocess.run(
        [
            os.fspath(lowest_python),
            "-c",
            OTHER_SIDE,
            os.fspath(tmp_path / "lowest"),
            sqlite_uri(tmp_path / "lowest" / "mlflow.db"),
            newest_model,
            json.dumps(X),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert Version(answer["kedro"]) == Version(lowest_kedro()) < Version(kedro.__version__)
    assert answer["scores"] == expected(X)["score"].tolist()

    from_lowest = mlflow.pyfunc.load_model(answer["model"])
    pd.testing.assert_frame_equal(from_lowest.predict(frame(X)), expected(X))


def mlflow_log(folder: Path) -> Any:
    from pipelineml.hooks import log_pipeline_model

    return log_pipeline_model(toy_pipeline_ml(), trained_catalog(folder / "project"), **FAST_LOG)
