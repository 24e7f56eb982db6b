"""``MlflowHook``: one MLflow run per ``kedro run``, and the model of every PipelineML trained."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import mlflow
from kedro.framework.hooks import hook_impl
from mlflow.entities import LoggedModelStatus, Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipelineml.core import PipelineML
from pipelineml.core._names import is_parameter
from pipelineml.hooks._interrupts import InterruptGuard
from pipelineml.hooks._kedro import package_name
from pipelineml.hooks._params import mlflow_params, split_long_params
from pipelineml.hooks._preflight import (
    ConfFiles,
    Problem,
    format_problems,
    model_problems,
    run_input_problems,
)
from pipelineml.hooks._requirements import RequirementsHelper
from pipelineml.hooks.config import MlflowConfig, parse_config
from pipelineml.hooks.errors import MlflowRunError
from pipelineml.hooks.log_model import log_pipeline_model
from pipelineml.hooks.metrics_dataset import MlflowMetricsDataset

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.pipeline import Pipeline

__all__ = ["MlflowHook", "mlflow_hook"]

logger = logging.getLogger(__name__)

TAG_NOT_LOGGED = "pipelineml.model_not_logged"
TAG_MODEL_URI = "pipelineml.model_uri"
TAG_PREFLIGHT = "pipelineml.preflight"
TAG_INTERRUPTED = "pipelineml.interrupted"
MAX_TAG = 5000

# mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI (and the registry likewise),
# so a value found there later may be the one a previous run set, not the user's. The
# user's values are kept from before the first export.
_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_user_environ: dict[str, str | None] = {}
_exported_environ: dict[str, str | None] = {}


def _user_uri_environ() -> dict[str, str | None]:
    """The URI variables as the user set them, not as an earlier run exported them."""
    environ: dict[str, str | None] = {}
    for variable in _URI_VARIABLES:
        current = os.environ.get(variable)
        if variable in _exported_environ and current == _exported_environ[variable]:
            environ[variable] = _user_environ.get(variable)
        else:
            environ[variable] = current
    return environ


def _export_uris(tracking_uri: str, registry_uri: str) -> None:
    for variable in _URI_VARIABLES:
        current = os.environ.get(variable)
        if variable not in _exported_environ or current != _exported_environ[variable]:
            _user_environ[variable] = current
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri)
    for variable in _URI_VARIABLES:
        _exported_environ[variable] = os.environ.get(variable)


# Several MlflowHook instances may be registered (the entry point's and one in
# settings.py); the first to see a session owns it and the others stay silent.
_owners: dict[str, MlflowHook] = {}
_owners_lock = threading.Lock()


@dataclass
class _RunState:
    session_id: str
    run_id: str
    experiment_id: str
    owns_run: bool
    client: MlflowClient
    to_log: list[tuple[str, PipelineML]]
    not_logged: dict[str, str]
    requirements: RequirementsHelper
    guard: InterruptGuard
    finished: bool = False


def _runner_label(runner: Any) -> str:
    # KedroSession records str(runner): "<kedro.runner...SequentialRunner object at 0x..>".
    text = str(runner)
    match = re.fullmatch(r"<([\w.]+) object at 0x[0-9a-f]+>", text)
    return match.group(1) if match else text


def _infers_requirements(pipeline: PipelineML) -> bool:
    # MLflow infers requirements unless they are given in full (pip_requirements/conda_env).
    return not {"pip_requirements", "conda_env"} & pipeline.log_model_kwargs.keys()


def _kedro_command() -> str:
    argv = sys.argv
    program = Path(argv[0]).name if argv else ""
    if program in {"kedro", "__main__.py"} or program.startswith("kedro"):
        return " ".join(["kedro", *argv[1:]])
    return " ".join(argv)


class MlflowHook:
    """Tracks every ``kedro run`` in MLflow and logs the model of each PipelineML trained.

    Installing ``pipelineml-hooks`` registers the instance ``mlflow_hook`` for every Kedro
    project through the ``kedro.hooks`` entry point; also listing ``MlflowHook()`` in
    ``settings.py`` is harmless (only one instance acts per run). Configuration comes from
    ``conf/<env>/mlflow.yml`` (see ``pipelineml.hooks.config.DEFAULT_CONFIG``).

    Per run: one MLflow run (an active run is reused and left open, or parented with
    ``tracking.run.nested``), the parameters the pipeline consumes, tags naming the Kedro
    command and pipelines, the metrics of every ``MlflowMetricsDataset`` written, and, after
    success, the inference pipeline of each PipelineML whose training nodes all ran, logged
    as a ``KedroPipelineModel``. A failure ends the run as FAILED and logs no model. Every
    MLflow call is made from the session's process with the run id, so every runner (Dask
    included) gives exactly one run.
    """

    def __init__(self) -> None:
        """Create the hook; it reads its configuration when a Kedro context is created."""
        self._config: MlflowConfig | None = None
        self._project_path: Path | None = None
        self._env: str | None = None
        self._conf: ConfFiles | None = None
        self._state: _RunState | None = None

    @property
    def config(self) -> MlflowConfig | None:
        """The configuration read from the project's ``mlflow.yml`` (``None`` before)."""
        return self._config

    @property
    def run_id(self) -> str | None:
        """The MLflow run id of the Kedro run in progress, if this hook tracks one."""
        return self._state.run_id if self._state else None

    # --------------------------------------------------------------- context
    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Read ``mlflow.yml`` (optional) from the context's configuration."""
        from kedro.config import MissingConfigException

        self._project_path = Path(context.project_path)
        self._env = context.env
        loader = context.config_loader
        patterns = getattr(loader, "config_patterns", None)
        if patterns is not None and "mlflow" not in patterns:
            patterns["mlflow"] = ["mlflow*", "mlflow*/**", "**/mlflow*"]
        try:
            raw = loader["mlflow"]
        except (MissingConfigException, KeyError):
            raw = {}
        self._config = parse_config(raw)
        self._conf = ConfFiles.of(self._project_path, loader, context.env)

    # --------------------------------------------------------------- run start
    def _claim(self, session_id: str) -> bool:
        with _owners_lock:
            return _owners.setdefault(session_id, self) is self

    def _release(self, session_id: str) -> None:
        with _owners_lock:
            if _owners.get(session_id) is self:
                del _owners[session_id]

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        """Check what the models need, open (or reuse) the MLflow run, log parameters.

        Raises:
            MlflowRunError: When the pre-flight check finds problems (all of them in one
                message) or the tracking store cannot be opened; no node has run.
        """
        session_id = str(run_params.get("run_id"))
        if not self._claim(session_id):
            return
        self._state = None
        config = self._config or parse_config({})
        names = list(run_params.get("pipeline_names") or ["__default__"])
        disabled = sorted(set(names) & set(config.disabled_pipelines))
        if disabled:
            logger.info("MLflow tracking is disabled for pipeline(s) %s in mlflow.yml", disabled)
            self._release(session_id)
            return
        project_path = Path(run_params.get("project_path") or self._project_path or Path.cwd())
        conf = self._conf or ConfFiles(project_path, project_path / "conf")
        helper = RequirementsHelper()
        guard = InterruptGuard(self._on_interrupt)
        guard.install()
        try:
            with guard.protected():
                self._start(
                    run_params, pipeline, catalog, config, names, project_path, conf, helper, guard
                )
        except BaseException:
            state = self._current()
            if guard.interrupted is not None and state is not None:
                guard.cleanup()
            elif state is not None and not state.finished:
                self._finish(state, "FAILED")
            helper.close()
            guard.restore()
            self._release(session_id)
            raise

    def _start(
        self,
        run_params: dict[str, Any],
        pipeline: Pipeline,
        catalog: Any,
        config: MlflowConfig,
        names: list[str],
        project_path: Path,
        conf: ConfFiles,
        helper: RequirementsHelper,
        guard: InterruptGuard,
    ) -> None:
        session_id = str(run_params.get("run_id"))
        active = mlflow.active_run()
        reuse = active is not None and not config.nested
        if active is not None:
            # An orchestrator's run lives where it was opened: log into it (or under it,
            # with tracking.run.nested) on that server, whatever mlflow.yml says.
            tracking_uri = mlflow.get_tracking_uri()
            registry_uri = mlflow.get_registry_uri()
            if config.tracking_uri and config.tracking_uri != tracking_uri:
                logger.warning(
                    "An MLflow run is already active on %s; logging there, not to the "
                    "tracking_uri %s of mlflow.yml",
                    tracking_uri,
                    config.tracking_uri,
                )
        else:
            environ = _user_uri_environ()
            tracking_uri = config.resolved_tracking_uri(project_path, environ)
            registry_uri = config.resolved_registry_uri(project_path, environ)
            _export_uris(tracking_uri, registry_uri)
        to_log, not_logged = self._find_models(pipeline, names)
        problems = self._preflight(to_log, pipeline, catalog, conf)
        if (
            not problems
            and config.prepare_requirements
            and any(_infers_requirements(pml) for _, pml in to_log)
        ):
            # Started before the store is opened, to be ready when training ends.
            helper.start()
        tags = self._tags(run_params, names)
        try:
            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
            experiment_id = "" if reuse else self._experiment_id(client, config)
        except Exception as exc:
            raise self._store_error(problems, to_log, tracking_uri, exc, conf) from None
        # A signal between creating the run and recording it would leave it RUNNING, so
        # SIGINT/SIGTERM wait for these few lines (the store answered just above).
        with guard.deferred():
            try:
                run_id, experiment_id, owns = self._open_run(
                    client, config, names, tags, active, reuse, experiment_id
                )
            except Exception as exc:
                raise self._store_error(problems, to_log, tracking_uri, exc, conf) from None
            state = _RunState(
                session_id=session_id,
                run_id=run_id,
                experiment_id=experiment_id,
                owns_run=owns,
                client=client,
                to_log=to_log,
                not_logged=not_logged,
                requirements=helper,
                guard=guard,
            )
            self._state = state
        if any(_registers(pml) for _, pml in to_log):
            try:
                client.search_registered_models(max_results=1)
            except Exception as exc:
                problems.append(_store_problem("registry", registry_uri, exc, conf))
        if problems:
            self._refuse(state, config, problems)
        self._log_params(state, pipeline, catalog, config, tags if reuse else {})
        logger.info("MLflow run %s (%s)", run_id, tracking_uri)

    def _preflight(
        self,
        to_log: list[tuple[str, PipelineML]],
        pipeline: Pipeline,
        catalog: Any,
        conf: ConfFiles,
    ) -> list[Problem]:
        """Everything that would stop a requested model from being logged after training."""
        if not to_log:
            return []
        problems = run_input_problems(pipeline, catalog, conf)
        for name, pml in to_log:
            problems.extend(model_problems(name, pml, pipeline, catalog, conf))
        unique: dict[str, Problem] = {}
        for problem in problems:
            unique.setdefault(problem.subject, problem)
        return list(unique.values())

    @staticmethod
    def _report(problems: list[Problem], to_log: list[tuple[str, PipelineML]], outcome: str) -> str:
        if not to_log:
            return "\n".join([*(problem.message for problem in problems), outcome])
        return format_problems(problems, [name for name, _ in to_log], outcome)

    def _refuse(self, state: _RunState, config: MlflowConfig, problems: list[Problem]) -> None:
        """Fail the run before any node runs, or, with on_failure: warn, drop the models."""
        stores = [p for p in problems if p.subject.startswith("MLflow ")]
        concerned = {p.pipeline for p in problems}
        if config.on_model_failure == "warn" and not stores and None not in concerned:
            block = self._report(
                problems,
                [(n, p) for n, p in state.to_log if n in concerned],
                "Training runs anyway (tracking.model.on_failure: warn): no model is logged "
                "for these PipelineMLs.",
            )
            _warn(block)
            for name in sorted(str(n) for n in concerned):
                state.not_logged[name] = "the pre-flight check found problems (see the warning)"
            state.to_log = [(n, p) for n, p in state.to_log if n not in concerned]
            state.client.set_tag(state.run_id, TAG_PREFLIGHT, block[:MAX_TAG])
            return
        block = self._report(
            problems,
            state.to_log,
            f"No node has run; MLflow run {state.run_id} {_ended(state, 'FAILED')}.",
        )
        try:
            state.client.set_tag(state.run_id, TAG_PREFLIGHT, block[:MAX_TAG])
        finally:
            self._finish(state, "FAILED")
        raise MlflowRunError(block)

    def _store_error(
        self,
        problems: list[Problem],
        to_log: list[tuple[str, PipelineML]],
        tracking_uri: str,
        exc: Exception,
        conf: ConfFiles,
    ) -> MlflowRunError:
        problems.append(_store_problem("tracking", tracking_uri, exc, conf))
        return MlflowRunError(
            self._report(problems, to_log, "No MLflow run was opened and no node has run.")
        )

    def _open_run(
        self,
        client: MlflowClient,
        config: MlflowConfig,
        names: list[str],
        tags: dict[str, str],
        active: Any,
        reuse: bool,
        experiment_id: str,
    ) -> tuple[str, str, bool]:
        """The run to log into, its experiment, and whether this hook opened it (and ends it)."""
        if reuse:
            return str(active.info.run_id), str(active.info.experiment_id), False
        if active is not None:
            tags["mlflow.parentRunId"] = active.info.run_id
        run = client.create_run(
            experiment_id, run_name=config.run_name or ",".join(names), tags=tags
        )
        return str(run.info.run_id), str(run.info.experiment_id), True

    def _tags(self, run_params: dict[str, Any], names: list[str]) -> dict[str, str]:
        from kedro import __version__ as kedro_version

        project_package = package_name()
        tags = {
            "kedro.command": _kedro_command(),
            "kedro.pipeline": ",".join(names),
            "kedro.session_id": str(run_params.get("run_id")),
            "kedro.env": str(run_params.get("env") or self._env or "local (default)"),
            "kedro.runner": _runner_label(run_params.get("runner")),
            "kedro.version": kedro_version,
        }
        if project_package:
            tags["kedro.package_name"] = project_package
        for key in ("tags", "node_names", "from_nodes", "to_nodes", "namespaces"):
            if run_params.get(key):
                tags[f"kedro.{key}"] = ",".join(map(str, run_params[key]))
        return tags

    def _experiment_id(self, client: MlflowClient, config: MlflowConfig) -> str:
        name = config.experiment_name or package_name() or (self._project_path or Path.cwd()).name
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                client.restore_experiment(experiment.experiment_id)
            return str(experiment.experiment_id)
        try:
            return str(client.create_experiment(name))
        except MlflowException:
            # Created meanwhile by a concurrent run.
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return str(experiment.experiment_id)

    def _log_params(
        self,
        state: _RunState,
        pipeline: Pipeline,
        catalog: Any,
        config: MlflowConfig,
        extra_tags: dict[str, str],
    ) -> None:
        # The inference pipeline's parameters travel with the model: the run records them.
        needed = set(pipeline.inputs())
        for _, pml in state.to_log:
            needed.update(pml.inference.inputs())
        used = sorted(name for name in needed if is_parameter(name))
        values = {name: catalog.load(name) for name in used if name in catalog}
        params, long_tags = split_long_params(mlflow_params(values, config), config)
        tags = {**extra_tags, **long_tags}
        state.client.log_batch(
            state.run_id,
            params=[Param(key, value) for key, value in params.items()],
            tags=[RunTag(key, value) for key, value in tags.items()],
        )

    @staticmethod
    def _find_models(
        pipeline: Pipeline, names: list[str]
    ) -> tuple[list[tuple[str, PipelineML]], dict[str, str]]:
        """The PipelineMLs whose model this run logs, and why the others are not logged."""
        # A model is logged only when every training node of a requested PipelineML ran:
        # a filtered run (--nodes, --from-nodes...) would log artifacts it did not fit.
        from kedro.framework.project import pipelines

        to_log: list[tuple[str, PipelineML]] = []
        not_logged: dict[str, str] = {}
        ran = set(pipeline.nodes)
        requested = False
        for name in names:
            try:
                registered = pipelines[name]
            except KeyError:
                continue
            if not isinstance(registered, PipelineML):
                continue
            requested = True
            missing = sorted(node.name for node in registered.nodes if node not in ran)
            if missing:
                not_logged[name] = (
                    f"the run does not include every training node of PipelineML '{name}' "
                    f"(missing {missing}), so its model is not logged"
                )
            else:
                to_log.append((name, registered))
        if not requested and isinstance(pipeline, PipelineML):
            # A PipelineML run outside the project's registry (a session built by hand).
            to_log.append((",".join(names), pipeline))
        return to_log, not_logged

    # --------------------------------------------------------------- run end
    def _current(self) -> _RunState | None:
        """The run in progress (read again: a signal handler may have ended it)."""
        return self._state

    def _state_for(self, run_params: dict[str, Any]) -> _RunState | None:
        """The run this hook opened for the session of ``run_params``, if any."""
        state = self._state
        if state is None or str(run_params.get("run_id")) != state.session_id:
            return None
        return state

    @hook_impl
    def after_pipeline_run(
        self,
        run_params: dict[str, Any],
        run_result: dict[str, Any],
        pipeline: Pipeline,
        catalog: Any,
    ) -> None:
        """Log metrics and models, then end the run: FINISHED, or FAILED when a model
        requested was not logged.

        Raises:
            MlflowRunError: When a requested model was not logged (unless
                ``tracking.model.on_failure`` is ``warn``).
        """
        state = self._state_for(run_params)
        if state is None:
            return
        try:
            with state.guard.protected():
                self._end(state, pipeline, catalog)
        except BaseException:
            if state.guard.interrupted is not None:
                state.guard.cleanup()
            elif not state.finished:
                self._discard_incomplete_models(state)
                self._finish(state, "FAILED")
            raise
        finally:
            state.guard.restore()

    def _end(self, state: _RunState, pipeline: Pipeline, catalog: Any) -> None:
        config = self._config or parse_config({})
        self._log_metrics(state, pipeline, catalog)
        failed: dict[str, str] = {}
        state.requirements.prepare()
        with state.requirements.serving():
            for name, pml in state.to_log:
                error = self._log_model(state, name, pml, catalog)
                if error is not None:
                    failed[name] = error
        for name, reason in state.not_logged.items():
            logger.warning("No model logged for PipelineML '%s': %s", name, reason)
        not_logged = {**state.not_logged, **failed}
        if not_logged:
            message = "; ".join(f"{n}: {r}" for n, r in sorted(not_logged.items()))
            state.client.set_tag(state.run_id, TAG_NOT_LOGGED, message[:MAX_TAG])
        if not failed:
            self._finish(state, "FINISHED")
            return
        self._discard_incomplete_models(state)
        lines = [
            f"The model of PipelineML '{name}' was not logged: {error}"
            for name, error in sorted(failed.items())
        ]
        if config.on_model_failure == "warn":
            lines.append(
                f"MLflow run {state.run_id} ends FINISHED without it "
                "(tracking.model.on_failure: warn)."
            )
            _warn("\n".join(lines))
            self._finish(state, "FINISHED")
            return
        where = self._conf.declaring("mlflow", "tracking") if self._conf else "mlflow.yml"
        lines.append(
            f"MLflow run {state.run_id} {_ended(state, 'FAILED')}. To end such runs with a warning "
            f"instead, set tracking.model.on_failure: warn in {where}."
        )
        self._finish(state, "FAILED")
        raise MlflowRunError("\n".join(lines))

    @staticmethod
    def _log_model(state: _RunState, name: str, pml: PipelineML, catalog: Any) -> str | None:
        """Log one model and print where it is; the error message when it failed."""
        try:
            info = log_pipeline_model(pml, catalog, run_id=state.run_id)
        except Exception as exc:
            # The message is reported once, by the caller; the trace is for --verbose needs.
            logger.debug("PipelineML '%s' could not be logged as a model", name, exc_info=True)
            return f"{type(exc).__name__}: {exc}"
        state.client.set_tag(state.run_id, TAG_MODEL_URI, info.model_uri)
        registered = pml.log_model_kwargs.get("registered_model_name")
        version = getattr(info, "registered_model_version", None)
        line = (
            f"MLflow run {state.run_id}: PipelineML '{name}' logged as model "
            f"{info.model_uri} (runs:/{state.run_id}/{info.name})"
        )
        if registered and version is not None:
            line += f", registered as '{registered}' version {version}"
        # One plain line on stdout: visible whatever the logging configuration (Kedro's
        # default shows no INFO from other packages) and never wrapped by a log handler.
        logger.debug("%s", line)
        click.echo(line)
        return None

    @hook_impl
    def on_pipeline_error(
        self,
        error: Exception,
        run_params: dict[str, Any],
        pipeline: Pipeline,
        catalog: Any,
    ) -> None:
        """End the run as FAILED (an orchestrator's run is tagged and left open)."""
        state = self._state_for(run_params)
        if state is None:
            return
        try:
            state.client.set_tag(
                state.run_id, "kedro.error", f"{type(error).__name__}: {error}"[:MAX_TAG]
            )
        finally:
            self._finish(state, "FAILED")
            state.guard.restore()

    def _on_interrupt(self, signal_name: str) -> None:
        """End the run of an interrupted ``kedro run`` KILLED, leaving no half-logged model."""
        state = self._current()
        if state is None or state.finished:
            return
        state.requirements.close()
        try:
            self._discard_incomplete_models(state)
            state.client.set_tag(state.run_id, TAG_INTERRUPTED, signal_name)
        finally:
            self._finish(state, "KILLED")
        # A raw write: the interrupted code may hold sys.stderr's buffer lock.
        message = (
            f"Interrupted by {signal_name}: MLflow run {state.run_id} {_ended(state, 'KILLED')}; "
            "a model not completely logged is marked FAILED.\n"
        )
        with contextlib.suppress(OSError):
            os.write(2, message.encode())

    @staticmethod
    def _discard_incomplete_models(state: _RunState) -> None:
        """Mark FAILED every model of the run not completely logged; unregister them."""
        client = state.client
        try:
            models = client.search_logged_models(
                [state.experiment_id], filter_string=f"source_run_id = '{state.run_id}'"
            )
        except MlflowException as exc:
            logger.warning("Could not look up the models of run %s: %s", state.run_id, exc)
            return
        incomplete = {m.model_id for m in models if m.status != LoggedModelStatus.READY}
        for model_id in sorted(incomplete):
            client.finalize_logged_model(model_id, LoggedModelStatus.FAILED)
        if not incomplete or not any(_registers(pml) for _, pml in state.to_log):
            return
        try:
            versions = client.search_model_versions(f"run_id = '{state.run_id}'")
        except MlflowException as exc:
            logger.warning(
                "Could not look up the registered versions of run %s: %s", state.run_id, exc
            )
            return
        for version in versions:
            source_id = str(version.source or "").removeprefix("models:/")
            if version.model_id in incomplete or source_id in incomplete:
                client.delete_model_version(version.name, version.version)

    def _log_metrics(self, state: _RunState, pipeline: Pipeline, catalog: Any) -> None:
        timestamp = int(time.time() * 1000)
        metrics = []
        for name in sorted(pipeline.all_outputs()):
            dataset = catalog.get(name) if name in catalog else None
            if isinstance(dataset, MlflowMetricsDataset) and dataset.exists():
                for key, value in dataset.load().items():
                    metrics.append(Metric(f"{dataset.prefix}{key}", value, timestamp, 0))
        if metrics:
            state.client.log_batch(state.run_id, metrics=metrics)

    def _finish(self, state: _RunState, status: str) -> None:
        if state.finished:
            return
        state.finished = True
        try:
            state.requirements.close()
            if state.owns_run:
                state.client.set_terminated(state.run_id, status)
        finally:
            if self._state is state:
                self._state = None
            self._release(state.session_id)


