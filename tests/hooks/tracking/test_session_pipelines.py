"""The model is logged however the Kedro session assembles the pipeline it runs.

Since Kedro 1.2 ``KedroSession.run`` starts from ``Pipeline([])`` and adds each requested
registered pipeline (``combined += pipelines[name]``), then filters the sum; before, it ran
``pipelines[name]`` itself. That change made kedro-mlflow stop logging models without a word
(its issue 690): the sum was a plain ``Pipeline``, so its hook no longer saw a PipelineML.
These tests run a real project on disk through ``KedroSession`` with the Kedro the
environment has (``nox -s compat`` runs them on the lowest and the newest we declare) and
record, with a second project hook, what the session handed to ``before_pipeline_run``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kedro.pipeline import Pipeline

from pipelineml.core import PipelineML
from tests._support.kedro_project import run_in_session
from tests._support.mlflow_store import all_logged_models, all_runs
from tests._support.toy_model import toy_pipeline_ml
from tests._support.toy_project import make_project

RECORDER_SETTINGS = '''\
"""Settings with a hook that records the pipeline the session hands to the hooks."""

import json
from pathlib import Path

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline


class RecordPipeline:
    """Writes the type and node names of the run's pipeline to received_pipeline.json."""

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog):
        record = {
            "type": type(pipeline).__name__,
            "nodes": sorted(node.name for node in pipeline.nodes),
            "inference": sorted(
                node.name for node in getattr(pipeline, "inference", Pipeline([])).nodes
            ),
        }
        Path(run_params["project_path"], "received_pipeline.json").write_text(
            json.dumps(record)
        )


HOOKS = (RecordPipeline(),)
'''

TRAINING_NODES = ["evaluate", "fit_model", "fit_scaler", "make_data"]


def test_the_session_s_way_of_adding_pipelines_keeps_the_pipeline_ml() -> None:
    """`combined = Pipeline([]); combined += pml` (Kedro >= 1.2) is the PipelineML itself."""
    pml = toy_pipeline_ml()
    combined = Pipeline([])

    combined += pml

    assert combined is pml
    assert isinstance(combined.filter(), PipelineML)
    assert combined.filter().inference.nodes == pml.inference.nodes


@pytest.mark.parametrize(
    ("pipeline_names", "tag"),
    [(["training"], "training"), (None, "__default__")],
    ids=["training", "default"],
)
def test_registered_pipeline_ml_reaches_the_hooks_whole_and_its_model_is_logged(
    tmp_path: Path, tracking_env: str, pipeline_names: list[str] | None, tag: str
) -> None:
    """The hooks receive the PipelineML (inference included) and one model is logged."""
    root = make_project(tmp_path / "project", settings_py=RECORDER_SETTINGS)

    run_in_session(root, pipeline_names)

    received = json.loads((root / "received_pipeline.json").read_text())
    assert received == {"type": "PipelineML", "nodes": TRAINING_NODES, "inference": ["predict"]}
    (run,) = all_runs(tracking_env)
    assert run.data.tags["kedro.pipeline"] == tag
    assert [m.source_run_id for m in all_logged_models(tracking_env)] == [run.info.run_id]


@pytest.mark.filterwarnings(
    # PipelineML + Pipeline is a plain Pipeline, and says so.
    "ignore::pipelineml.core.errors.PipelineMLWarning"
)
def test_pipeline_ml_summed_with_another_pipeline_still_has_its_model_logged(
    tmp_path: Path, tracking_env: str
) -> None:
    """Requested with another pipeline, a plain Pipeline reaches the hooks; the model is logged."""
    root = make_project(tmp_path / "project", settings_py=RECORDER_SETTINGS)

    run_in_session(root, ["training", "other"])

    received = json.loads((root / "received_pipeline.json").read_text())
    assert received == {
        "type": "Pipeline",
        "nodes": sorted([*TRAINING_NODES, "summarise"]),
        "inference": [],
    }
    (run,) = all_runs(tracking_env)
    assert [m.source_run_id for m in all_logged_models(tracking_env)] == [run.info.run_id]


def test_training_nodes_run_inside_a_plain_pipeline_are_reported(
    tmp_path: Path, tracking_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A registered plain Pipeline holding every training node of a PipelineML (what
    ``training + other`` is) logs no model, and the run says why and what to run instead."""
    root = make_project(tmp_path / "project")
    registry = next(root.glob("src/*/pipeline_registry.py"))
    registry.write_text(
        registry.read_text().replace(
            '"other": other,',
            '"other": other,\n        "combined": Pipeline([*training.nodes, *other.nodes]),',
        )
    )

    run_in_session(root, ["combined"])

    (run,) = all_runs(tracking_env)
    assert run.info.status == "FINISHED"
    assert all_logged_models(tracking_env) == []
    reason = run.data.tags["pipelineml.model_not_logged"]
    # Named once, by its own name (it is also registered as __default__).
    assert reason.startswith("training: the run executed every training node of PipelineML")
    assert "__default__" not in reason
    assert "kedro run --pipelines=training" in reason
    assert any(
        "No model logged for PipelineML 'training'" in record.getMessage()
        for record in caplog.records
    )
