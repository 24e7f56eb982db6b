"""MlflowHook through real Kedro sessions: one run per kedro run, and the model after training.

Every project here is generated on disk and run through ``KedroSession`` (or the ``kedro``
CLI); the hook under test is the one the ``kedro.hooks`` entry point registers.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow.entities import LoggedModel, Run
from mlflow.tracking import MlflowClient

from pipelineml.hooks import MlflowHook, mlflow_hook
from pipelineml.hooks.errors import MlflowRunError
from pipelineml.runners import CopyPolicy, DaskRunner, SequentialRunner, ThreadRunner
from tests._support.kedro_project import run_in_session, run_kedro_cli
from tests._support.mlflow_store import (
    all_logged_models,
    all_runs,
    clean_mlflow_state,
    copy_store,
    sqlite_uri,
)
from tests._support.toy_model import FAST_LOG, frame
from tests._support.toy_project import (
    PARAMETERS,
    expected_scores,
    make_project,
    package_of,
    run_filtered,
)

NOT_LOGGED_TAG = "pipelineml.model_not_logged"
PIPELINE_ML_WARNING = pytest.mark.filterwarnings(
    # Kedro's session adds the requested pipelines together; PipelineML + Pipeline warns
    # that the sum is a plain Pipeline (the hook still logs the PipelineML it contains).
    "ignore::pipelineml.core.errors.PipelineMLWarning"
)


@dataclass(frozen=True)
class Tracked:
    """What a Kedro run left in a tracking store."""

    root: Path
    tracking_uri: str
    runs: list[Run]
    models: list[LoggedModel]

    @property
    def run(self) -> Run:
        """The only run."""
        (run,) = self.runs
        return run


def tracked(root: Path, tracking_uri: str) -> Tracked:
    """Read back the runs and logged models of a store."""
    return Tracked(root, tracking_uri, all_runs(tracking_uri), all_logged_models(tracking_uri))


def warnings_of(caplog: pytest.LogCaptureFixture, logger: str = "pipelineml.hooks") -> list[str]:
    """The WARNING messages the hooks package logged."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith(logger)
    ]


# ----------------------------------------------------------------- a trained project
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Tracked:
    """A project trained once with our SequentialRunner and no MLflow configuration at all.

    Its PipelineML carries kpm_kwargs copy_mode=deepcopy and log_model_kwargs name=clf.
    """
    root = make_project(
        tmp_path_factory.mktemp("trained") / "project",
        kpm_kwargs={"copy_mode": "deepcopy"},
        log_model_kwargs={"name": "clf", **FAST_LOG},
    )
    with clean_mlflow_state():
        run_in_session(root, ["training"], runner=SequentialRunner())
    return tracked(root, sqlite_uri(root / "mlflow.db"))


@pytest.mark.slow
def test_default_store_is_a_sqlite_file_in_the_project(trained: Tracked) -> None:
    """With no configuration, the run goes to sqlite:///<project>/mlflow.db."""
    assert (trained.root / "mlflow.db").is_file()
    assert trained.run.info.status == "FINISHED"


@pytest.mark.slow
def test_run_is_named_after_the_pipeline_in_the_package_experiment(trained: Tracked) -> None:
    """The run is named after the pipeline, in an experiment named after the package."""
    experiment = MlflowClient(trained.tracking_uri).get_experiment(trained.run.info.experiment_id)

    assert experiment.name == package_of(trained.root)
    assert trained.run.info.run_name == "training"


@pytest.mark.slow
def test_consumed_parameters_are_logged(trained: Tracked) -> None:
    """Exactly the parameters training and the logged inference pipeline consume are logged."""
    assert trained.run.data.params == {
        "n_rows": "20",
        "alpha": "1.0",
        "fail": "False",
        "threshold": "0.5",
    }


