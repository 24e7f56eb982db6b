"""mlflow.yml: defaults, validation, and what each key does to a real Kedro run."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from mlflow.tracking import MlflowClient

from pipelineml.hooks import MlflowConfigError
from pipelineml.hooks.tracking._config import DEFAULT_CONFIG, MlflowConfig, parse_config
from tests._support.kedro_project import run_in_session
from tests._support.mlflow_store import all_logged_models, all_runs, copy_store, sqlite_uri
from tests._support.toy_model import FAST_LOG
from tests._support.toy_project import PARAMETERS, make_project

LONG = "x" * 7000  # MLflow accepts parameter values of at most 6000 characters


# ----------------------------------------------------------------- parsing
def test_no_file_gives_every_default() -> None:
    """An absent or empty mlflow.yml gives the documented defaults."""
    assert parse_config(None) == parse_config({}) == MlflowConfig()
    assert MlflowConfig() == MlflowConfig(
        tracking_uri=None,
        registry_uri=None,
        disabled_pipelines=(),
        experiment_name=None,
        run_name=None,
        nested=False,
        flatten_params=False,
        params_sep=".",
        long_params_strategy="fail",
        prepare_requirements=True,
        on_model_failure="fail",
    )


def test_default_config_is_a_valid_file() -> None:
    """DEFAULT_CONFIG, written out as mlflow.yml, parses to the defaults."""
    assert parse_config(copy.deepcopy(DEFAULT_CONFIG)) == MlflowConfig()


def test_every_key_is_read() -> None:
    """Each key of mlflow.yml sets its field."""
    raw = {
        "server": {"tracking_uri": "sqlite:///t.db", "registry_uri": "sqlite:///r.db"},
        "tracking": {
            "disable_tracking": {"pipelines": ["inference", "other"]},
            "experiment": {"name": "exp"},
            "run": {"name": "run", "nested": True},
            "params": {"flatten": True, "sep": "__", "long_params_strategy": "truncate"},
            "model": {"prepare_requirements": False, "on_failure": "warn"},
        },
    }

    assert parse_config(raw) == MlflowConfig(
        tracking_uri="sqlite:///t.db",
        registry_uri="sqlite:///r.db",
        disabled_pipelines=("inference", "other"),
        experiment_name="exp",
        run_name="run",
        nested=True,
        flatten_params=True,
        params_sep="__",
        long_params_strategy="truncate",
        prepare_requirements=False,
        on_model_failure="warn",
    )


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"sever": {}}, r"Unknown key 'sever'.*at the top level.*Did you mean 'server'\?"),
        (
            {"server": {"mlflow_tracking_uri": "x"}},
            r"Unknown key 'server.mlflow_tracking_uri'.*Did you mean 'tracking_uri'\?",
        ),
        (
            {"tracking": {"experiment": {"nmae": "x"}}},
            r"Unknown key 'tracking.experiment.nmae'.*Did you mean 'name'\?",
        ),
        (
            {"tracking": {"params": {"long_params": "tag"}}},
            r"'tracking.params.long_params'.*Did you mean 'long_params_strategy'\?",
        ),
    ],
)
def test_unknown_key_is_refused_with_a_suggestion(raw: dict[str, Any], match: str) -> None:
    """An unknown key is refused, naming it, the known keys and the closest one."""
    with pytest.raises(MlflowConfigError, match=match):
        parse_config(raw)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"server": {"tracking_uri": 5}}, r"'server.tracking_uri'.*string.*5"),
        ({"server": {"registry_uri": ["a"]}}, r"'server.registry_uri'.*\['a'\]"),
        ({"tracking": "everything"}, r"'tracking' in mlflow.yml must be a mapping"),
        ({"tracking": {"experiment": {"name": 3}}}, r"'tracking.experiment.name'.*3"),
        ({"tracking": {"run": {"name": ["a"]}}}, r"'tracking.run.name'"),
        ({"tracking": {"run": {"nested": "yes"}}}, r"'tracking.run.nested'.*true or false.*'yes'"),
        ({"tracking": {"params": {"flatten": 1}}}, r"'tracking.params.flatten'.*1"),
        ({"tracking": {"params": {"sep": 0}}}, r"'tracking.params.sep'"),
        (
            {"tracking": {"model": {"prepare_requirements": "no"}}},
            r"'tracking.model.prepare_requirements'.*true or false.*'no'",
        ),
        (
            {"tracking": {"model": {"on_failure": "ignore"}}},
            r"'tracking.model.on_failure' in mlflow.yml is 'ignore'; accepted values: fail, warn",
        ),
        (
            {"tracking": {"params": {"long_params_strategy": "drop"}}},
            r"long_params_strategy' in mlflow.yml is 'drop'; accepted values: fail, tag, truncate",
        ),
        (
            {"tracking": {"disable_tracking": {"pipelines": "training"}}},
            r"'tracking.disable_tracking.pipelines'.*list of pipeline names.*'training'",
        ),
        (
            {"tracking": {"disable_tracking": {"pipelines": ["a", 1]}}},
            r"'tracking.disable_tracking.pipelines'.*\['a', 1\]",
        ),
        pytest.param(
            {"tracking": {"disable_tracking": {"pipelines": 5}}},
            r"'tracking.disable_tracking.pipelines'.*5",
            id="pipelines-int",
        ),
        pytest.param(
            {"tracking": {"params": {"long_params_strategy": False}}},
            r"long_params_strategy.*False",
            id="strategy-false",
        ),
    ],
)
def test_wrong_types_are_refused(raw: dict[str, Any], match: str) -> None:
    """A value of the wrong type is refused, naming the key and the value."""
    with pytest.raises(MlflowConfigError, match=match):
        parse_config(raw)


def test_tracking_uri_default_is_the_project_sqlite_file(tmp_path: Path) -> None:
    """Without mlflow.yml or MLFLOW_TRACKING_URI: sqlite:///<project>/mlflow.db."""
    config = parse_config({})

    assert config.resolved_tracking_uri(tmp_path) == f"sqlite:///{tmp_path.as_posix()}/mlflow.db"
    assert config.resolved_registry_uri(tmp_path) == config.resolved_tracking_uri(tmp_path)


