"""The calls ``MlflowHook`` makes on the MLflow stores: the run, its records and its models.

Every call goes through the run's ``MlflowClient`` with the run id, never through MLflow's
thread-local active run, so whatever threads or processes the runner uses, there is one run.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import mlflow
from mlflow.entities import LoggedModelStatus, Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipelineml.core._names import is_parameter
from pipelineml.hooks._stores import export_uris, user_uri_environ
from pipelineml.hooks.errors import MlflowRunError
from pipelineml.hooks.model._log_model import log_model
from pipelineml.hooks.model._picture import pipeline_picture
from pipelineml.hooks.tracking._metrics_dataset import MlflowMetricsDataset
from pipelineml.hooks.tracking._params import mlflow_params, split_long_params
from pipelineml.hooks.tracking._problems import Problem, report
from pipelineml.hooks.tracking._recovery import close_orphaned_runs
from pipelineml.hooks.tracking._run_state import TAG_MODEL_URI, RunState, registers
from pipelineml.hooks.tracking._store_lock import opening_stores, schema_advice, sqlite_file

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from mlflow.entities import Run

    from pipelineml.core import PipelineML
    from pipelineml.hooks.tracking._conf_files import ConfFiles
    from pipelineml.hooks.tracking._config import MlflowConfig

logger = logging.getLogger(__name__)


def run_stores(config: MlflowConfig, project_path: Path, active: Run | None) -> tuple[str, str]:
    """The tracking and registry URIs of the run, which MLflow points at from now on.

    An orchestrator's active run lives where it was opened: the run logs into it (or under
    it, with ``tracking.run.nested``) on that server, whatever ``mlflow.yml`` says.
    """
    if active is not None:
        tracking_uri, registry_uri = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
        if config.tracking_uri and config.tracking_uri != tracking_uri:
            logger.warning(
                "An MLflow run is already active on %s; logging there, not to the "
                "tracking_uri %s of mlflow.yml",
                tracking_uri,
                config.tracking_uri,
            )
        return tracking_uri, registry_uri
    environ = user_uri_environ()
    tracking_uri = config.resolved_tracking_uri(project_path, environ)
    registry_uri = config.resolved_registry_uri(project_path, environ)
    export_uris(tracking_uri, registry_uri)
    return tracking_uri, registry_uri


def experiment_id(client: MlflowClient, name: str) -> str:
    """The id of experiment ``name``: restored if deleted, created if absent."""
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


def open_stores(
    tracking_uri: str, registry_uri: str, experiment: str | None
) -> tuple[MlflowClient, str]:
    """The run's client, and the id of ``experiment`` (``""`` for none).

    Opening a SQLite store for the first time creates and migrates its schema, which
    concurrent runs must not do together: that happens holding the store's lock.
    """
    with opening_stores(tracking_uri, registry_uri):
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
        found = "" if experiment is None else experiment_id(client, experiment)
        if sqlite_file(registry_uri) is not None:
            # The registry's store migrates on its first opening too; a registry that does
            # not open is reported later, and only if a model is registered.
            with contextlib.suppress(Exception):
                client.search_registered_models(max_results=1)
    return client, found


def open_run(
    client: MlflowClient,
    run_name: str,
    tags: dict[str, str],
    active: Run | None,
    reuse: bool,
    in_experiment: str,
) -> tuple[str, str, bool]:
    """The run to log into, its experiment, and whether it was opened here (and ends here).

    A new run is opened after closing the runs that dead processes left RUNNING.

    Args:
        client: The client of the tracking store.
        run_name: The name of a new run.
        tags: The new run's tags (a nested run also gets its parent's id).
        active: The run active in this process, if any.
        reuse: Log into ``active`` rather than open a run.
        in_experiment: The experiment of a new run.
    """
    if reuse and active is not None:
        return str(active.info.run_id), str(active.info.experiment_id), False
    close_orphaned_runs(client)
    if active is not None:
        tags["mlflow.parentRunId"] = active.info.run_id
    run = client.create_run(in_experiment, run_name=run_name, tags=tags)
    return str(run.info.run_id), str(run.info.experiment_id), True


def log_params(
    state: RunState,
    pipeline: Pipeline,
    catalog: CatalogProtocol[Any, Any],
    config: MlflowConfig,
    extra_tags: dict[str, str],
) -> None:
    """Record the parameters the run and its models use, and ``extra_tags``, in one call."""
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


def log_metrics(state: RunState, pipeline: Pipeline, catalog: CatalogProtocol[Any, Any]) -> None:
    """Record the metrics of every ``MlflowMetricsDataset`` the run wrote."""
    timestamp = int(time.time() * 1000)
    metrics = []
    for name in sorted(pipeline.all_outputs()):
        dataset = catalog.get(name) if name in catalog else None
        if isinstance(dataset, MlflowMetricsDataset) and dataset.exists():
            for key, value in dataset.load().items():
                metrics.append(Metric(f"{dataset.prefix}{key}", value, timestamp, 0))
    if metrics:
        state.client.log_batch(state.run_id, metrics=metrics)


def discard_incomplete_models(state: RunState) -> int:
    """Mark FAILED every model of the run not completely logged; unregister them; say how
    many were marked."""
    client = state.client
    try:
        models = client.search_logged_models(
            [state.experiment_id], filter_string=f"source_run_id = '{state.run_id}'"
        )
    except MlflowException as exc:
        logger.warning("Could not look up the models of run %s: %s", state.run_id, exc)
        return 0
    incomplete = {m.model_id for m in models if m.status != LoggedModelStatus.READY}
    for model_id in sorted(incomplete):
        client.finalize_logged_model(model_id, LoggedModelStatus.FAILED)
    if not incomplete or not any(registers(pml) for _, pml in state.to_log):
        return len(incomplete)
    try:
        versions = client.search_model_versions(f"run_id = '{state.run_id}'")
    except MlflowException as exc:
        logger.warning("Could not look up the registered versions of run %s: %s", state.run_id, exc)
        return len(incomplete)
    for version in versions:
        source_id = str(version.source or "").removeprefix("models:/")
        if version.model_id in incomplete or source_id in incomplete:
            client.delete_model_version(version.name, version.version)
    return len(incomplete)


def log_picture(state: RunState, pml: PipelineML, model_name: str) -> None:
    """The SVG of the inference pipeline, as an artifact of the run beside its model (a
    picture that cannot be drawn or stored never fails the run: it is logged at WARNING)."""
    path = "inference_pipeline.svg" if model_name == "model" else f"{model_name}_pipeline.svg"
    try:
        state.client.log_text(state.run_id, pipeline_picture(pml), path)
    except Exception as exc:
        logger.warning("The picture of the inference pipeline was not logged: %s", exc)


def interrupted_line(state: RunState, signal_name: str, failed_models: int) -> str:
    """The last line of a run ended by ``signal_name``; models only when some were marked."""
    models = f"; {failed_models} model(s) not completely logged marked FAILED"
    return (
        f"Interrupted by {signal_name}: MLflow run {state.run_id} "
        f"{state.ended('KILLED')}{models if failed_models else ''}.\n"
    )


def store_problem(kind: str, uri: str, exc: Exception, conf: ConfFiles) -> Problem:
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
        f"{first_line}).{schema_advice(uri, exc)} Set {key} in mlflow.yml or {variable} "
        "to a store that opens.",
        conf.declaring("mlflow", "server"),
    )


def store_error(
    problems: list[Problem],
    to_log: list[tuple[str, PipelineML]],
    tracking_uri: str,
    exc: Exception,
    conf: ConfFiles,
) -> MlflowRunError:
    """The error of a run whose tracking store does not open, with the other problems."""
    problems.append(store_problem("tracking", tracking_uri, exc, conf))
    return MlflowRunError(
        report(problems, [n for n, _ in to_log], "No MLflow run was opened and no node has run.")
    )


def log_model_of(
    state: RunState,
    name: str,
    pml: PipelineML,
    catalog: CatalogProtocol[Any, Any],
    saved_by_training: Iterable[str] | None = None,
) -> str | None:
    """Log one PipelineML's model into the run and print where it is; or why it failed.

    ``saved_by_training`` are the datasets this run wrote (its training nodes' outputs
    when ``None``; none for a model logged from what is on disk).

    Registration comes last, after the run's model tag: a process killed between the
    steps may leave a model that is not registered, never a registered version whose run
    does not say which model it logged.
    """
    saved = pml.training.all_outputs() if saved_by_training is None else saved_by_training
    registered = pml.log_model_kwargs.get("registered_model_name")
    try:
        info = log_model(
            pml,
            catalog,
            log_model_kwargs={"run_id": state.run_id, "registered_model_name": None},
            capture=state.requirements,
            saved_by_training=saved,
        )
        state.client.set_tag(state.run_id, TAG_MODEL_URI, info.model_uri)
        log_picture(state, pml, info.name)
        version = None
        if registered:
            # The stores are MLflow's current ones for the run (run_stores).
            version = mlflow.register_model(info.model_uri, registered).version
    except Exception as exc:
        # The message is reported once, by the caller; the trace is for --verbose needs.
        logger.debug("PipelineML '%s' could not be logged as a model", name, exc_info=True)
        return f"{type(exc).__name__}: {exc}"
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
