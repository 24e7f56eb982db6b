"""``MlflowHook``: one MLflow run per ``kedro run``, and the model of every PipelineML trained.

The hook's four Kedro hook implementations share one run lifecycle (claim the session, open
the run, refuse it, end it, end it on a signal): that state machine is this module. Each
step it takes is elsewhere: the MLflow calls (``_mlflow_run``), the run's state and tags
(``_run_state``, ``_run_tags``), which models a run logs (``_model_selection``), the
pre-flight checks (``_preflight``, ``_problems``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from kedro.framework.hooks import hook_impl

from pipelineml.core._kedro import package_name
from pipelineml.hooks.environment._capture import ModuleCapture
from pipelineml.hooks.environment._given_requirements import infers_requirements
from pipelineml.hooks.errors import MlflowRunError
from pipelineml.hooks.tracking._conf_files import ConfFiles, read_mlflow_yml
from pipelineml.hooks.tracking._config import MlflowConfig, parse_config
from pipelineml.hooks.tracking._interrupts import InterruptGuard
from pipelineml.hooks.tracking._mlflow_run import (
    discard_incomplete_models,
    interrupted_line,
    log_metrics,
    log_model_of,
    log_params,
    open_run,
    open_stores,
    run_stores,
    store_error,
    store_problem,
)
from pipelineml.hooks.tracking._model_selection import models_to_log
from pipelineml.hooks.tracking._preflight import pickled_format_notes, preflight_problems
from pipelineml.hooks.tracking._problems import Problem, report, warn_block
from pipelineml.hooks.tracking._run_binding import bind_datasets, unbind_datasets
from pipelineml.hooks.tracking._run_state import (
    MAX_TAG,
    TAG_INTERRUPTED,
    TAG_NOT_LOGGED,
    TAG_PREFLIGHT,
    RunState,
    registers,
)
from pipelineml.hooks.tracking._run_tags import run_tags

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

__all__ = ["MlflowHook", "mlflow_hook"]

logger = logging.getLogger(__name__)

# Several MlflowHook instances may be registered (the entry point's and one in
# settings.py); the first to see a session owns it and the others stay silent.
_owners: dict[str, MlflowHook] = {}
_owners_lock = threading.Lock()


class MlflowHook:
    """Tracks every ``kedro run`` in MLflow and logs the model of each PipelineML trained.

    Installing ``pipelineml-hooks`` registers the instance ``mlflow_hook`` for every Kedro
    project through the ``kedro.hooks`` entry point; also listing ``MlflowHook()`` in
    ``settings.py`` is harmless (one instance acts per run). It reads ``mlflow.yml``.

    Per run: one MLflow run (an active run is reused and left open, or parented with
    ``tracking.run.nested``), the parameters the pipeline consumes, tags naming the Kedro
    command and pipelines, the metrics of every ``MlflowMetricsDataset`` written, and, after
    success, the inference pipeline of each PipelineML whose training nodes all ran, logged
    as a ``KedroPipelineModel``. A failure ends the run as FAILED and logs no model. Every
    MLflow call names the run id (the tracking datasets, bound to it before the first node,
    log their own saves), so every runner (Dask included) gives exactly one run.
    """

    __module__ = "pipelineml.hooks"  # its public import path

    def __init__(self) -> None:
        """Create the hook; it reads its configuration when a Kedro context is created."""
        self._config: MlflowConfig | None = None
        self._project_path: Path | None = None
        self._env: str | None = None
        self._conf: ConfFiles | None = None
        self._state: RunState | None = None

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
        self._project_path = Path(context.project_path)
        self._env = context.env
        self._config = parse_config(read_mlflow_yml(context.config_loader))
        self._conf = ConfFiles.of(self._project_path, context.config_loader, context.env)

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
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol[Any, Any]
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
        capture = ModuleCapture()
        guard = InterruptGuard(self._on_interrupt)
        guard.install()
        try:
            with guard.protected():
                self._start(
                    run_params, pipeline, catalog, config, names, project_path, conf, capture, guard
                )
        except BaseException:
            state = self._current()
            if guard.interrupted is not None and state is not None:
                guard.cleanup()
            elif state is not None and not state.finished:
                self._finish(state, "FAILED")
            capture.close()
            guard.restore()
            self._release(session_id)
            raise

    def _start(
        self,
        run_params: dict[str, Any],
        pipeline: Pipeline,
        catalog: CatalogProtocol[Any, Any],
        config: MlflowConfig,
        names: list[str],
        project_path: Path,
        conf: ConfFiles,
        capture: ModuleCapture,
        guard: InterruptGuard,
    ) -> None:
        session_id = str(run_params.get("run_id"))
        active = mlflow.active_run()
        reuse = active is not None and not config.nested
        tracking_uri, registry_uri = run_stores(config, project_path, active)
        to_log, not_logged = models_to_log(pipeline, names)
        problems = preflight_problems(to_log, pipeline, catalog, conf)
        if (
            not problems
            and config.prepare_requirements
            and any(infers_requirements(pml.log_model_kwargs) for _, pml in to_log)
        ):
            # Started before the store is opened, to be ready when training ends.
            capture.start()
        tags = run_tags(run_params, names, self._env)
        try:
            client, experiment = open_stores(
                tracking_uri, registry_uri, None if reuse else self._experiment_name(config)
            )
        except Exception as exc:
            raise store_error(problems, to_log, tracking_uri, exc, conf) from None
        # A signal between creating the run and recording it would leave it RUNNING, so
        # SIGINT/SIGTERM wait for these few lines (the store answered just above).
        with guard.deferred():
            try:
                run_id, run_experiment, owns = open_run(
                    client, config.run_name or ",".join(names), tags, active, reuse, experiment
                )
            except Exception as exc:
                raise store_error(problems, to_log, tracking_uri, exc, conf) from None
            state = RunState(
                session_id=session_id,
                run_id=run_id,
                experiment_id=run_experiment,
                owns_run=owns,
                client=client,
                to_log=to_log,
                not_logged=not_logged,
                requirements=capture,
                guard=guard,
            )
            self._state = state
        if any(registers(pml) for _, pml in to_log):
            try:
                client.search_registered_models(max_results=1)
            except Exception as exc:
                problems.append(store_problem("registry", registry_uri, exc, conf))
        if problems:
            self._refuse(state, config, problems)
        state.bound = bind_datasets(pipeline, catalog, run_id, tracking_uri, registry_uri)
        notes = pickled_format_notes(state.to_log, catalog)
        if notes:
            warn_block("\n".join(notes))
        log_params(state, pipeline, catalog, config, tags if reuse else {})
        logger.info("MLflow run %s (%s)", run_id, tracking_uri)

    def _refuse(self, state: RunState, config: MlflowConfig, problems: list[Problem]) -> None:
        """Fail the run before any node runs, or, with on_failure: warn, drop the models."""
        stores = [p for p in problems if p.subject.startswith("MLflow ")]
        concerned = {p.pipeline for p in problems}
        if config.on_model_failure == "warn" and not stores and None not in concerned:
            block = report(
                problems,
                [n for n, _ in state.to_log if n in concerned],
                "Training runs anyway (tracking.model.on_failure: warn): no model is logged "
                "for these PipelineMLs.",
            )
            warn_block(block)
            for name in sorted(str(n) for n in concerned):
                state.not_logged[name] = "the pre-flight check found problems (see the warning)"
            state.to_log = [(n, p) for n, p in state.to_log if n not in concerned]
            state.client.set_tag(state.run_id, TAG_PREFLIGHT, block[:MAX_TAG])
            return
        block = report(
            problems,
            [n for n, _ in state.to_log],
            f"No node has run; MLflow run {state.run_id} {state.ended('FAILED')}.",
        )
        try:
            state.client.set_tag(state.run_id, TAG_PREFLIGHT, block[:MAX_TAG])
        finally:
            self._finish(state, "FAILED")
        raise MlflowRunError(block)

    def _experiment_name(self, config: MlflowConfig) -> str:
        return config.experiment_name or package_name() or (self._project_path or Path.cwd()).name

    # --------------------------------------------------------------- run end
    def _current(self) -> RunState | None:
        """The run in progress (read again: a signal handler may have ended it)."""
        return self._state

    def _state_for(self, run_params: dict[str, Any]) -> RunState | None:
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
        catalog: CatalogProtocol[Any, Any],
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
                discard_incomplete_models(state)
                self._finish(state, "FAILED")
            raise
        finally:
            state.guard.restore()

    def _end(self, state: RunState, pipeline: Pipeline, catalog: CatalogProtocol[Any, Any]) -> None:
        config = self._config or parse_config({})
        log_metrics(state, pipeline, catalog)
        failed: dict[str, str] = {}
        for name, pml in state.to_log:
            error = log_model_of(state, name, pml, catalog)
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
        discard_incomplete_models(state)
        lines = [
            f"The model of PipelineML '{name}' was not logged: {error}"
            for name, error in sorted(failed.items())
        ]
        if config.on_model_failure == "warn":
            lines.append(
                f"MLflow run {state.run_id} ends FINISHED without it "
                "(tracking.model.on_failure: warn)."
            )
            warn_block("\n".join(lines))
            self._finish(state, "FINISHED")
            return
        where = self._conf.declaring("mlflow", "tracking") if self._conf else "mlflow.yml"
        lines.append(
            f"MLflow run {state.run_id} {state.ended('FAILED')}. To end such runs with a warning "
            f"instead, set tracking.model.on_failure: warn in {where}."
        )
        self._finish(state, "FAILED")
        raise MlflowRunError("\n".join(lines))

    @hook_impl
    def on_pipeline_error(
        self,
        error: Exception,
        run_params: dict[str, Any],
        pipeline: Pipeline,
        catalog: CatalogProtocol[Any, Any],
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
        failed = 0
        try:
            failed = discard_incomplete_models(state)
            state.client.set_tag(state.run_id, TAG_INTERRUPTED, signal_name)
        finally:
            self._finish(state, "KILLED")
        # A raw write: the interrupted code may hold sys.stderr's buffer lock.
        with contextlib.suppress(OSError):
            os.write(2, interrupted_line(state, signal_name, failed).encode())

    def _finish(self, state: RunState, status: str) -> None:
        if state.finished:
            return
        state.finished = True
        unbind_datasets(state.bound)
        try:
            state.requirements.close()
            if state.owns_run:
                state.client.set_terminated(state.run_id, status)
        finally:
            if self._state is state:
                self._state = None
            self._release(state.session_id)


mlflow_hook = MlflowHook()
"""The instance registered for every Kedro project by the ``kedro.hooks`` entry point."""