def _ended(state: _RunState, status: str) -> str:
    # A run the caller opened (an orchestrator's) is theirs to end: it is only tagged.
    return f"is marked {status}" if state.owns_run else "(opened by the caller) is left open"


def _warn(text: str) -> None:
    """A multi-line warning on stderr, as ``kedro run`` prints its errors: never wrapped."""
    logger.debug("%s", text)
    click.echo(f"Warning: {text}", err=True)


def _registers(pml: PipelineML) -> bool:
    return bool(pml.log_model_kwargs.get("registered_model_name"))


def _store_problem(kind: str, uri: str, exc: Exception, conf: ConfFiles) -> Problem:
    """A tracking or registry store that cannot be opened, with where to change its URI."""
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    key, variable = (
        ("server.tracking_uri", "MLFLOW_TRACKING_URI")
        if kind == "tracking"
        else ("server.registry_uri", "MLFLOW_REGISTRY_URI")
    )
    return Problem(
        f"MLflow {kind} store",
        f"The MLflow {kind} store '{uri}' cannot be opened ({type(exc).__name__}: "
        f"{first_line}). Set {key} in mlflow.yml or {variable} to a store that opens.",
        conf.declaring("mlflow", "server"),
    )


mlflow_hook = MlflowHook()
"""The instance registered for every Kedro project by the ``kedro.hooks`` entry point."""