def test_environment_wins_over_the_default_not_over_mlflow_yml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLFLOW_TRACKING_URI beats the default; an explicit mlflow.yml value beats both."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://from-env:5000")

    assert parse_config({}).resolved_tracking_uri(tmp_path) == "http://from-env:5000"
    explicit = parse_config({"server": {"tracking_uri": "http://from-yml:5000"}})
    assert explicit.resolved_tracking_uri(tmp_path) == "http://from-yml:5000"


def test_registry_uri_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """registry_uri: mlflow.yml, then MLFLOW_REGISTRY_URI, then the tracking URI."""
    tracking = {"server": {"tracking_uri": "http://tracking"}}
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "http://registry-env")

    assert parse_config(tracking).resolved_registry_uri(tmp_path) == "http://registry-env"
    both = {"server": {"tracking_uri": "http://tracking", "registry_uri": "http://registry"}}
    assert parse_config(both).resolved_registry_uri(tmp_path) == "http://registry"
    monkeypatch.delenv("MLFLOW_REGISTRY_URI")
    assert parse_config(tracking).resolved_registry_uri(tmp_path) == "http://tracking"


# ----------------------------------------------------------------- in real Kedro runs
def _project(tmp_path: Path, store_template: Path, **kwargs: Any) -> Path:
    """The hooks test project, with a ready (copied) default store so runs start fast."""
    root = make_project(tmp_path / "project", **kwargs)
    copy_store(store_template, root / "mlflow.db")
    return root


@pytest.mark.slow
def test_environment_store_wins_over_the_project_default(
    tmp_path: Path, store_template: Path, tracking_env: str
) -> None:
    """With MLFLOW_TRACKING_URI set, the run goes there, not to <project>/mlflow.db."""
    root = _project(tmp_path, store_template)

    run_in_session(root, ["other"])

    assert len(all_runs(tracking_env)) == 1
    assert all_runs(sqlite_uri(root / "mlflow.db")) == []


