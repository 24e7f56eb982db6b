"""Models logged by pipelineml 0.1.0 keep loading and scoring with today's code.

``tests/fixtures/model_v0_1_0.tar.gz`` is the model ``kedro run --pipelines=training`` logged
from ``examples/breast_cancer`` with pipelineml 0.1.0 (the pickled ``python_model.pkl``
format, with that version's own code in ``code/pipelineml``), downloaded from the registry
as it was; ``model_v0_1_0_expected*.csv`` are its predictions on ``model_v0_1_0_sample.csv``,
computed by 0.1.0 at the time. Each check loads it in a fresh interpreter: once as a
deployment would (MLflow puts the model's own code first), once after today's pipelineml
was imported (so the pickle resolves against today's modules).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from tests._support.process import interpreter, subprocess_env

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REPO = FIXTURES.parents[1]

# Scores the sample with the default threshold and with a predict-time one; prints both.
SCORE = textwrap.dedent(
    """
    import json, sys
    if sys.argv[2] == "today-first":
        import pipelineml.core, pipelineml.hooks, pipelineml.runners
        from pipelineml.hooks import KedroPipelineModel  # noqa: F401  (today's class)
    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model(sys.argv[1])
    sample = pd.read_csv(sys.argv[3])
    print(json.dumps({
        "default": model.predict(sample).to_dict(orient="list"),
        "threshold": model.predict(sample, params={"threshold": 0.01}).to_dict(orient="list"),
    }))
    """
)


@pytest.fixture(scope="module")
def legacy_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 0.1.0 model, unpacked into a folder of its own."""
    target = tmp_path_factory.mktemp("legacy")
    with tarfile.open(FIXTURES / "model_v0_1_0.tar.gz") as archive:
        archive.extractall(target, filter="data")
    return target / "model_v0_1_0"


def _expected(name: str) -> dict[str, list[float]]:
    frame = pd.read_csv(FIXTURES / name)
    return {column: frame[column].tolist() for column in frame.columns}


@pytest.mark.slow
@pytest.mark.parametrize("order", ["fresh", "today-first"])
def test_the_0_1_0_model_scores_as_it_did(legacy_model: Path, order: str, tmp_path: Path) -> None:
    """The 0.1.0 model loads and gives 0.1.0's predictions, with and without a threshold."""
    done = subprocess.run(
        [
            str(interpreter()),
            "-c",
            SCORE,
            str(legacy_model),
            order,
            str(FIXTURES / "model_v0_1_0_sample.csv"),
        ],
        cwd=tmp_path,
        env=subprocess_env(extra={"PYTHONPATH": str(REPO)}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    scores = json.loads(done.stdout.strip().splitlines()[-1])
    for key, expected_file in (
        ("default", "model_v0_1_0_expected.csv"),
        ("threshold", "model_v0_1_0_expected_threshold_0.01.csv"),
    ):
        expected = _expected(expected_file)
        assert scores[key]["malignant"] == expected["malignant"]
        assert scores[key]["probability"] == pytest.approx(expected["probability"], rel=1e-9)
    # The two sets differ, so the threshold really reached the model.
    assert scores["default"]["malignant"] != scores["threshold"]["malignant"]
