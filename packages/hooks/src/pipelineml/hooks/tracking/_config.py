"""``mlflow.yml``: the hook's configuration, every key optional, unknown keys refused."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from pipelineml.core._names import did_you_mean
from pipelineml.hooks.errors import MlflowConfigError

__all__ = ["DEFAULT_CONFIG", "MlflowConfig", "parse_config"]

LongParamsStrategy = Literal["fail", "tag", "truncate"]
LONG_PARAMS_STRATEGIES: tuple[LongParamsStrategy, ...] = ("fail", "tag", "truncate")
OnModelFailure = Literal["fail", "warn"]
ON_MODEL_FAILURE: tuple[OnModelFailure, ...] = ("fail", "warn")

# The accepted keys with their defaults; this is also what the docs show.
DEFAULT_CONFIG: dict[str, Any] = {
    "server": {
        "tracking_uri": None,
        "registry_uri": None,
    },
    "tracking": {
        "disable_tracking": {"pipelines": []},
        "experiment": {"name": None},
        "run": {"name": None, "nested": False},
        "params": {"flatten": False, "sep": ".", "long_params_strategy": "fail"},
        "model": {"prepare_requirements": True, "on_failure": "fail"},
    },
}


@dataclass(frozen=True)
class MlflowConfig:
    """The resolved configuration of one Kedro project (see ``DEFAULT_CONFIG``).

    Attributes:
        tracking_uri: Where runs go; ``None`` means ``$MLFLOW_TRACKING_URI`` or a SQLite
            file in the project.
        registry_uri: Where models are registered; ``None`` means the tracking URI.
        disabled_pipelines: Pipeline names whose runs are not tracked.
        experiment_name: ``None`` means the project's package name.
        run_name: ``None`` means the names of the pipelines run.
        nested: With a run already active, open a child run instead of reusing it.
        flatten_params: Log dict parameters as one MLflow parameter per leaf.
        params_sep: Separator of flattened parameter names.
        long_params_strategy: What to do with a value longer than MLflow accepts: ``fail``,
            log it as a ``tag``, or ``truncate`` it.
        prepare_requirements: Start, with the run, the interpreter in which MLflow infers
            a model's requirements, so that logging the model does not wait for it.
        on_model_failure: When a requested PipelineML's model cannot be logged (found
            before training, or failing after it): ``fail`` ends the MLflow run FAILED and
            ``kedro run`` exits non-zero; ``warn`` logs one warning, trains anyway and
            ends the run FINISHED without that model.
    """

    tracking_uri: str | None = None
    registry_uri: str | None = None
    disabled_pipelines: tuple[str, ...] = ()
    experiment_name: str | None = None
    run_name: str | None = None
    nested: bool = False
    flatten_params: bool = False
    params_sep: str = "."
    long_params_strategy: LongParamsStrategy = "fail"
    prepare_requirements: bool = True
    on_model_failure: OnModelFailure = "fail"
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def resolved_tracking_uri(
        self, project_path: Path | str, environ: Mapping[str, str | None] | None = None
    ) -> str:
        """mlflow.yml first, then ``MLFLOW_TRACKING_URI``, then ``<project>/mlflow.db``.

        Args:
            project_path: The Kedro project's root.
            environ: The user's environment (``os.environ`` by default).
        """
        if self.tracking_uri:
            return self.tracking_uri
        from_env = (os.environ if environ is None else environ).get("MLFLOW_TRACKING_URI")
        if from_env:
            return from_env
        return f"sqlite:///{Path(project_path).resolve().as_posix()}/mlflow.db"

    def resolved_registry_uri(
        self, project_path: Path | str, environ: Mapping[str, str | None] | None = None
    ) -> str:
        """mlflow.yml first, then ``MLFLOW_REGISTRY_URI``, then the tracking URI."""
        from_env = (os.environ if environ is None else environ).get("MLFLOW_REGISTRY_URI")
        return self.registry_uri or from_env or self.resolved_tracking_uri(project_path, environ)


def _check_keys(section: Mapping[str, Any], defaults: Mapping[str, Any], path: str) -> None:
    for key, value in section.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in defaults:
            known = ", ".join(sorted(defaults))
            hint = did_you_mean(str(key), defaults)
            scope = f"under '{path}'" if path else "at the top level"
            raise MlflowConfigError(
                f"Unknown key '{where}' in mlflow.yml. Known keys {scope}: {known}.{hint}"
            )
        if isinstance(defaults[key], dict):
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise MlflowConfigError(
                    f"'{where}' in mlflow.yml must be a mapping of "
                    f"{sorted(defaults[key])}, got {type(value).__name__} {value!r}."
                )
            _check_keys(value, defaults[key], where)


def _get(raw: Mapping[str, Any], path: str) -> Any:
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, Mapping) or node.get(part) is None:
            return None
        node = node[part]
    return node


def _optional_str(raw: Mapping[str, Any], path: str) -> str | None:
    value = _get(raw, path)
    if value is not None and not isinstance(value, str):
        raise MlflowConfigError(
            f"'{path}' in mlflow.yml must be a string or null, got {type(value).__name__} "
            f"{value!r}."
        )
    return value or None


def _bool(raw: Mapping[str, Any], path: str, default: bool) -> bool:
    value = _get(raw, path)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise MlflowConfigError(f"'{path}' in mlflow.yml must be true or false, got {value!r}.")
    return value


_Choice = TypeVar("_Choice", bound=str)


def _choice(
    raw: Mapping[str, Any], path: str, accepted: tuple[_Choice, ...], default: _Choice
) -> _Choice:
    value = _get(raw, path)
    if value is None:
        return default
    if value not in accepted:
        raise MlflowConfigError(
            f"'{path}' in mlflow.yml is {value!r}; accepted values: {', '.join(accepted)}."
        )
    return cast("_Choice", value)


def parse_config(raw: Mapping[str, Any] | None) -> MlflowConfig:
    """Validate the content of ``mlflow.yml`` and fill in every default.

    Raises:
        MlflowConfigError: Naming the unknown key (with a suggestion) or the bad value.
    """
    raw = dict(raw or {})
    _check_keys(raw, DEFAULT_CONFIG, "")
    pipelines = _get(raw, "tracking.disable_tracking.pipelines")
    if pipelines is None:
        pipelines = []
    if not isinstance(pipelines, list | tuple) or not all(isinstance(p, str) for p in pipelines):
        raise MlflowConfigError(
            "'tracking.disable_tracking.pipelines' in mlflow.yml must be a list of pipeline "
            f"names, got {pipelines!r}."
        )
    strategy = _choice(raw, "tracking.params.long_params_strategy", LONG_PARAMS_STRATEGIES, "fail")
    on_failure = _choice(raw, "tracking.model.on_failure", ON_MODEL_FAILURE, "fail")
    sep = _optional_str(raw, "tracking.params.sep") or "."
    return MlflowConfig(
        tracking_uri=_optional_str(raw, "server.tracking_uri"),
        registry_uri=_optional_str(raw, "server.registry_uri"),
        disabled_pipelines=tuple(pipelines),
        experiment_name=_optional_str(raw, "tracking.experiment.name"),
        run_name=_optional_str(raw, "tracking.run.name"),
        nested=_bool(raw, "tracking.run.nested", False),
        flatten_params=_bool(raw, "tracking.params.flatten", False),
        params_sep=sep,
        long_params_strategy=strategy,
        prepare_requirements=_bool(raw, "tracking.model.prepare_requirements", True),
        on_model_failure=on_failure,
        raw=raw,
    )
