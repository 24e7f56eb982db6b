"""The example project's training run records its confusion matrix and recall history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests._support.kedro_project import run_kedro_cli
from tests._support.mlflow_store import all_logged_models, all_runs, copy_store, make_template_store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "breast_cancer"


def copy_example(target: Path) -> Path:
    """The example's code and configuration, without what its runs left in the checkout."""
    shutil.copytree(
        EXAMPLE,
        target,
        ignore=shutil.ignore_patterns(
            "mlflow.db", "mlruns", "*.csv", "*.pkl", "*.json", "*.parquet"
        ),
    )
    return target


@pytest.mark.slow
def test_training_logs_the_report_and_the_metric_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kedro run --pipelines=training: reports/confusion_matrix.json and a recall per step."""
    (tmp_path / "template").mkdir()
    uri = copy_store(make_template_store(tmp_path / "template"), tmp_path / "example.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    root = copy_example(tmp_path / "breast_cancer")

    completed = run_kedro_cli(root, "run", "--pipelines=training")

    assert completed.returncode == 0, completed.stdout + completed.stderr
    (run,) = all_runs(uri)
    client = MlflowClient(uri)
    assert run.info.status == "FINISHED"
    local = client.download_artifacts(
        run.info.run_id, "reports/confusion_matrix.json", str(tmp_path / "dl")
    )
    report = json.loads(Path(local).read_text())
    saved = json.loads((root / "data/08_reporting/confusion_matrix.json").read_text())
    assert report == saved
    assert sum(map(sum, report["matrix"])) == 143  # the test rows: 25% of 569
    history = client.get_metric_history(run.info.run_id, "test_recall_by_threshold")
    assert sorted(m.step for m in history) == list(range(10, 100, 10))
    assert "test_accuracy" in run.data.metrics
    assert len([m for m in all_logged_models(uri) if m.source_run_id == run.info.run_id]) == 1
