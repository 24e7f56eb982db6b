"""A project written the way kedro-mlflow 2.0 documents it, migrated by the tables of
``docs/coming-from-kedro-mlflow.md`` alone, then run: its artifacts and metrics are tracked.

The renames are read from the page, not repeated here, so a wrong row fails this test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from pipelineml.hooks.tracking._config import parse_config
from pipelineml.runners import SequentialRunner
from tests._support.kedro_project import make_kedro_project, run_in_session
from tests._support.mlflow_store import (
    all_runs,
    clean_mlflow_state,
    make_template_store,
    sqlite_uri,
)
from tests._support.tracking_project import NODES_PY, PARAMETERS, REGISTRY_PY

PAGE = Path(__file__).resolve().parents[2] / "docs" / "coming-from-kedro-mlflow.md"

#: The catalog of the tracking project as kedro-mlflow 2.0's docs write these datasets.
KEDRO_MLFLOW_CATALOG: dict[str, Any] = {
    "report": {
        "type": "kedro_mlflow.io.artifacts.MlflowArtifactDataset",
        "artifact_path": "reports",
        "dataset": {"type": "json.JSONDataset", "filepath": "data/08_reporting/report.json"},
    },
    "versioned_report": {
        "type": "kedro_mlflow.io.artifacts.MlflowArtifactDataset",
        "dataset": {
            "type": "json.JSONDataset",
            "filepath": "data/08_reporting/versioned.json",
            "versioned": True,
        },
    },
    "accuracy": {
        "type": "kedro_mlflow.io.metrics.MlflowMetricDataset",
        "save_args": {"mode": "overwrite"},
        "load_args": {"step": 0},
    },
    "loss": {
        "type": "kedro_mlflow.io.metrics.MlflowMetricHistoryDataset",
        "save_args": {"mode": "list"},
        "load_args": {"mode": "list"},
    },
    "checkpoint_scores": {
        "type": "kedro_mlflow.io.metrics.MlflowMetricHistoryDataset",
        "key": "val_score",
        "save_args": {"mode": "dict"},
    },
}


def kedro_mlflow_yml(tracking_uri: str) -> dict[str, Any]:
    """kedro-mlflow 2.0's mlflow.yml template, every key, with a tracking URI of ours."""
    return {
        "server": {
            "mlflow_tracking_uri": tracking_uri,
            "mlflow_registry_uri": None,
            "credentials": None,
            "request_header_provider": {"type": None, "pass_context": False, "init_kwargs": {}},
        },
        "tracking": {
            "disable_tracking": {"pipelines": []},
            "experiment": {"name": "migrated", "restore_if_deleted": True},
            "run": {"id": None, "name": None, "nested": True},
            "params": {
                "dict_params": {"flatten": False, "recursive": True, "sep": "."},
                "long_params_strategy": "fail",
            },
        },
        "ui": {"port": "5000", "host": "127.0.0.1"},
    }


def page_tables(first_header: str) -> list[list[list[str]]]:
    """The rows of each of the page's tables whose first header cell is ``first_header``."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    tables = []
    for index, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_header:
            rows = []
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in row.strip().strip("|").split("|")])
            tables.append(rows)
    assert tables, f"{PAGE.name} has no table headed {first_header!r}"
    return tables


def code(cell: str) -> str | None:
    """The text of a cell that is one `code` span, else None (``none`` and prose)."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    return match.group(1) if match else None


def leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{dotted.path: value}`` of every leaf (an empty mapping is a leaf)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(leaves(value, f"{path}."))
        else:
            out[path] = value
    return out


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``leaves``."""
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, last = path.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return tree


def migrate_catalog(catalog: dict[str, Any]) -> dict[str, Any]:
    """The page's dataset renames and argument removals, applied."""
    datasets, arguments = page_tables("kedro-mlflow 2.0 `type`")
    renames = {
        code(row[0]): code(row[1])
        for row in datasets
        if code(row[1]) and not row[2].startswith("Not a rename")
    }
    removals = [(code(row[0]), code(row[1])) for row in arguments]
    migrated = {}
    for name, original in catalog.items():
        entry = json.loads(json.dumps(original))
        kind = entry["type"]
        assert kind in renames, f"{PAGE.name} gives no rename for {kind}"
        for removed_from, argument in removals:
            if removed_from != kind or argument is None:
                continue
            *parents, last = argument.split(".")
            node = entry
            for part in parents:
                node = node.get(part, {})
            node.pop(last, None)
            if parents and not entry.get(parents[0]):
                entry.pop(parents[0], None)
        entry["type"] = renames[kind]
        migrated[name] = entry
    return migrated


def migrate_mlflow_yml(content: dict[str, Any]) -> dict[str, Any]:
    """The page's mlflow.yml renames applied: a key mapped to none is dropped."""
    table = {code(row[0]): code(row[1]) for row in page_tables("kedro-mlflow 2.0 key")[0]}
    flat = leaves(content)
    assert set(flat) == set(table), "the page's key table and kedro-mlflow's template differ"
    return nest({table[path]: value for path, value in flat.items() if table[path] is not None})


def test_the_page_maps_every_kedro_mlflow_dataset_and_command() -> None:
    """Each kedro-mlflow 2.0 dataset and command has a row (a target, or why there is none)."""
    datasets = {code(row[0]) for row in page_tables("kedro-mlflow 2.0 `type`")[0]}
    commands = {code(row[0]): code(row[1]) for row in page_tables("kedro-mlflow 2.0")[0]}

    assert datasets == {
        f"kedro_mlflow.io.{kind}"
        for kind in (
            "artifacts.MlflowArtifactDataset",
            "metrics.MlflowMetricDataset",
            "metrics.MlflowMetricHistoryDataset",
            "metrics.MlflowMetricsHistoryDataset",
            "models.MlflowModelTrackingDataset",
            "models.MlflowModelLocalFileSystemDataset",
            "models.MlflowModelRegistryDataset",
        )
    }
    assert commands == {
        "kedro mlflow init": "kedro pipelineml init",
        "kedro mlflow ui": "kedro pipelineml ui",
        "kedro mlflow modelify": "kedro pipelineml modelify",
    }


def test_migrated_mlflow_yml_is_accepted() -> None:
    """kedro-mlflow's whole template, renamed by the page, is a valid mlflow.yml of ours."""
    config = parse_config(migrate_mlflow_yml(kedro_mlflow_yml("sqlite:///x.db")))

    assert config.tracking_uri == "sqlite:///x.db"
    assert config.experiment_name == "migrated"
    assert config.nested is True
    assert config.long_params_strategy == "fail"


@pytest.mark.slow
def test_kedro_mlflow_project_runs_after_the_page_s_renames(tmp_path: Path) -> None:
    """The migrated project runs: its report, accuracy and histories are in the run."""
    (tmp_path / "store").mkdir()
    uri = sqlite_uri(make_template_store(tmp_path / "store"))
    root = make_kedro_project(
        tmp_path / "project",
        nodes_py=NODES_PY,
        pipeline_registry_py=REGISTRY_PY,
        catalog=migrate_catalog(KEDRO_MLFLOW_CATALOG),
        parameters=PARAMETERS,
        extra_conf={"mlflow.yml": migrate_mlflow_yml(kedro_mlflow_yml(uri))},
    )

    with clean_mlflow_state():
        run_in_session(root, runner=SequentialRunner())

    (run,) = all_runs(uri)
    client = MlflowClient(uri)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "migrated"
    local = client.download_artifacts(run.info.run_id, "reports/report.json", str(tmp_path))
    assert json.loads(Path(local).read_text())["rows"] == 4
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"versioned.json"}
    assert run.data.metrics["accuracy"] == pytest.approx(0.8)
    assert len(client.get_metric_history(run.info.run_id, "loss")) == 4
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_score")]
    assert sorted(steps) == [0, 10, 20]