@pytest.mark.slow
def test_kedro_tags_are_set(trained: Tracked) -> None:
    """The run is tagged with what Kedro ran: every kedro.* tag, each with its value."""
    import kedro

    tags = {k: v for k, v in trained.run.data.tags.items() if k.startswith("kedro.")}
    session_id = tags.pop("kedro.session_id")
    command = tags.pop("kedro.command")
    assert tags == {
        "kedro.pipeline": "training",
        "kedro.env": "local (default)",
        # The dotted path `kedro run --runner=...` takes, not the runner's repr.
        "kedro.runner": "pipelineml.runners.SequentialRunner",
        "kedro.version": kedro.__version__,
        "kedro.package_name": package_of(trained.root),
    }
    assert session_id
    assert command
    assert NOT_LOGGED_TAG not in trained.run.data.tags


@pytest.mark.slow
def test_kedro_runner_tag_of_kedro_own_runner(tmp_path: Path) -> None:
    """Kedro's own runner is tagged with its dotted class path too."""
    from kedro.runner import SequentialRunner as KedroSequentialRunner

    root = make_project(tmp_path / "project", log_model_kwargs=FAST_LOG)
    with clean_mlflow_state():
        run_in_session(root, ["training"], runner=KedroSequentialRunner())
    run = tracked(root, sqlite_uri(root / "mlflow.db")).run
    assert run.data.tags["kedro.runner"] == "kedro.runner.sequential_runner.SequentialRunner"


@pytest.mark.slow
def test_model_is_logged_with_log_model_kwargs(trained: Tracked) -> None:
    """One model is logged from the run, under log_model_kwargs' name."""
    (model,) = trained.models

    assert model.name == "clf"
    assert model.source_run_id == trained.run.info.run_id
    assert trained.run.data.tags["pipelineml.model_uri"] == f"models:/{model.model_id}"


@pytest.mark.slow
def test_logged_model_applies_kpm_kwargs_and_predicts(trained: Tracked) -> None:
    """The logged model uses kpm_kwargs and predicts with what training fitted."""
    mlflow.set_tracking_uri(trained.tracking_uri)
    (model,) = trained.models

    loaded = mlflow.pyfunc.load_model(f"models:/{model.model_id}")
    answer = loaded.predict(frame([0, 19]), params={"threshold": 2.0})

    assert loaded.unwrap_python_model().copy_policy == CopyPolicy("deepcopy")
    assert list(answer["score"]) == expected_scores([0, 19])
    assert list(answer["positive"]) == [False, True]


@pytest.mark.slow
def test_logged_model_is_in_the_run_s_experiment(trained: Tracked) -> None:
    """The logged model belongs to the experiment of its run."""
    (model,) = trained.models

    assert model.experiment_id == trained.run.info.experiment_id


@pytest.mark.slow
def test_logged_model_loads_through_its_runs_uri(trained: Tracked) -> None:
    """runs:/<run id>/<name> loads the model logged by the hook."""
    mlflow.set_tracking_uri(trained.tracking_uri)

    loaded = mlflow.pyfunc.load_model(f"runs:/{trained.run.info.run_id}/clf")

    assert list(loaded.predict(frame([1]))["score"]) == expected_scores([1])


@pytest.mark.slow
def test_metrics_datasets_are_logged_with_their_prefix(trained: Tracked) -> None:
    """MlflowMetricsDataset outputs are logged as metrics, prefixed."""
    assert trained.run.data.metrics == {"train.rows": 20.0, "train.offset": 1.0}


# ----------------------------------------------------------------- which runs log a model
@pytest.mark.slow
@PIPELINE_ML_WARNING
def test_training_run_with_another_pipeline_logs_the_model(
    tmp_path: Path, tracking_env: str
) -> None:
    """pipeline_names=['training', 'other'] runs every training node: the model is logged."""
    root = make_project(tmp_path / "project")

    run_in_session(root, ["training", "other"])

    result = tracked(root, tracking_env)
    assert result.run.data.tags["kedro.pipeline"] == "training,other"
    assert [m.source_run_id for m in result.models] == [result.run.info.run_id]
    assert set(result.run.data.params) == {*PARAMETERS}