@pytest.mark.slow
def test_mlflow_yml_store_wins_over_the_environment(
    tmp_path: Path, store_template: Path, tracking_env: str
) -> None:
    """An explicit server.tracking_uri beats MLFLOW_TRACKING_URI."""
    explicit = copy_store(store_template, tmp_path / "explicit.db")
    root = _project(tmp_path, store_template, mlflow_yml={"server": {"tracking_uri": explicit}})

    run_in_session(root, ["other"])

    assert len(all_runs(explicit)) == 1
    assert all_runs(tracking_env) == []


@pytest.mark.slow
def test_each_project_in_a_process_tracks_to_its_own_default_store(
    tmp_path: Path, store_template: Path
) -> None:
    """Two projects run one after the other in one process each use <project>/mlflow.db."""
    first = _project(tmp_path / "a", store_template)
    second = _project(tmp_path / "b", store_template)

    run_in_session(first, ["other"])
    run_in_session(second, ["other"])

    assert len(all_runs(sqlite_uri(first / "mlflow.db"))) == 1
    assert len(all_runs(sqlite_uri(second / "mlflow.db"))) == 1


@pytest.mark.slow
def test_registry_uri_from_mlflow_yml(
    tmp_path: Path, store_template: Path, tracking_env: str
) -> None:
    """server.registry_uri is where registered_model_name registers the model."""
    registry = copy_store(store_template, tmp_path / "registry.db")
    root = _project(
        tmp_path,
        store_template,
        mlflow_yml={"server": {"registry_uri": registry}},
        log_model_kwargs={"registered_model_name": "toy", **FAST_LOG},
    )

    run_in_session(root, ["training"])

    (run,) = all_runs(tracking_env)
    (version,) = MlflowClient(registry, registry_uri=registry).search_model_versions("name='toy'")
    assert version.run_id == run.info.run_id
    assert MlflowClient(tracking_env, registry_uri=tracking_env).search_registered_models() == []


@pytest.mark.slow
def test_experiment_and_run_names_from_mlflow_yml(
    tmp_path: Path, store_template: Path, tracking_env: str
) -> None:
    """tracking.experiment.name and tracking.run.name name the experiment and the run."""
    yml = {"tracking": {"experiment": {"name": "churn"}, "run": {"name": "nightly"}}}
    root = _project(tmp_path, store_template, mlflow_yml=yml)

    run_in_session(root, ["other"])

    (run,) = all_runs(tracking_env)
    assert MlflowClient(tracking_env).get_experiment(run.info.experiment_id).name == "churn"
    assert run.info.run_name == "nightly"


@pytest.mark.slow
def test_mlflow_yml_of_the_run_environment_applies(
    tmp_path: Path, store_template: Path, tracking_env: str
) -> None:
    """conf/<env>/mlflow.yml overrides conf/base/mlflow.yml for `--env <env>`."""
    staging = {"tracking": {"experiment": {"name": "staging-experiment"}}}
    root = _project(
        tmp_path, store_template, mlflow_yml={"tracking": {"experiment": {"name": "base"}}}
    )
    (root / "conf" / "staging").mkdir()
    (root / "conf" / "staging" / "mlflow.yml").write_text(yaml.safe_dump(staging))

    run_in_session(root, ["other"], env="staging")

    (run,) = all_runs(tracking_env)
    assert MlflowClient(tracking_env).get_experiment(run.info.experiment_id).name == (
        "staging-experiment"
    )


@pytest.mark.slow
def test_unknown_key_in_a_project_fails_the_run_naming_it(
    tmp_path: Path, store_template: Path, tracking_env: str
) -> None:
    """A project whose mlflow.yml has an unknown key does not run; the key is named."""
    root = _project(tmp_path, store_template, mlflow_yml={"tracking": {"experimnt": {}}})

    with pytest.raises(MlflowConfigError, match=r"'tracking.experimnt'.*'experiment'"):
        run_in_session(root, ["other"])

    assert all_runs(tracking_env) == []