@pytest.mark.slow
def test_default_pipeline_logs_the_model(tmp_path: Path, tracking_env: str) -> None:
    """A run of __default__, when it is the PipelineML, logs the model."""
    root = make_project(tmp_path / "project")

    run_in_session(root)

    result = tracked(root, tracking_env)
    assert result.run.data.tags["kedro.pipeline"] == "__default__"
    assert [m.source_run_id for m in result.models] == [result.run.info.run_id]


@pytest.mark.slow
@pytest.mark.parametrize(
    "filters",
    [{"node_names": ["fit_model", "evaluate"]}, {"from_nodes": ["fit_model"]}],
    ids=["node_names", "from_nodes"],
)
def test_filter_leaving_out_training_nodes_is_reported(
    tmp_path: Path, tracking_env: str, caplog: pytest.LogCaptureFixture, filters: dict[str, Any]
) -> None:
    """A run leaving out training nodes logs no model, and says so in a warning and a tag."""
    root = make_project(tmp_path / "project")
    run_in_session(root, ["training"])  # every artifact exists on disk afterwards
    first = tracked(root, tracking_env)

    with caplog.at_level(logging.WARNING):
        run_filtered(root, ["training"], **filters)

    (run,) = [r for r in all_runs(tracking_env) if r.info.run_id != first.run.info.run_id]
    assert len(all_logged_models(tracking_env)) == len(first.models) == 1
    assert "make_data" in run.data.tags.get(NOT_LOGGED_TAG, "")
    assert any("'training'" in m and "make_data" in m for m in warnings_of(caplog))


@pytest.mark.slow
def test_memory_dataset_inference_input_is_refused_before_training(
    tmp_path: Path, tracking_env: str
) -> None:
    """A PipelineML whose inference reads a MemoryDataset fails before any node: FAILED run."""
    root = make_project(tmp_path / "project")

    with pytest.raises(MlflowRunError, match=r"(?s)'memory_model' is a MemoryDataset.*catalog"):
        run_in_session(root, ["memory_training"])

    result = tracked(root, tracking_env)
    assert result.run.info.status == "FAILED"
    assert result.models == []
    assert "'memory_model'" in result.run.data.tags["pipelineml.preflight"]
    assert not (root / "data" / "01_raw" / "raw_data.csv").exists()


# Kedro's runners answer a node failure with a resume suggestion computed with
# Pipeline.only_nodes_with_outputs(), on which PipelineML warns (see the xfail below).
@pytest.mark.slow
@PIPELINE_ML_WARNING
def test_failing_node_fails_the_run_and_the_next_run_is_fresh(
    tmp_path: Path, tracking_env: str
) -> None:
    """A failing node ends the run FAILED without a model; the next run is a new one."""
    root = make_project(tmp_path / "project")

    with pytest.raises(RuntimeError, match="fit_model failed on purpose"):
        run_in_session(root, ["training"], extra_params={"fail": True})
    failed = tracked(root, tracking_env)
    run_in_session(root, ["training"])
    after = tracked(root, tracking_env)

    assert failed.run.info.status == "FAILED"
    assert failed.run.data.metrics == {}
    assert failed.models == []
    assert mlflow.active_run() is None
    (fresh,) = [r for r in after.runs if r.info.run_id != failed.run.info.run_id]
    assert fresh.info.status == "FINISHED"
    assert [m.source_run_id for m in after.models] == [fresh.info.run_id]


@pytest.mark.slow
def test_failing_node_error_reaches_the_caller_without_warnings(
    tmp_path: Path, tracking_env: str
) -> None:
    """A failing node of a PipelineML run raises its own error, with no PipelineMLWarning."""
    root = make_project(tmp_path / "project")

    with pytest.raises(RuntimeError, match="fit_model failed on purpose"):
        run_in_session(root, ["training"], extra_params={"fail": True})


# ----------------------------------------------------------------- runners
@pytest.mark.slow
@pytest.mark.parametrize(
    "make_runner",
    [lambda: ThreadRunner(max_workers=2), lambda: None],
    ids=["ThreadRunner", "kedro-SequentialRunner"],
)
def test_one_run_per_kedro_run_with_local_runners(
    tmp_path: Path, tracking_env: str, make_runner: Any
) -> None:
    """Our ThreadRunner and Kedro's default runner each give one run with its model."""
    root = make_project(tmp_path / "project")

    run_in_session(root, ["training"], runner=make_runner())

    result = tracked(root, tracking_env)
    assert result.run.info.status == "FINISHED"
    assert result.run.data.metrics == {"train.rows": 20.0, "train.offset": 1.0}
    assert [m.source_run_id for m in result.models] == [result.run.info.run_id]


@pytest.mark.slow
@pytest.mark.dask
def test_one_run_per_kedro_run_with_dask(tmp_path: Path, tracking_env: str) -> None:
    """Nodes on Dask worker processes still give one run, with its metrics and model."""
    pytest.importorskip("distributed")
    root = make_project(tmp_path / "project")

    with DaskRunner(cluster_kwargs={"n_workers": 1}) as runner:
        run_in_session(root, ["training"], runner=runner)

    result = tracked(root, tracking_env)
    assert result.run.info.status == "FINISHED"
    assert result.run.data.params == {
        "n_rows": "20",
        "alpha": "1.0",
        "fail": "False",
        "threshold": "0.5",
    }
    assert result.run.data.metrics == {"train.rows": 20.0, "train.offset": 1.0}
    assert [m.source_run_id for m in result.models] == [result.run.info.run_id]


# ----------------------------------------------------------------- runs opened by the caller
@pytest.mark.slow
def test_active_run_is_reused_and_left_open(tmp_path: Path, mlflow_isolation: str) -> None:
    """A run active around session.run() receives the params and model and stays open."""
    root = make_project(tmp_path / "project")

    with mlflow.start_run() as outer:
        run_in_session(root, ["training"])
        still_active = mlflow.active_run()
        status_inside = MlflowClient().get_run(outer.info.run_id).info.status

    result = tracked(root, mlflow_isolation)
    assert still_active is not None
    assert still_active.info.run_id == outer.info.run_id
    assert status_inside == "RUNNING"
    assert [r.info.run_id for r in result.runs] == [outer.info.run_id]
    assert result.run.data.params["alpha"] == "1.0"
    assert [m.source_run_id for m in result.models] == [outer.info.run_id]


def _nested_run(root: Path, tracking_uri: str) -> tuple[str, str | None, list[Run]]:
    """Run training inside a caller's run; return its id, the active run after, all runs."""
    with mlflow.start_run() as outer:
        run_in_session(root, ["training"])
        still_active = mlflow.active_run()
    return (
        outer.info.run_id,
        still_active.info.run_id if still_active else None,
        all_runs(tracking_uri),
    )


@pytest.mark.slow
def test_nested_config_opens_a_child_run(tmp_path: Path, tracking_env: str) -> None:
    """With tracking.run.nested, the session's run is a child of the active run."""
    root = make_project(tmp_path / "project", mlflow_yml={"tracking": {"run": {"nested": True}}})

    outer, still_active, runs = _nested_run(root, tracking_env)

    assert still_active == outer
    (child,) = [r for r in runs if r.info.run_id != outer]
    assert child.data.tags["mlflow.parentRunId"] == outer
    assert child.info.status == "FINISHED"
    assert [m.source_run_id for m in all_logged_models(tracking_env)] == [child.info.run_id]


@pytest.mark.slow
def test_nested_run_stays_in_the_store_of_its_parent(
    tmp_path: Path, mlflow_isolation: str, store_template: Path
) -> None:
    """A child run is created in the store of the caller's run, which still ends normally."""
    root = make_project(tmp_path / "project", mlflow_yml={"tracking": {"run": {"nested": True}}})
    copy_store(store_template, root / "mlflow.db")  # a ready default store: no migrations

    outer, still_active, runs = _nested_run(root, mlflow_isolation)

    assert still_active == outer
    (child,) = [r for r in runs if r.info.run_id != outer]
    assert child.data.tags["mlflow.parentRunId"] == outer


# ----------------------------------------------------------------- registration
@pytest.mark.slow
def test_hook_in_settings_as_well_does_not_log_twice(tmp_path: Path, tracking_env: str) -> None:
    """MlflowHook() in settings.py next to the entry point's instance: one run, one model."""
    settings_py = (
        '"""Settings registering MlflowHook explicitly."""\n\n'
        "from pipelineml.hooks import MlflowHook\n\n"
        "HOOKS = (MlflowHook(),)\n"
    )
    root = make_project(
        tmp_path / "project",
        settings_py=settings_py,
        mlflow_yml={"tracking": {"run": {"name": "from-settings"}}},
    )

    run_in_session(root, ["training"])

    result = tracked(root, tracking_env)
    assert len(result.runs) == 1
    assert [m.source_run_id for m in result.models] == [result.run.info.run_id]
    assert result.run.info.run_name == "from-settings"
    # The settings' instance was registered too: it read the project's mlflow.yml.
    (from_settings,) = sys.modules[f"{package_of(root)}.settings"].HOOKS
    assert from_settings is not mlflow_hook
    assert from_settings.config is not None
    assert from_settings.config.run_name == "from-settings"


def test_entry_point_exposes_the_hook_instance() -> None:
    """The kedro.hooks entry point of pipelineml-hooks is the mlflow_hook instance."""
    from importlib.metadata import entry_points

    loaded = [ep.load() for ep in entry_points(group="kedro.hooks") if "pipelineml" in ep.value]

    assert loaded == [mlflow_hook]
    assert isinstance(mlflow_hook, MlflowHook)


# ----------------------------------------------------------------- the kedro CLI
@pytest.mark.slow
def test_kedro_cli_run_tracks_and_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_template: Path
) -> None:
    """`kedro run --pipeline training` in a subprocess: one run, tagged, with its model."""
    root = make_project(tmp_path / "project")
    uri = copy_store(store_template, tmp_path / "cli.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

    completed = run_kedro_cli(root, "run", "--pipeline", "training")

    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = tracked(root, uri)
    assert result.run.info.status == "FINISHED"
    # `python -m kedro` is what run_kedro_cli starts (Kedro names it so in sys.argv).
    assert result.run.data.tags["kedro.command"].endswith("kedro run --pipeline training")
    assert result.run.data.tags["kedro.pipeline"] == "training"
    (model,) = result.models
    mlflow.set_tracking_uri(uri)
    answer = mlflow.pyfunc.load_model(f"models:/{model.model_id}").predict(frame([3]))
    assert list(answer["score"]) == expected_scores([3])
    assert not (root / "mlflow.db").exists()
    assert pd.api.types.is_bool_dtype(answer["positive"])


@pytest.mark.slow
def test_the_run_holds_a_picture_of_the_inference_pipeline(trained: Tracked) -> None:
    """Beside the model (named clf here), the run has an SVG of what the model runs."""
    from xml.etree import ElementTree

    client = MlflowClient(trained.tracking_uri)
    names = [a.path for a in client.list_artifacts(trained.run.info.run_id)]
    assert "clf_pipeline.svg" in names
    local = mlflow.artifacts.download_artifacts(
        run_id=trained.run.info.run_id,
        artifact_path="clf_pipeline.svg",
        tracking_uri=trained.tracking_uri,
    )
    root = ElementTree.parse(local).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"instances", "predict", "scaler", "model", "predictions"} <= texts