@pytest.mark.slow
def test_disabled_pipeline_is_not_tracked(
    tmp_path: Path, store_template: Path, tracking_env: str
) -> None:
    """A pipeline listed in disable_tracking.pipelines runs without any MLflow run."""
    yml = {"tracking": {"disable_tracking": {"pipelines": ["training"]}}}
    root = _project(tmp_path, store_template, mlflow_yml=yml)

    run_in_session(root, ["training"])
    disabled_runs = all_runs(tracking_env)
    run_in_session(root, ["other"])

    assert disabled_runs == []
    assert all_logged_models(tracking_env) == []
    assert (root / "data" / "06_models" / "model.pkl").is_file()
    assert [r.data.tags["kedro.pipeline"] for r in all_runs(tracking_env)] == ["other"]


# ----------------------------------------------------------------- parameters
@pytest.mark.slow
def test_parameters_dataset_logs_every_top_level_parameter(
    tmp_path: Path, store_template: Path, tracking_env: str
) -> None:
    """A node reading 'parameters' logs each top-level parameter, dicts kept whole."""
    root = _project(tmp_path, store_template)

    run_in_session(root, ["other"])

    (run,) = all_runs(tracking_env)
    assert run.data.params == {name: str(value) for name, value in PARAMETERS.items()}


@pytest.mark.slow
def test_flattened_parameters_use_the_separator(
    tmp_path: Path, store_template: Path, tracking_env: str
) -> None:
    """tracking.params.flatten logs one parameter per leaf, joined with sep."""
    yml = {"tracking": {"params": {"flatten": True, "sep": "__"}}}
    root = _project(tmp_path, store_template, mlflow_yml=yml)

    run_in_session(root, ["other"])

    (run,) = all_runs(tracking_env)
    assert run.data.params["model_options__C"] == "1.0"
    assert run.data.params["model_options__solver__name"] == "lbfgs"
    assert run.data.params["model_options__solver__tol"] == "0.001"
    assert "model_options" not in run.data.params


@pytest.mark.slow
def test_value_at_mlflow_s_limit_is_a_parameter(
    tmp_path: Path, store_template: Path, tracking_env: str
) -> None:
    """A 6000-character value is logged as is, whatever the strategy."""
    root = _project(tmp_path, store_template)

    run_in_session(root, ["other"], extra_params={"note": "y" * 6000})

    (run,) = all_runs(tracking_env)
    assert run.data.params["note"] == "y" * 6000


@pytest.mark.slow
def test_long_parameter_fails_the_run_by_default(
    tmp_path: Path, store_template: Path, tracking_env: str
) -> None:
    """long_params_strategy 'fail' (default): the run fails, naming the parameter."""
    root = _project(tmp_path, store_template)

    with pytest.raises(MlflowConfigError, match=r"Parameter 'note' is 7000 characters.*6000"):
        run_in_session(root, ["other"], extra_params={"note": LONG})

    (run,) = all_runs(tracking_env)
    assert run.info.status == "FAILED"
    assert mlflow.active_run() is None


@pytest.mark.slow
def test_long_parameter_as_a_tag(tmp_path: Path, store_template: Path, tracking_env: str) -> None:
    """long_params_strategy 'tag': the whole value is logged as a tag instead."""
    yml = {"tracking": {"params": {"long_params_strategy": "tag"}}}
    root = _project(tmp_path, store_template, mlflow_yml=yml)

    run_in_session(root, ["other"], extra_params={"note": LONG})

    (run,) = all_runs(tracking_env)
    assert run.info.status == "FINISHED"
    assert "note" not in run.data.params
    assert run.data.tags["param.note"] == LONG


@pytest.mark.slow
def test_long_parameter_truncated(
    tmp_path: Path, store_template: Path, tracking_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    """long_params_strategy 'truncate': the value is cut to 6000 characters, with a warning."""
    yml = {"tracking": {"params": {"long_params_strategy": "truncate"}}}
    root = _project(tmp_path, store_template, mlflow_yml=yml)

    with caplog.at_level(logging.WARNING):
        run_in_session(root, ["other"], extra_params={"note": LONG})

    (run,) = all_runs(tracking_env)
    assert run.data.params["note"] == LONG[:6000]
    assert any(
        "'note'" in r.getMessage() and "truncated" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )
